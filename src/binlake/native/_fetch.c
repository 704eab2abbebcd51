/* binlake.native._fetch: the full load's compiled reader.
 *
 * Rows come from the MariaDB C client library over the connection mysqlclient already holds (the one with the
 * consistent snapshot open): the caller sends the SELECT, then a Reader takes the result with mysql_use_result and
 * fetches rows (text protocol, mysql_fetch_row + mysql_fetch_lengths) straight into one set of plain buffers per
 * column, laid out as Arrow arrays of the layout contract's types (see binlake/capture/compiled_snapshot.py, which
 * wraps them with pa.Array.from_buffers without copying). The GIL is released while rows are fetched and
 * converted, so the previous batch's Parquet encoding runs on the other core meanwhile.
 *
 * Every value is parsed exactly as the pure-Python path (binlake/source/types.py) turns the same text into Arrow:
 * integers, FLOAT with strtof and DOUBLE with strtod (both correctly rounded, like Arrow's casts), DECIMAL as the
 * unscaled two's complement integer, DATE/DATETIME/TIMESTAMP with zero or invalid dates as NULL (counted), TIME as
 * signed microseconds, BIT as a big-endian unsigned integer, strings with UTF-8 validation.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <mysql.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Column kinds; binlake/capture/compiled_snapshot.py holds the same numbers. */
enum {
    K_I8 = 1, K_I16, K_I32, K_I64, K_U8, K_U16, K_U32, K_U64,
    K_F32, K_F64, K_DEC128, K_DEC256, K_DATE, K_DATETIME, K_TIME, K_BIT, K_STRING, K_BINARY, K_LAST
};

static const int kind_width[K_LAST] = {
    0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 16, 32, 4, 8, 8, 8, 0, 0,
};

/* ---- Buf: malloc'ed memory exported through the buffer protocol (pa.py_buffer wraps it, no copy) ---- */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
} BufObject;

static void Buf_dealloc(BufObject *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Buf_getbuffer(BufObject *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size, 1, flags);
}

static PyBufferProcs Buf_as_buffer = {(getbufferproc)Buf_getbuffer, NULL};

static PyTypeObject BufType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "binlake.native._fetch.Buf",
    .tp_basicsize = sizeof(BufObject),
    .tp_dealloc = (destructor)Buf_dealloc,
    .tp_as_buffer = &Buf_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Memory filled by the reader, read-only, released with the object.",
};

/* ---- growable byte buffers, used without the GIL ---- */

typedef struct {
    char *data;
    size_t len, cap;
    size_t hint; /* the capacity to start a batch with: what the previous batch needed, and an eighth more */
} Grow;

static int grow_reserve(Grow *g, size_t extra) {
    if (g->len + extra <= g->cap) return 0;
    /* Starting from the previous batch's size saves growing by doubling, each step a copy of what is there. */
    size_t cap = g->cap ? g->cap : (g->hint > 4096 ? g->hint : 4096);
    while (cap < g->len + extra) cap *= 2;
    char *data = realloc(g->data, cap);
    if (!data) return -1;
    g->data = data;
    g->cap = cap;
    return 0;
}

/* Hand the bytes over to a Buf (with the GIL); the Grow starts empty again. */
static PyObject *grow_release(Grow *g) {
    BufObject *buf = PyObject_New(BufObject, &BufType);
    if (!buf) return NULL;
    if (!g->data) g->data = malloc(1);
    buf->data = g->data;
    buf->size = (Py_ssize_t)g->len;
    g->hint = g->len + g->len / 8;
    g->data = NULL;
    g->len = g->cap = 0;
    return (PyObject *)buf;
}

/* ---- per-column state ---- */

typedef struct {
    int kind;
    int scale;
    Grow validity, data, offsets;
    int64_t null_count;
    int64_t zero_dates;
    int bad_utf8;
} Column;

/* ---- parsers: each returns 0, or -1 when the text is not what the server sends for that type ---- */

static int parse_uint(const char *p, const char *end, uint64_t *out) {
    if (p == end) return -1;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9) return -1;
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *p, const char *end, int64_t *out) {
    int negative = p < end && *p == '-';
    uint64_t v;
    if (parse_uint(p + negative, end, &v) < 0) return -1;
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1) return -1;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)v;
    }
    return 0;
}

static int parse_fixed(const char *p, int digits, int *out) {
    int v = 0;
    for (int i = 0; i < digits; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9) return -1;
        v = v * 10 + (int)d;
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* 'YYYY-MM-DD' → days; 1 when it is a zero or invalid date (NULL, counted), 0 when valid, -1 on bad text. */
static int parse_date(const char *p, size_t len, int64_t *days) {
    int y, m, d;
    if (len < 10 || p[4] != '-' || p[7] != '-') return -1;
    if (parse_fixed(p, 4, &y) < 0 || parse_fixed(p + 5, 2, &m) < 0 || parse_fixed(p + 8, 2, &d) < 0) return -1;
    if (y == 0 || m == 0 || d == 0) return 1;
    if (m > 12 || d > days_in_month(y, m)) return 1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* '.ffffff' (1 to 6 digits) → microseconds. */
static int parse_fraction(const char *p, const char *end, int64_t *micros) {
    int64_t v = 0;
    int n = 0;
    if (p == end) {
        *micros = 0;
        return 0;
    }
    if (*p != '.') return -1;
    for (p++; p < end; p++, n++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || n >= 6) return -1;
        v = v * 10 + d;
    }
    if (n == 0) return -1;
    for (; n < 6; n++) v *= 10;
    *micros = v;
    return 0;
}

static int parse_datetime(const char *p, size_t len, int64_t *micros) {
    int64_t days, fraction;
    int hh, mm, ss;
    int rc = parse_date(p, len, &days);
    if (rc != 0) return rc;
    if (len < 19 || p[10] != ' ' || p[13] != ':' || p[16] != ':') return -1;
    if (parse_fixed(p + 11, 2, &hh) < 0 || parse_fixed(p + 14, 2, &mm) < 0 || parse_fixed(p + 17, 2, &ss) < 0)
        return -1;
    if (parse_fraction(p + 19, p + len, &fraction) < 0) return -1;
    *micros = ((days * 24 + hh) * 60 + mm) * 60 * INT64_C(1000000) + ss * INT64_C(1000000) + fraction;
    return 0;
}

/* '-838:59:59.000000' → microseconds. */
static int parse_time(const char *p, size_t len, int64_t *micros) {
    const char *end = p + len;
    int negative = p < end && *p == '-';
    p += negative;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    uint64_t hours;
    int mm, ss;
    int64_t fraction;
    if (!colon || parse_uint(p, colon, &hours) < 0 || hours > 1000000) return -1;
    if (end - colon < 6 || colon[3] != ':') return -1;
    if (parse_fixed(colon + 1, 2, &mm) < 0 || parse_fixed(colon + 4, 2, &ss) < 0) return -1;
    if (parse_fraction(colon + 6, end, &fraction) < 0) return -1;
    int64_t v = (((int64_t)hours * 60 + mm) * 60 + ss) * INT64_C(1000000) + fraction;
    *micros = negative ? -v : v;
    return 0;
}

/* '-123.4500' → the unscaled two's complement integer in `limbs` 64-bit little-endian words. */
static int parse_decimal(const char *p, size_t len, int scale, int limbs, uint64_t *out) {
    const char *end = p + len;
    int negative = p < end && *p == '-';
    int fraction_digits = -1, digits = 0;
    memset(out, 0, (size_t)limbs * 8);
    for (p += negative; p < end; p++) {
        if (*p == '.') {
            if (fraction_digits >= 0) return -1;
            fraction_digits = 0;
            continue;
        }
        unsigned d = (unsigned)(*p - '0');
        if (d > 9) return -1;
        if (fraction_digits >= 0) {
            if (fraction_digits == scale) return -1;
            fraction_digits++;
        }
        digits++;
        unsigned __int128 carry = d;
        for (int i = 0; i < limbs; i++) {
            unsigned __int128 t = (unsigned __int128)out[i] * 10 + carry;
            out[i] = (uint64_t)t;
            carry = t >> 64;
        }
        if (carry) return -1;
    }
    if (digits == 0) return -1;
    for (int n = fraction_digits < 0 ? 0 : fraction_digits; n < scale; n++) {
        unsigned __int128 carry = 0;
        for (int i = 0; i < limbs; i++) {
            unsigned __int128 t = (unsigned __int128)out[i] * 10 + carry;
            out[i] = (uint64_t)t;
            carry = t >> 64;
        }
        if (carry) return -1;
    }
    if (negative) {
        int add = 1;
        for (int i = 0; i < limbs; i++) {
            out[i] = ~out[i] + (uint64_t)add;
            add = add && out[i] == 0;
        }
    }
    return 0;
}

/* Well-formed UTF-8 as Arrow validates it (no overlongs, no surrogates, nothing above U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t len) {
    const unsigned char *end = s + len;
    while (s < end) {
        if (end - s >= 8) {
            uint64_t word;
            memcpy(&word, s, 8);
            if (!(word & UINT64_C(0x8080808080808080))) {
                s += 8;
                continue;
            }
        }
        unsigned c = *s;
        if (c < 0x80) {
            s++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (end - s < 2 || (s[1] & 0xC0) != 0x80) return 0;
            s += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && s[1] < 0xA0) return 0;
            if (c == 0xED && s[1] > 0x9F) return 0;
            s += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
            if (c == 0xF0 && s[1] < 0x90) return 0;
            if (c == 0xF4 && s[1] > 0x8F) return 0;
            s += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ---- appending one value ---- */

#define APPEND_ERROR (-1)
#define APPEND_BAD_TEXT (-2)

static int append_value(Column *c, int64_t row, const char *p, unsigned long len) {
    int width = kind_width[c->kind];
    size_t byte = (size_t)(row >> 3);
    if (c->validity.len <= byte) {
        if (grow_reserve(&c->validity, 1) < 0) return APPEND_ERROR;
        c->validity.data[c->validity.len++] = 0;
    }
    int valid = p != NULL;
    if (width) {
        if (grow_reserve(&c->data, (size_t)width) < 0) return APPEND_ERROR;
        char *slot = c->data.data + c->data.len;
        c->data.len += (size_t)width;
        memset(slot, 0, (size_t)width);
        if (valid) {
            const char *end = p + len;
            int64_t i64;
            uint64_t u64;
            int rc = 0;
            switch (c->kind) {
            case K_I8: rc = parse_int(p, end, &i64); if (!rc) { int8_t v = (int8_t)i64; memcpy(slot, &v, 1); } break;
            case K_I16: rc = parse_int(p, end, &i64); if (!rc) { int16_t v = (int16_t)i64; memcpy(slot, &v, 2); } break;
            case K_I32: rc = parse_int(p, end, &i64); if (!rc) { int32_t v = (int32_t)i64; memcpy(slot, &v, 4); } break;
            case K_I64: rc = parse_int(p, end, &i64); if (!rc) memcpy(slot, &i64, 8); break;
            case K_U8: rc = parse_uint(p, end, &u64); if (!rc) { uint8_t v = (uint8_t)u64; memcpy(slot, &v, 1); } break;
            case K_U16: rc = parse_uint(p, end, &u64); if (!rc) { uint16_t v = (uint16_t)u64; memcpy(slot, &v, 2); } break;
            case K_U32: rc = parse_uint(p, end, &u64); if (!rc) { uint32_t v = (uint32_t)u64; memcpy(slot, &v, 4); } break;
            case K_U64: rc = parse_uint(p, end, &u64); if (!rc) memcpy(slot, &u64, 8); break;
            case K_F32: {
                /* The text protocol NUL-terminates every field of a fetched row. */
                char *stop;
                float v = strtof(p, &stop);
                rc = stop == end ? 0 : -1;
                memcpy(slot, &v, 4);
                break;
            }
            case K_F64: {
                char *stop;
                double v = strtod(p, &stop);
                rc = stop == end ? 0 : -1;
                memcpy(slot, &v, 8);
                break;
            }
            case K_DEC128: {
                uint64_t limbs[2];
                rc = parse_decimal(p, len, c->scale, 2, limbs);
                if (!rc) memcpy(slot, limbs, 16);
                break;
            }
            case K_DEC256: {
                uint64_t limbs[4];
                rc = parse_decimal(p, len, c->scale, 4, limbs);
                if (!rc) memcpy(slot, limbs, 32);
                break;
            }
            case K_DATE: {
                int64_t days = 0;
                rc = parse_date(p, len, &days);
                if (rc == 0) {
                    int32_t v = (int32_t)days;
                    memcpy(slot, &v, 4);
                }
                break;
            }
            case K_DATETIME: rc = parse_datetime(p, len, &i64); if (!rc) memcpy(slot, &i64, 8); break;
            case K_TIME: rc = parse_time(p, len, &i64); if (!rc) memcpy(slot, &i64, 8); break;
            case K_BIT:
                if (len > 8) { rc = -1; break; }
                u64 = 0;
                for (unsigned long k = 0; k < len; k++) u64 = (u64 << 8) | (unsigned char)p[k];
                memcpy(slot, &u64, 8);
                break;
            }
            if (rc < 0) return APPEND_BAD_TEXT;
            if (rc == 1) { /* a zero or invalid date: NULL, counted */
                c->zero_dates++;
                valid = 0;
            }
        }
    } else {
        if (c->offsets.len == 0) {
            if (grow_reserve(&c->offsets, 4) < 0) return APPEND_ERROR;
            memset(c->offsets.data, 0, 4);
            c->offsets.len = 4;
        }
        if (valid) {
            if (grow_reserve(&c->data, len) < 0) return APPEND_ERROR;
            memcpy(c->data.data + c->data.len, p, len);
            if (c->kind == K_STRING && !c->bad_utf8 && !utf8_valid((const unsigned char *)p, len)) c->bad_utf8 = 1;
            c->data.len += len;
        }
        if (grow_reserve(&c->offsets, 4) < 0) return APPEND_ERROR;
        int32_t offset = (int32_t)c->data.len;
        memcpy(c->offsets.data + c->offsets.len, &offset, 4);
        c->offsets.len += 4;
    }
    if (valid)
        c->validity.data[byte] |= (char)(1u << (row & 7));
    else
        c->null_count++;
    return 0;
}

/* ---- Reader ---- */

typedef struct {
    PyObject_HEAD
    PyObject *owner; /* the mysqlclient connection, kept alive while its result is read */
    MYSQL *mysql;
    MYSQL_RES *result;
    int ncols;
    Column *columns;
    MYSQL_ROW pending; /* a fetched row that did not fit the last batch */
    unsigned long *pending_lengths;
    int done;
} ReaderObject;

static PyObject *FetchError;

/* A result abandoned before its end (a stop request, an error downstream) would be read to its end by
 * mysql_free_result, which can be most of a large table: the connection is shut down first instead (it cannot be
 * used afterwards; the caller closes it). A result read to its end leaves the connection usable. */
static void reader_free_result(ReaderObject *self) {
    if (self->result) {
        MYSQL_RES *result = self->result;
        int abandoned = !self->done;
        self->result = NULL;
        Py_BEGIN_ALLOW_THREADS
        if (abandoned) mariadb_cancel(self->mysql);
        mysql_free_result(result);
        Py_END_ALLOW_THREADS
    }
    self->pending = NULL;
    self->done = 1;
}

static void Reader_dealloc(ReaderObject *self) {
    reader_free_result(self);
    if (self->columns) {
        for (int i = 0; i < self->ncols; i++) {
            free(self->columns[i].validity.data);
            free(self->columns[i].data.data);
            free(self->columns[i].offsets.data);
        }
        free(self->columns);
    }
    free(self->pending_lengths);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *raise_mysql_error(MYSQL *mysql) {
    PyObject *args = Py_BuildValue("(is)", mysql_errno(mysql), mysql_error(mysql));
    if (args) {
        PyErr_SetObject(FetchError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* Reader(connection, kinds, scales): takes the result of the query just sent on `connection` (mysqlclient's
 * _mysql.connection) with mysql_use_result. kinds and scales: one int per column. */
static int Reader_init(ReaderObject *self, PyObject *args, PyObject *Py_UNUSED(kwds)) {
    PyObject *connection, *kinds, *scales;
    if (!PyArg_ParseTuple(args, "OOO", &connection, &kinds, &scales)) return -1;
    PyObject *capsule = PyObject_CallMethod(connection, "_get_native_connection", NULL);
    if (!capsule) return -1;
    /* mysqlclient embeds its MYSQL struct in the connection object; the capsule points at it. */
    MYSQL *mysql = PyCapsule_GetPointer(capsule, "_mysql.connection.native_connection");
    Py_DECREF(capsule);
    if (!mysql) return -1;
    self->mysql = mysql;
    Py_INCREF(connection);
    self->owner = connection;

    Py_ssize_t n = PySequence_Length(kinds);
    if (n < 0 || n != PySequence_Length(scales)) {
        PyErr_SetString(PyExc_ValueError, "kinds and scales differ in length");
        return -1;
    }
    self->ncols = (int)n;
    self->columns = calloc((size_t)(n ? n : 1), sizeof(Column));
    self->pending_lengths = calloc((size_t)(n ? n : 1), sizeof(unsigned long));
    if (!self->columns || !self->pending_lengths) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_GetItem(kinds, i), *s = PySequence_GetItem(scales, i);
        long kind = k ? PyLong_AsLong(k) : -1, scale = s ? PyLong_AsLong(s) : -1;
        Py_XDECREF(k);
        Py_XDECREF(s);
        if (PyErr_Occurred()) return -1;
        if (kind <= 0 || kind >= K_LAST || scale < 0 || scale > 76) {
            PyErr_Format(PyExc_ValueError, "column %zd: unknown kind %ld or scale %ld", i, kind, scale);
            return -1;
        }
        self->columns[i].kind = (int)kind;
        self->columns[i].scale = (int)scale;
    }

    MYSQL_RES *result;
    Py_BEGIN_ALLOW_THREADS
    result = mysql_use_result(self->mysql);
    Py_END_ALLOW_THREADS
    if (!result) {
        if (mysql_errno(self->mysql)) {
            raise_mysql_error(self->mysql);
        } else {
            PyErr_SetString(PyExc_ValueError, "the last statement returned no result set");
        }
        return -1;
    }
    if ((int)mysql_num_fields(result) != self->ncols) {
        mysql_free_result(result);
        PyErr_Format(PyExc_ValueError, "the result has %u columns, %d kinds given", mysql_num_fields(result),
                     self->ncols);
        return -1;
    }
    self->result = result;
    return 0;
}

/* fetch(max_rows, max_bytes) → None at the end, else (rows, [(validity, data, offsets, null_count, zero_dates,
 * bad_utf8) per column]); validity is None without NULLs, offsets None for fixed-width columns. A batch ends at
 * max_rows rows, or before the row that would take its values past max_bytes (at least one row per batch). */
static PyObject *Reader_fetch(ReaderObject *self, PyObject *args) {
    Py_ssize_t max_rows, max_bytes;
    if (!PyArg_ParseTuple(args, "nn", &max_rows, &max_bytes)) return NULL;
    if (self->done) Py_RETURN_NONE;
    if (!self->result) {
        PyErr_SetString(PyExc_ValueError, "the reader is closed");
        return NULL;
    }
    int64_t rows = 0;
    size_t bytes = 0;
    int failure = 0; /* 1: MySQL error, 2: out of memory, 3: bad text, 4: a value past 2 GiB */
    int bad_column = -1;
    int ncols = self->ncols;
    for (int i = 0; i < ncols; i++) {
        Column *c = &self->columns[i];
        c->null_count = c->zero_dates = 0;
        c->bad_utf8 = 0;
    }

    Py_BEGIN_ALLOW_THREADS
    while (rows < max_rows) {
        MYSQL_ROW row;
        unsigned long *lengths;
        if (self->pending) {
            row = self->pending;
            lengths = self->pending_lengths;
            self->pending = NULL;
        } else {
            row = mysql_fetch_row(self->result);
            if (!row) {
                if (mysql_errno(self->mysql)) failure = 1;
                else self->done = 1;
                break;
            }
            lengths = mysql_fetch_lengths(self->result);
        }
        size_t row_bytes = 0;
        int too_long = 0;
        for (int i = 0; i < ncols; i++) {
            row_bytes += lengths[i];
            Column *c = &self->columns[i];
            if (!kind_width[c->kind] && c->data.len + lengths[i] > (size_t)INT32_MAX) too_long = 1;
        }
        if (rows > 0 && (bytes + row_bytes > (size_t)max_bytes || too_long)) {
            memcpy(self->pending_lengths, lengths, sizeof(unsigned long) * (size_t)ncols);
            self->pending = row;
            break;
        }
        if (too_long) {
            failure = 4;
            break;
        }
        for (int i = 0; i < ncols; i++) {
            int rc = append_value(&self->columns[i], rows, row[i], lengths[i]);
            if (rc < 0) {
                failure = rc == APPEND_ERROR ? 2 : 3;
                bad_column = i;
                break;
            }
        }
        if (failure) break;
        bytes += row_bytes;
        rows++;
    }
    Py_END_ALLOW_THREADS

    if (failure) {
        for (int i = 0; i < ncols; i++) {
            Column *c = &self->columns[i];
            c->validity.len = c->data.len = c->offsets.len = 0;
        }
        if (failure != 1) reader_free_result(self); /* mid-result: shut down rather than read the rest */
        self->done = 1;
        if (failure == 1) return raise_mysql_error(self->mysql);
        if (failure == 2) return PyErr_NoMemory();
        if (failure == 3)
            return PyErr_Format(PyExc_ValueError, "column %d: a value the server should not send for its type",
                                bad_column + 1);
        return PyErr_Format(PyExc_ValueError, "a single value is longer than 2 GiB, more than an Arrow array holds");
    }
    if (rows == 0) Py_RETURN_NONE;

    PyObject *columns = PyList_New(ncols);
    if (!columns) return NULL;
    for (int i = 0; i < ncols; i++) {
        Column *c = &self->columns[i];
        PyObject *validity, *data, *offsets;
        if (c->null_count) {
            validity = grow_release(&c->validity);
        } else {
            c->validity.len = 0;
            validity = Py_NewRef(Py_None);
        }
        data = grow_release(&c->data);
        if (kind_width[c->kind]) {
            offsets = Py_NewRef(Py_None);
        } else {
            offsets = grow_release(&c->offsets);
        }
        if (!validity || !data || !offsets) {
            Py_XDECREF(validity);
            Py_XDECREF(data);
            Py_XDECREF(offsets);
            Py_DECREF(columns);
            return NULL;
        }
        PyObject *item = Py_BuildValue("(NNNLLi)", validity, data, offsets, (long long)c->null_count,
                                       (long long)c->zero_dates, c->bad_utf8);
        if (!item) {
            Py_DECREF(columns);
            return NULL;
        }
        PyList_SET_ITEM(columns, i, item);
    }
    return Py_BuildValue("(LN)", (long long)rows, columns);
}

static PyObject *Reader_close(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    reader_free_result(self);
    Py_RETURN_NONE;
}

static PyMethodDef Reader_methods[] = {
    {"fetch", (PyCFunction)Reader_fetch, METH_VARARGS, "fetch(max_rows, max_bytes) -> (rows, columns) or None"},
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Drop the rest of the result (the connection is free again)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "binlake.native._fetch.Reader",
    .tp_basicsize = sizeof(ReaderObject),
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(connection, kinds, scales): the result of the query just sent, read into column buffers.",
    .tp_methods = Reader_methods,
    .tp_init = (initproc)Reader_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef fetch_module = {
    PyModuleDef_HEAD_INIT, "_fetch", "The full load's compiled reader (see _fetch.c).", -1, NULL,
};

PyMODINIT_FUNC PyInit__fetch(void) {
    if (PyType_Ready(&BufType) < 0 || PyType_Ready(&ReaderType) < 0) return NULL;
    PyObject *module = PyModule_Create(&fetch_module);
    if (!module) return NULL;
    FetchError = PyErr_NewException("binlake.native._fetch.Error", NULL, NULL);
    if (!FetchError || PyModule_AddObjectRef(module, "Error", FetchError) < 0 ||
        PyModule_AddObjectRef(module, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
