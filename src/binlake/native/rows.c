/* binlake.native._rows: MariaDB row images decoded straight into Arrow column buffers.
 *
 * One Builder per table layout (capture/binlog/builder.py makes it from RowDecoder.native, the same column
 * walk the generated Python decoder does). append() decodes every image of a rows event into growable
 * buffers per column (validity bitmap; fixed-width values, or int32 offsets + bytes) plus the Op and commit
 * time of each row, applying the CDC rules of changes.TableChanges (an update that keeps its primary key is one
 * U row of its after image; one that changes it, or a table without a key, is D of the before image and I of
 * the after image). finish() hands the buffers over as bytes for pa.Array.from_buffers: no Python object per
 * value. The values are exactly those of rows.py's decoder and build_arrays (the oracle:
 * tests/test_native_rows.py); layouts with a column this file does not handle stay on the Python decoder.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum {
    OP_FIXED = 1, /* a = width: little-endian integer copied as is (TINYINT..BIGINT) */
    OP_FLOAT,     /* 4 bytes, compared as a value */
    OP_DOUBLE,    /* 8 bytes, compared as a value */
    OP_INT24,     /* a = signed → int32 / uint32 */
    OP_DECIMAL,   /* a = precision (<= 38), b = scale → 16-byte unscaled integer */
    OP_YEAR,      /* → int16 */
    OP_DATE,      /* → int32 days; zero/invalid → NULL, counted */
    OP_DATETIME2, /* a = fsp → int64 microseconds since the epoch; invalid → NULL, counted */
    OP_TIMESTAMP2, /* a = fsp → int64 microseconds; zero → NULL, counted */
    OP_TIME2,     /* a = fsp → int64 signed microseconds */
    OP_BIT,       /* a = bytes → uint64 */
    OP_ENUM,      /* a = bytes; members → text */
    OP_SET,       /* a = bytes; members joined by ',' → text */
    OP_VAR,       /* a = length prefix bytes (1..4), b = pad with 0x00 to this length (BINARY(n)) or 0 */
};

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(Buf *b) {
    PyMem_Free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

typedef struct {
    int op, a, b, width; /* width: bytes per value in data, 0 for offsets + bytes */
    int store;           /* kept by the route, or part of the primary key */
    Py_ssize_t nmembers;
    char **members;
    Py_ssize_t *member_len;
    Buf validity, data, offsets;
    Py_ssize_t nulls;
} Col;

typedef struct {
    PyObject_HEAD int ncols;
    Col *cols;
    int nkey;
    int *key;
    Buf ops, times;
    Py_ssize_t rows;
    long long zero_dates;
} Builder;

/* -- helpers ------------------------------------------------------------------------------------------ */
static inline uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static inline uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) { /* H. Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int valid_date(int64_t y, int64_t m, int64_t d) { /* Python's date(): year 1..9999 */
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static int64_t fraction(const uint8_t *p, int fsp) { /* rows.py temporal._fraction */
    if (fsp <= 0) return 0;
    int64_t v = (int64_t)be(p, (fsp + 1) / 2);
    if (fsp <= 2) return v * 10000;
    if (fsp <= 4) return v * 100;
    return v;
}

static inline int bit(const Buf *b, Py_ssize_t row) { return (((const uint8_t *)b->p)[row >> 3] >> (row & 7)) & 1; }

/* -- one value ---------------------------------------------------------------------------------------- */
static int put_valid(Col *c, Py_ssize_t row, int valid) {
    if (!c->width && c->offsets.len == 0) { /* Arrow offsets start with a 0 */
        if (buf_reserve(&c->offsets, 4) < 0) return -1;
        memset(c->offsets.p, 0, 4);
        c->offsets.len = 4;
    }
    if ((row & 7) == 0) {
        if (buf_reserve(&c->validity, 1) < 0) return -1;
        c->validity.p[c->validity.len++] = 0;
    }
    if (valid)
        ((uint8_t *)c->validity.p)[row >> 3] |= (uint8_t)(1 << (row & 7));
    else {
        ((uint8_t *)c->validity.p)[row >> 3] &= (uint8_t) ~(1 << (row & 7));
        c->nulls++;
    }
    return 0;
}

static int put_null(Col *c, Py_ssize_t row) {
    if (put_valid(c, row, 0) < 0) return -1;
    if (c->width) {
        if (buf_reserve(&c->data, c->width) < 0) return -1;
        memset(c->data.p + c->data.len, 0, c->width);
        c->data.len += c->width;
    } else {
        if (buf_reserve(&c->offsets, 4) < 0) return -1;
        int32_t end = (int32_t)c->data.len;
        memcpy(c->offsets.p + c->offsets.len, &end, 4);
        c->offsets.len += 4;
    }
    return 0;
}

static int put_fixed(Col *c, Py_ssize_t row, const void *value) {
    if (put_valid(c, row, 1) < 0 || buf_reserve(&c->data, c->width) < 0) return -1;
    memcpy(c->data.p + c->data.len, value, c->width);
    c->data.len += c->width;
    return 0;
}

static int end_var(Col *c) { /* the value's bytes are in data: close it with its end offset */
    if (c->data.len > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more than 2 GB of text in one column of one batch");
        return -1;
    }
    if (buf_reserve(&c->offsets, 4) < 0) return -1;
    int32_t end = (int32_t)c->data.len;
    memcpy(c->offsets.p + c->offsets.len, &end, 4);
    c->offsets.len += 4;
    return 0;
}

static int put_bytes(Col *c, Py_ssize_t row, const uint8_t *p, Py_ssize_t n, Py_ssize_t pad) {
    Py_ssize_t total = n < pad ? pad : n;
    if (put_valid(c, row, 1) < 0 || buf_reserve(&c->data, total) < 0) return -1;
    memcpy(c->data.p + c->data.len, p, n);
    if (total > n) memset(c->data.p + c->data.len + n, 0, total - n);
    c->data.len += total;
    return end_var(c);
}

#define NEED(n)                                                                                               \
    do {                                                                                                      \
        if (p + (n) > end) goto overrun;                                                                      \
    } while (0)

/* Decodes one image at *pos into row ``row`` of every stored column. */
static int decode_image(Builder *self, const uint8_t *b, Py_ssize_t *pos, Py_ssize_t end, Py_ssize_t row) {
    Py_ssize_t p = *pos;
    int nullbytes = (self->ncols + 7) / 8;
    NEED(nullbytes);
    const uint8_t *nulls = b + p;
    p += nullbytes;
    for (int i = 0; i < self->ncols; i++) {
        Col *c = &self->cols[i];
        if ((nulls[i >> 3] >> (i & 7)) & 1) {
            if (c->store && put_null(c, row) < 0) return -1;
            continue;
        }
        switch (c->op) {
        case OP_FIXED:
        case OP_FLOAT:
        case OP_DOUBLE:
            NEED(c->a);
            if (c->store && put_fixed(c, row, b + p) < 0) return -1;
            p += c->a;
            break;
        case OP_INT24: {
            NEED(3);
            int32_t v = (int32_t)le(b + p, 3);
            if (c->a && (v & 0x800000)) v -= 0x1000000;
            p += 3;
            if (c->store && put_fixed(c, row, &v) < 0) return -1;
            break;
        }
        case OP_DECIMAL: {
            static const int dig2bytes[] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
            static const int64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                            1000000000};
            int integral = c->a - c->b, lead = integral % 9, trail = c->b % 9;
            int size = (integral / 9) * 4 + dig2bytes[lead] + (c->b / 9) * 4 + dig2bytes[trail];
            NEED(size);
            uint8_t raw[32];
            memcpy(raw, b + p, size);
            p += size;
            int negative = !(raw[0] & 0x80);
            raw[0] ^= 0x80;
            if (negative)
                for (int k = 0; k < size; k++) raw[k] = (uint8_t)~raw[k];
            __int128 value = 0;
            int at = 0;
            if (lead) {
                value = (__int128)be(raw, dig2bytes[lead]);
                at += dig2bytes[lead];
            }
            for (int g = 0; g < integral / 9 + c->b / 9; g++, at += 4) value = value * 1000000000 + be(raw + at, 4);
            if (trail) value = value * pow10[trail] + (__int128)be(raw + at, dig2bytes[trail]);
            if (negative) value = -value;
            if (c->store && put_fixed(c, row, &value) < 0) return -1;
            break;
        }
        case OP_YEAR: {
            NEED(1);
            int16_t v = b[p] ? (int16_t)(b[p] + 1900) : 0;
            p += 1;
            if (c->store && put_fixed(c, row, &v) < 0) return -1;
            break;
        }
        case OP_DATE: {
            NEED(3);
            uint32_t v = (uint32_t)le(b + p, 3);
            p += 3;
            int64_t d = v & 31, m = (v >> 5) & 15, y = v >> 9;
            if (!valid_date(y, m, d)) {
                self->zero_dates++;
                if (c->store && put_null(c, row) < 0) return -1;
                break;
            }
            int32_t days = (int32_t)days_from_civil(y, m, d);
            if (c->store && put_fixed(c, row, &days) < 0) return -1;
            break;
        }
        case OP_DATETIME2: {
            int size = 5 + (c->a + 1) / 2;
            NEED(size);
            int64_t intpart = (int64_t)be(b + p, 5) - 0x8000000000LL;
            int64_t frac = fraction(b + p + 5, c->a);
            p += size;
            int64_t ymd = intpart >> 17, hms = intpart & 0x1FFFF;
            int64_t ym = ymd >> 5, d = ymd & 31;
            /* Python's divmod floors: the same for the non-negative values a valid date has */
            int64_t y = ym / 13, m = ym % 13;
            int64_t hh = hms >> 12, mi = (hms >> 6) & 63, ss = hms & 63;
            if (intpart < 0 || !valid_date(y, m, d) || hh > 23 || mi > 59 || ss > 59 || frac > 999999) {
                self->zero_dates++;
                if (c->store && put_null(c, row) < 0) return -1;
                break;
            }
            int64_t micros = ((days_from_civil(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss) * 1000000) + frac;
            if (c->store && put_fixed(c, row, &micros) < 0) return -1;
            break;
        }
        case OP_TIMESTAMP2: {
            int size = 4 + (c->a + 1) / 2;
            NEED(size);
            int64_t seconds = (int64_t)be(b + p, 4), frac = fraction(b + p + 4, c->a);
            p += size;
            if (seconds == 0 && frac == 0) {
                self->zero_dates++;
                if (c->store && put_null(c, row) < 0) return -1;
                break;
            }
            int64_t micros = seconds * 1000000 + frac;
            if (c->store && put_fixed(c, row, &micros) < 0) return -1;
            break;
        }
        case OP_TIME2: {
            int fsp = c->a, size = 3 + (fsp + 1) / 2;
            NEED(size);
            const uint8_t *r = b + p;
            p += size;
            int64_t packed;
            if (fsp <= 0) {
                packed = ((int64_t)be(r, 3) - 0x800000) * 16777216;
            } else if (fsp <= 2) {
                int64_t intpart = (int64_t)be(r, 3) - 0x800000, frac = r[3];
                if (intpart < 0 && frac) {
                    intpart += 1;
                    frac -= 0x100;
                }
                packed = intpart * 16777216 + frac * 10000;
            } else if (fsp <= 4) {
                int64_t intpart = (int64_t)be(r, 3) - 0x800000, frac = (int64_t)be(r + 3, 2);
                if (intpart < 0 && frac) {
                    intpart += 1;
                    frac -= 0x10000;
                }
                packed = intpart * 16777216 + frac * 100;
            } else {
                packed = (int64_t)be(r, 6) - 0x800000000000LL;
            }
            int negative = packed < 0;
            if (negative) packed = -packed;
            int64_t hms = packed >> 24, micros = packed & 0xFFFFFF;
            int64_t total = (((hms >> 12) & 0x3FF) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63)) * 1000000 + micros;
            if (negative) total = -total;
            if (c->store && put_fixed(c, row, &total) < 0) return -1;
            break;
        }
        case OP_BIT: {
            NEED(c->a);
            uint64_t v = be(b + p, c->a);
            p += c->a;
            if (c->store && put_fixed(c, row, &v) < 0) return -1;
            break;
        }
        case OP_ENUM: {
            NEED(c->a);
            uint64_t index = le(b + p, c->a);
            p += c->a;
            if (index > (uint64_t)c->nmembers) {
                PyErr_Format(PyExc_ValueError, "ENUM value %llu of column %d is not one of its %zd members",
                             (unsigned long long)index, i, c->nmembers);
                return -1;
            }
            if (c->store) {
                if (index == 0) {
                    if (put_bytes(c, row, (const uint8_t *)"", 0, 0) < 0) return -1;
                } else if (put_bytes(c, row, (const uint8_t *)c->members[index - 1], c->member_len[index - 1], 0) <
                           0)
                    return -1;
            }
            break;
        }
        case OP_SET: {
            NEED(c->a);
            uint64_t bits = le(b + p, c->a);
            p += c->a;
            if (!c->store) break;
            if (put_valid(c, row, 1) < 0) return -1;
            int first = 1;
            for (Py_ssize_t k = 0; k < c->nmembers && k < 64; k++) {
                if (!((bits >> k) & 1)) continue;
                if (buf_reserve(&c->data, c->member_len[k] + 1) < 0) return -1;
                if (!first) c->data.p[c->data.len++] = ',';
                memcpy(c->data.p + c->data.len, c->members[k], c->member_len[k]);
                c->data.len += c->member_len[k];
                first = 0;
            }
            if (end_var(c) < 0) return -1;
            break;
        }
        case OP_VAR: {
            NEED(c->a);
            Py_ssize_t n = (Py_ssize_t)le(b + p, c->a);
            p += c->a;
            NEED(n);
            if (c->store && put_bytes(c, row, b + p, n, c->b) < 0) return -1;
            p += n;
            break;
        }
        default:
            PyErr_Format(PyExc_ValueError, "unknown column operation %d", c->op);
            return -1;
        }
    }
    *pos = p;
    return 0;
overrun:
    PyErr_Format(PyExc_ValueError, "decoded %zd of %zd bytes", p, end);
    return -1;
}

/* -- rows as a whole ---------------------------------------------------------------------------------- */
static int value_equal(Col *c, Py_ssize_t r1, Py_ssize_t r2) {
    int v1 = bit(&c->validity, r1), v2 = bit(&c->validity, r2);
    if (!v1 || !v2) return v1 == v2;
    if (c->op == OP_FLOAT) {
        float a, b;
        memcpy(&a, c->data.p + r1 * 4, 4);
        memcpy(&b, c->data.p + r2 * 4, 4);
        return a == b;
    }
    if (c->op == OP_DOUBLE) {
        double a, b;
        memcpy(&a, c->data.p + r1 * 8, 8);
        memcpy(&b, c->data.p + r2 * 8, 8);
        return a == b;
    }
    if (c->width) return memcmp(c->data.p + r1 * c->width, c->data.p + r2 * c->width, c->width) == 0;
    int32_t *off = (int32_t *)c->offsets.p;
    int32_t n1 = off[r1 + 1] - off[r1], n2 = off[r2 + 1] - off[r2];
    return n1 == n2 && memcmp(c->data.p + off[r1], c->data.p + off[r2], n1) == 0;
}

/* Cuts every column back to ``rows`` rows; ``recount``: count the NULLs again (after a half-written row). */
static void cut_rows(Builder *self, Py_ssize_t rows, int recount) {
    for (int i = 0; i < self->ncols; i++) {
        Col *c = &self->cols[i];
        if (!c->store) continue;
        if (recount) {
            c->nulls = 0;
            for (Py_ssize_t r = 0; r < rows; r++) c->nulls += !bit(&c->validity, r);
        } else {
            for (Py_ssize_t r = rows; r < self->rows; r++) c->nulls -= !bit(&c->validity, r);
        }
        c->validity.len = (rows + 7) / 8;
        if (c->width)
            c->data.len = rows * c->width;
        else if (c->offsets.len) {
            c->data.len = ((int32_t *)c->offsets.p)[rows];
            c->offsets.len = (rows + 1) * 4;
        }
    }
    self->rows = rows;
}

static void truncate_rows(Builder *self, Py_ssize_t rows) { cut_rows(self, rows, 0); }

/* Replaces row ``r`` by row ``r + 1`` (the last row). */
static void drop_row(Builder *self, Py_ssize_t r) {
    for (int i = 0; i < self->ncols; i++) {
        Col *c = &self->cols[i];
        if (!c->store) continue;
        int valid = bit(&c->validity, r + 1);
        if (!bit(&c->validity, r)) c->nulls--;
        uint8_t *v = (uint8_t *)c->validity.p;
        if (valid)
            v[r >> 3] |= (uint8_t)(1 << (r & 7));
        else
            v[r >> 3] &= (uint8_t) ~(1 << (r & 7));
        c->validity.len = (r + 1 + 7) / 8;
        if (c->width) {
            memmove(c->data.p + r * c->width, c->data.p + (r + 1) * c->width, c->width);
            c->data.len = (r + 1) * c->width;
        } else {
            int32_t *off = (int32_t *)c->offsets.p;
            int32_t n = off[r + 2] - off[r + 1];
            memmove(c->data.p + off[r], c->data.p + off[r + 1], n);
            off[r + 1] = off[r] + n;
            c->data.len = off[r + 1];
            c->offsets.len = (r + 2) * 4;
        }
    }
    self->rows = r + 1;
}

static int add_row_meta(Builder *self, char op, int64_t micros) {
    if (buf_reserve(&self->ops, 1) < 0 || buf_reserve(&self->times, 8) < 0) return -1;
    self->ops.p[self->ops.len++] = op;
    memcpy(self->times.p + self->times.len, &micros, 8);
    self->times.len += 8;
    return 0;
}

static void set_last_ops(Builder *self, Py_ssize_t keep) { /* rows and their Op/time entries agree */
    self->ops.len = keep;
    self->times.len = keep * 8;
}

static int row_image(Builder *self, const uint8_t *b, Py_ssize_t *pos, Py_ssize_t end) {
    if (decode_image(self, b, pos, end, self->rows) < 0) {
        cut_rows(self, self->rows, 1); /* drop the half-written row */
        return -1;
    }
    self->rows++;
    return 0;
}

/* append(data, kind, micros, inserts_only, no_deletes) -> images decoded */
static PyObject *Builder_append(Builder *self, PyObject *args) {
    Py_buffer view;
    int kind, inserts_only, no_deletes;
    long long micros;
    if (!PyArg_ParseTuple(args, "y*CLpp", &view, &kind, &micros, &inserts_only, &no_deletes)) return NULL;
    const uint8_t *b = view.buf;
    Py_ssize_t end = view.len, pos = 0, images = 0, start_rows = self->rows;
    while (pos < end) {
        Py_ssize_t first = self->rows;
        if (row_image(self, b, &pos, end) < 0) goto fail;
        images++;
        if (kind == 'I') {
            if (add_row_meta(self, 'I', micros) < 0) goto fail;
        } else if (kind == 'D') {
            if (inserts_only || no_deletes)
                truncate_rows(self, first);
            else if (add_row_meta(self, 'D', micros) < 0)
                goto fail;
        } else {
            if (pos >= end) {
                PyErr_SetString(PyExc_ValueError, "an update without its after image");
                goto fail;
            }
            if (row_image(self, b, &pos, end) < 0) goto fail;
            images++;
            if (inserts_only) {
                truncate_rows(self, first);
                continue;
            }
            int same = self->nkey > 0;
            for (int k = 0; k < self->nkey && same; k++) same = value_equal(&self->cols[self->key[k]], first, first + 1);
            if (same) {
                drop_row(self, first);
                if (add_row_meta(self, 'U', micros) < 0) goto fail;
            } else if (no_deletes) {
                drop_row(self, first);
                if (add_row_meta(self, 'I', micros) < 0) goto fail;
            } else if (add_row_meta(self, 'D', micros) < 0 || add_row_meta(self, 'I', micros) < 0)
                goto fail;
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(images);
fail:
    PyBuffer_Release(&view);
    {
        /* leave the builder as it was before this event; keep the error, say where it happened */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        cut_rows(self, start_rows, 1);
        set_last_ops(self, start_rows);
        PyErr_Restore(type, value, tb);
    }
    return NULL;
}

static PyObject *take(Buf *b) {
    PyObject *out = PyBytes_FromStringAndSize(b->p ? b->p : "", b->len);
    buf_free(b);
    return out;
}

/* finish() -> (rows, ops, times, [(validity or None, nulls, data, offsets or None) or None per column]) */
static PyObject *Builder_finish(Builder *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *columns = PyList_New(self->ncols);
    if (!columns) return NULL;
    for (int i = 0; i < self->ncols; i++) {
        Col *c = &self->cols[i];
        PyObject *item;
        if (!c->store) {
            item = Py_NewRef(Py_None);
        } else {
            if (!c->width && c->offsets.len == 0) { /* no rows: one offset */
                if (end_var(c) < 0) {
                    Py_DECREF(columns);
                    return NULL;
                }
            }
            PyObject *validity = c->nulls ? take(&c->validity) : Py_NewRef(Py_None);
            if (!c->nulls) buf_free(&c->validity);
            PyObject *offsets = c->width ? Py_NewRef(Py_None) : take(&c->offsets);
            item = Py_BuildValue("(NnNN)", validity, c->nulls, take(&c->data), offsets);
            c->nulls = 0;
        }
        if (!item) {
            Py_DECREF(columns);
            return NULL;
        }
        PyList_SET_ITEM(columns, i, item);
    }
    PyObject *result = Py_BuildValue("(nNNN)", self->rows, take(&self->ops), take(&self->times), columns);
    self->rows = 0;
    return result;
}

static PyObject *Builder_take_zero_dates(Builder *self, PyObject *Py_UNUSED(ignored)) {
    long long n = self->zero_dates;
    self->zero_dates = 0;
    return PyLong_FromLongLong(n);
}

static PyObject *Builder_get_rows(Builder *self, void *closure) { return PyLong_FromSsize_t(self->rows); }

static PyObject *Builder_get_nbytes(Builder *self, void *closure) {
    Py_ssize_t n = self->ops.len + self->times.len;
    for (int i = 0; i < self->ncols; i++)
        n += self->cols[i].validity.len + self->cols[i].data.len + self->cols[i].offsets.len;
    return PyLong_FromSsize_t(n);
}

static void free_cols(Builder *self) {
    if (!self->cols) return;
    for (int i = 0; i < self->ncols; i++) {
        Col *c = &self->cols[i];
        for (Py_ssize_t k = 0; k < c->nmembers; k++) PyMem_Free(c->members[k]);
        PyMem_Free(c->members);
        PyMem_Free(c->member_len);
        buf_free(&c->validity);
        buf_free(&c->data);
        buf_free(&c->offsets);
    }
    PyMem_Free(self->cols);
    self->cols = NULL;
}

static void Builder_dealloc(Builder *self) {
    free_cols(self);
    PyMem_Free(self->key);
    buf_free(&self->ops);
    buf_free(&self->times);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int width_of(int op, int a) {
    switch (op) {
    case OP_FIXED:
    case OP_FLOAT:
    case OP_DOUBLE:
        return a;
    case OP_INT24:
    case OP_DATE:
        return 4;
    case OP_DECIMAL:
        return 16;
    case OP_YEAR:
        return 2;
    case OP_DATETIME2:
    case OP_TIMESTAMP2:
    case OP_TIME2:
    case OP_BIT:
        return 8;
    default:
        return 0;
    }
}

/* Builder(columns: [(op, a, b, members: list[bytes] | None, store: bool)], key: [column index]) */
static int Builder_init(Builder *self, PyObject *args, PyObject *kwds) {
    PyObject *columns, *key;
    if (!PyArg_ParseTuple(args, "OO", &columns, &key)) return -1;
    columns = PySequence_Fast(columns, "columns must be a sequence");
    if (!columns) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(columns);
    free_cols(self);
    self->cols = PyMem_Calloc(n ? n : 1, sizeof(Col));
    self->ncols = (int)n;
    if (!self->cols) {
        Py_DECREF(columns);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Col *c = &self->cols[i];
        PyObject *members;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(columns, i), "iiiOp", &c->op, &c->a, &c->b, &members,
                              &c->store))
            goto fail;
        if ((c->op == OP_FIXED || c->op == OP_BIT) && (c->a < 1 || c->a > 8)) {
            PyErr_Format(PyExc_ValueError, "column %zd: width %d", i, c->a);
            goto fail;
        }
        if (c->op == OP_DECIMAL && (c->a < 1 || c->a > 38 || c->b < 0 || c->b > c->a)) {
            PyErr_Format(PyExc_ValueError, "column %zd: DECIMAL(%d,%d)", i, c->a, c->b);
            goto fail;
        }
        c->width = width_of(c->op, c->a);
        if (members != Py_None) {
            PyObject *seq = PySequence_Fast(members, "members must be a sequence");
            if (!seq) goto fail;
            Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
            c->members = PyMem_Calloc(m ? m : 1, sizeof(char *));
            c->member_len = PyMem_Calloc(m ? m : 1, sizeof(Py_ssize_t));
            for (Py_ssize_t k = 0; k < m; k++) {
                char *text;
                Py_ssize_t len;
                if (PyBytes_AsStringAndSize(PySequence_Fast_GET_ITEM(seq, k), &text, &len) < 0) {
                    Py_DECREF(seq);
                    goto fail;
                }
                c->members[k] = PyMem_Malloc(len ? len : 1);
                memcpy(c->members[k], text, len);
                c->member_len[k] = len;
                c->nmembers = k + 1;
            }
            Py_DECREF(seq);
        }
    }
    Py_DECREF(columns);
    key = PySequence_Fast(key, "key must be a sequence");
    if (!key) return -1;
    self->nkey = (int)PySequence_Fast_GET_SIZE(key);
    PyMem_Free(self->key);
    self->key = PyMem_Calloc(self->nkey ? self->nkey : 1, sizeof(int));
    for (int k = 0; k < self->nkey; k++) {
        long index = PyLong_AsLong(PySequence_Fast_GET_ITEM(key, k));
        if (index < 0 || index >= self->ncols || !self->cols[index].store) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "key column %ld is not a stored column", index);
            Py_DECREF(key);
            return -1;
        }
        self->key[k] = (int)index;
    }
    Py_DECREF(key);
    return 0;
fail:
    Py_DECREF(columns);
    return -1;
}

static PyMethodDef Builder_methods[] = {
    {"append", (PyCFunction)Builder_append, METH_VARARGS,
     "append(data, kind, micros, inserts_only, no_deletes) -> images: decode a rows event's images"},
    {"finish", (PyCFunction)Builder_finish, METH_NOARGS, "finish() -> (rows, ops, times, columns); empties it"},
    {"take_zero_dates", (PyCFunction)Builder_take_zero_dates, METH_NOARGS,
     "zero or invalid dates made NULL since the last call"},
    {NULL}};

static PyGetSetDef Builder_getset[] = {{"rows", (getter)Builder_get_rows, NULL, "rows held", NULL},
                                       {"nbytes", (getter)Builder_get_nbytes, NULL, "bytes of Arrow data held", NULL},
                                       {NULL}};

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "binlake.native._rows.Builder",
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Arrow column buffers of one table layout, filled from rows events",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Builder_init,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_methods = Builder_methods,
    .tp_getset = Builder_getset,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", "Row images into Arrow buffers", -1, NULL};

int frames_add(PyObject *module); /* frames.c: the Scanner */

PyMODINIT_FUNC PyInit__rows(void) {
    if (PyType_Ready(&BuilderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (frames_add(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Builder", (PyObject *)&BuilderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    struct {
        const char *name;
        int value;
    } ops[] = {{"OP_FIXED", OP_FIXED},         {"OP_FLOAT", OP_FLOAT},   {"OP_DOUBLE", OP_DOUBLE},
               {"OP_INT24", OP_INT24},         {"OP_DECIMAL", OP_DECIMAL}, {"OP_YEAR", OP_YEAR},
               {"OP_DATE", OP_DATE},           {"OP_DATETIME2", OP_DATETIME2}, {"OP_TIMESTAMP2", OP_TIMESTAMP2},
               {"OP_TIME2", OP_TIME2},         {"OP_BIT", OP_BIT},       {"OP_ENUM", OP_ENUM},
               {"OP_SET", OP_SET},             {"OP_VAR", OP_VAR}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (PyModule_AddIntConstant(m, ops[i].name, ops[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
