/* binlake.native._rows.Scanner: the dump stream's bytes → one record per event the reader acts on.
 *
 * The compiled twin of capture/binlog/framing.py's Scanner (the oracle: tests/test_framing.py requires the same
 * records for the same bytes, however they are cut into chunks). feed(chunk) takes what one socket read returned
 * (many packets, the last one maybe cut), verifies each event's CRC32 when its file has checksums, drops table
 * maps equal to the last one of their table id, and returns (event_type, log_pos, timestamp, a, body, count)
 * tuples: see framing.py for what each field holds per event type.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define HEADER_SIZE 19
#define MAX_PACKET 0xFFFFFF
#define SPECIAL (-1)
#define PACKET (-2)
#define MAP_CACHE_LIMIT 10000

enum {
    QUERY_EVENT = 2,
    ROTATE_EVENT = 4,
    FORMAT_DESCRIPTION_EVENT = 15,
    TABLE_MAP_EVENT = 19,
    WRITE_ROWS_V1 = 23,
    UPDATE_ROWS_V1 = 24,
    DELETE_ROWS_V1 = 25,
    HEARTBEAT_EVENT = 27,
    WRITE_ROWS_V2 = 30,
    UPDATE_ROWS_V2 = 31,
    DELETE_ROWS_V2 = 32,
};

/* -- CRC32 (zlib's polynomial), slicing by 8 ------------------------------------------------------------ */
static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++) crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xFF];
}

static uint32_t crc32_of(const uint8_t *p, Py_ssize_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int crc_ok(const uint8_t *e, Py_ssize_t n) { return n >= HEADER_SIZE + 4 && crc32_of(e, n - 4) == u32(e + n - 4); }

/* -- the scanner ------------------------------------------------------------------------------------------ */
typedef struct {
    PyObject_HEAD int checksum;
    int rows_post_header, table_map_post_header;
    Py_ssize_t wanted;
    PyObject *maps;    /* table id → the body of its last table map */
    PyObject *pending; /* bytes of a cut packet */
} Scanner;

static int is_rows(int kind) { return (kind >= WRITE_ROWS_V1 && kind <= DELETE_ROWS_V1) || (kind >= WRITE_ROWS_V2 && kind <= DELETE_ROWS_V2); }

static uint64_t table_id(const uint8_t *b, int post_header) {
    if (post_header == 6) return u32(b);
    uint64_t v = 0;
    for (int i = 5; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static PyObject *record(int kind, uint32_t log_pos, uint32_t timestamp, unsigned long long a, const uint8_t *body,
                        Py_ssize_t n, int count) {
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)body, n);
    if (!bytes) return NULL;
    return Py_BuildValue("(iIIKNi)", kind, log_pos, timestamp, a, bytes, count);
}

/* A rows event's record, or NULL with *special set when its header does not parse. */
static PyObject *rows_record(Scanner *self, int kind, uint32_t log_pos, uint32_t timestamp, const uint8_t *b,
                             Py_ssize_t n, int *special) {
    int post = self->rows_post_header;
    if (n < post || post < 6) goto bad;
    uint64_t id = table_id(b, post);
    Py_ssize_t p = post;
    if (kind >= WRITE_ROWS_V2) {
        if (p + 2 > n) goto bad;
        p += b[p] | b[p + 1] << 8;
    }
    if (p >= n) goto bad;
    uint64_t count;
    uint8_t first = b[p];
    if (first < 0xFB) {
        count = first;
        p += 1;
    } else if (first == 0xFC) {
        if (p + 3 > n) goto bad;
        count = b[p + 1] | b[p + 2] << 8;
        p += 3;
    } else if (first == 0xFD) {
        if (p + 4 > n) goto bad;
        count = b[p + 1] | b[p + 2] << 8 | (uint32_t)b[p + 3] << 16;
        p += 4;
    } else {
        goto bad; /* a column count of 2^24 or more (or a 0xFB/0xFF byte): not a table */
    }
    Py_ssize_t bitmap = (Py_ssize_t)(count + 7) / 8;
    int whole = 1, images = (kind == UPDATE_ROWS_V1 || kind == UPDATE_ROWS_V2) ? 2 : 1;
    for (int image = 0; image < images; image++) {
        if (p + bitmap > n) goto bad;
        for (Py_ssize_t k = 0; k < bitmap && whole; k++) {
            uint64_t bits_here = count - (uint64_t)k * 8;
            uint8_t expect = bits_here >= 8 ? 0xFF : (uint8_t)((1u << bits_here) - 1);
            whole = b[p + k] == expect;
        }
        p += bitmap;
    }
    *special = 0;
    return record(kind, log_pos, timestamp, id, b + p, n - p, whole ? (int)count : -1);
bad:
    *special = 1;
    return NULL;
}

/* The record of one event (header included, CRC included), Py_None to drop it, NULL on error. */
static PyObject *event_record(Scanner *self, const uint8_t *e, Py_ssize_t n) {
    if (n < HEADER_SIZE) return record(SPECIAL, 0, 0, 0, e, n, 0);
    uint32_t timestamp = u32(e), server_id = u32(e + 5), log_pos = u32(e + 13);
    int kind = e[4];
    const uint8_t *body = e + HEADER_SIZE;
    Py_ssize_t size;
    if (kind == ROTATE_EVENT || kind == HEARTBEAT_EVENT) {
        size = n - HEADER_SIZE - (crc_ok(e, n) ? 4 : 0);
        if (kind == ROTATE_EVENT) PyDict_Clear(self->maps);
        return record(kind, log_pos, timestamp, server_id, body, size, 0);
    }
    if (kind == FORMAT_DESCRIPTION_EVENT) {
        if (!crc_ok(e, n) || n < HEADER_SIZE + 57 + 5) return record(SPECIAL, log_pos, timestamp, 0, e, n, 0);
        self->checksum = e[n - 5] != 0;
        size = n - HEADER_SIZE - 5;
        Py_ssize_t lengths = size - 57;
        if (lengths >= TABLE_MAP_EVENT) self->table_map_post_header = body[57 + TABLE_MAP_EVENT - 1];
        if (lengths >= WRITE_ROWS_V1) self->rows_post_header = body[57 + WRITE_ROWS_V1 - 1];
        PyDict_Clear(self->maps);
        return record(kind, log_pos, timestamp, server_id, body, size, 0);
    }
    if (self->checksum) {
        if (!crc_ok(e, n)) return record(SPECIAL, log_pos, timestamp, 0, e, n, 0);
        size = n - HEADER_SIZE - 4;
    } else {
        size = n - HEADER_SIZE;
    }
    if (is_rows(kind)) {
        int special;
        PyObject *out = rows_record(self, kind, log_pos, timestamp, body, size, &special);
        if (special) return record(SPECIAL, log_pos, timestamp, 0, e, n, 0);
        return out;
    }
    if (kind == TABLE_MAP_EVENT) {
        if (size < 8) return record(SPECIAL, log_pos, timestamp, 0, e, n, 0);
        unsigned long long id = table_id(body, self->table_map_post_header);
        PyObject *key = PyLong_FromUnsignedLongLong(id);
        if (!key) return NULL;
        PyObject *known = PyDict_GetItemWithError(self->maps, key); /* borrowed */
        if (known) {
            if (PyBytes_GET_SIZE(known) == size && memcmp(PyBytes_AS_STRING(known), body, size) == 0) {
                Py_DECREF(key);
                Py_RETURN_NONE;
            }
        } else if (PyErr_Occurred()) {
            Py_DECREF(key);
            return NULL;
        }
        if (PyDict_GET_SIZE(self->maps) >= MAP_CACHE_LIMIT) PyDict_Clear(self->maps);
        PyObject *copy = PyBytes_FromStringAndSize((const char *)body, size);
        if (!copy || PyDict_SetItem(self->maps, key, copy) < 0) {
            Py_XDECREF(copy);
            Py_DECREF(key);
            return NULL;
        }
        Py_DECREF(key);
        return Py_BuildValue("(iIIKNi)", kind, log_pos, timestamp, id, copy, 0);
    }
    if (kind == QUERY_EVENT) PyDict_Clear(self->maps); /* a DDL may change what a table's map means */
    return record(kind, log_pos, timestamp, server_id, body, size, 0);
}

static inline Py_ssize_t len3(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16; }

/* feed(chunk) -> [record]: the records of the whole packets in what is held plus chunk. */
static PyObject *Scanner_feed(Scanner *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *joined = NULL, *out = PyList_New(0), *big = NULL;
    const uint8_t *data = view.buf;
    Py_ssize_t size = view.len;
    if (!out) goto fail;
    if (self->pending && PyBytes_GET_SIZE(self->pending)) {
        Py_ssize_t held = PyBytes_GET_SIZE(self->pending);
        joined = PyBytes_FromStringAndSize(NULL, held + size);
        if (!joined) goto fail;
        memcpy(PyBytes_AS_STRING(joined), PyBytes_AS_STRING(self->pending), held);
        memcpy(PyBytes_AS_STRING(joined) + held, data, size);
        data = (const uint8_t *)PyBytes_AS_STRING(joined);
        size += held;
    }
    Py_ssize_t pos = 0;
    self->wanted = 0;
    while (size - pos >= 4) {
        Py_ssize_t length = len3(data + pos), next;
        const uint8_t *payload;
        Py_ssize_t payload_len;
        if (length == MAX_PACKET) { /* 16 MB - 1: the payload goes on in the next packets */
            Py_ssize_t at = pos, total = 0;
            int complete = 0;
            while (size - at >= 4) {
                Py_ssize_t part = len3(data + at);
                if (size - at - 4 < part) {
                    self->wanted = part + 4 - (size - at);
                    break;
                }
                total += part;
                at += 4 + part;
                if (part != MAX_PACKET) {
                    complete = 1;
                    break;
                }
            }
            if (!complete) {
                if (!self->wanted) self->wanted = 4 - (size - at);
                break;
            }
            big = PyBytes_FromStringAndSize(NULL, total);
            if (!big) goto fail;
            char *w = PyBytes_AS_STRING(big);
            for (Py_ssize_t q = pos; q < at;) {
                Py_ssize_t part = len3(data + q);
                memcpy(w, data + q + 4, part);
                w += part;
                q += 4 + part;
            }
            payload = (const uint8_t *)PyBytes_AS_STRING(big);
            payload_len = total;
            next = at;
        } else {
            if (size - pos - 4 < length) {
                self->wanted = length + 4 - (size - pos);
                break;
            }
            payload = data + pos + 4;
            payload_len = length;
            next = pos + 4 + length;
        }
        pos = next;
        PyObject *item;
        int stop = 0;
        if (payload_len == 0 || payload[0] != 0) {
            item = record(PACKET, 0, 0, 0, payload, payload_len, 0);
            stop = 1;
        } else {
            item = event_record(self, payload + 1, payload_len - 1);
        }
        Py_CLEAR(big);
        if (!item) goto fail;
        if (item != Py_None) {
            if (PyLong_AsLong(PyTuple_GET_ITEM(item, 0)) == SPECIAL) stop = 1;
            if (PyList_Append(out, item) < 0) {
                Py_DECREF(item);
                goto fail;
            }
        }
        Py_DECREF(item);
        if (stop) break;
    }
    if (!self->wanted) self->wanted = size - pos < 4 ? 4 - (size - pos) : 0;
    PyObject *rest = PyBytes_FromStringAndSize((const char *)data + pos, size - pos);
    if (!rest) goto fail;
    Py_XSETREF(self->pending, rest);
    Py_XDECREF(joined);
    PyBuffer_Release(&view);
    return out;
fail:
    Py_XDECREF(big);
    Py_XDECREF(joined);
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return NULL;
}

static PyObject *Scanner_reset(Scanner *self, PyObject *Py_UNUSED(ignored)) {
    PyDict_Clear(self->maps);
    Py_RETURN_NONE;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    int checksum;
    if (!PyArg_ParseTuple(args, "p", &checksum)) return -1;
    self->checksum = checksum;
    self->rows_post_header = self->table_map_post_header = 8;
    self->wanted = 4;
    Py_XSETREF(self->maps, PyDict_New());
    Py_XSETREF(self->pending, PyBytes_FromStringAndSize(NULL, 0));
    return self->maps && self->pending ? 0 : -1;
}

static void Scanner_dealloc(Scanner *self) {
    Py_XDECREF(self->maps);
    Py_XDECREF(self->pending);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Scanner_get_checksum(Scanner *self, void *closure) { return PyBool_FromLong(self->checksum); }
static PyObject *Scanner_get_rows_post(Scanner *self, void *closure) { return PyLong_FromLong(self->rows_post_header); }
static PyObject *Scanner_get_tm_post(Scanner *self, void *closure) { return PyLong_FromLong(self->table_map_post_header); }
static PyObject *Scanner_get_wanted(Scanner *self, void *closure) { return PyLong_FromSsize_t(self->wanted); }

static PyMethodDef Scanner_methods[] = {
    {"feed", (PyCFunction)Scanner_feed, METH_O, "feed(chunk) -> records of the whole packets held"},
    {"reset", (PyCFunction)Scanner_reset, METH_NOARGS, "forget the table maps seen"},
    {NULL}};

static PyGetSetDef Scanner_getset[] = {
    {"checksum", (getter)Scanner_get_checksum, NULL, "whether the current file's events end with a CRC32", NULL},
    {"rows_post_header", (getter)Scanner_get_rows_post, NULL, "post-header length of rows events", NULL},
    {"table_map_post_header", (getter)Scanner_get_tm_post, NULL, "post-header length of table maps", NULL},
    {"wanted", (getter)Scanner_get_wanted, NULL, "bytes still missing for the next whole packet", NULL},
    {NULL}};

PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "binlake.native._rows.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The dump stream's bytes → one record per event (capture/binlog/framing.py)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
    .tp_getset = Scanner_getset,
};

/* Called by PyInit__rows. */
int frames_add(PyObject *module) {
    crc_init();
    if (PyType_Ready(&ScannerType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Scanner", (PyObject *)&ScannerType);
}
