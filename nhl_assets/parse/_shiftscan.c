/* A shift chart body (JSON bytes) straight to the six int64 columns silver reads from its rows.
 *
 * Why: a chart is ~800 rows of 18 fields, and reading it through Python objects (msgspec structs for
 * the rows, then one numpy column per field) costs about 0.6 ms a game, most of it creating and freeing
 * those objects. This reads the bytes once and writes the columns, with no Python object per row.
 *
 * What it accepts is deliberately narrow, so that it never disagrees with the typed decoder it stands in
 * front of (nhl_assets/parse/shifts.py): the body must be valid JSON (RFC 8259, UTF-8), a top-level
 * object whose "data" is an array of objects, each with typeCode, gameId, playerId and period written as
 * integers that fit in 64 bits, and startTime and endTime written as strings. Anything else (invalid
 * JSON, a missing or null field, a number written with a fraction or an exponent, an escape in a key or
 * in a clock, a key given twice, nesting deeper than MAX_DEPTH) returns None, and the caller takes the
 * slower path, which decides what such a body means. A clock that is not "MM:SS" (two digits, a colon,
 * two digits, seconds below 60) is read as -1: the caller then reads the chart row by row.
 *
 * scan(body) -> None | (rows, columns): `columns` is a bytes object of 6 * rows native int64s, column
 * after column: typeCode, gameId, playerId, period, startTime and endTime in seconds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define NFIELDS 6
#define NINTS 4 /* the first NINTS fields are integers, the others clocks */

/* The row's fields, in the columns' order (nhl_assets/parse/shifts.py's COLUMNS). */
static const char *const FIELDS[NFIELDS] = {"typeCode", "gameId", "playerId", "period", "startTime", "endTime"};

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} Cursor;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static int hex_value(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Four hex digits at c->p (after "\u"): their value, or -1. */
static long read_hex4(Cursor *c) {
    if (c->end - c->p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(c->p[i]);
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    c->p += 4;
    return v;
}

/* One UTF-8 sequence of 2-4 bytes starting at c->p (a lead byte >= 0x80): 0 and past it, or -1 when it is
 * not well-formed (overlong, a surrogate, beyond U+10FFFF, truncated). */
static int skip_utf8(Cursor *c) {
    const unsigned char *s = c->p;
    Py_ssize_t left = c->end - s;
    unsigned char b0 = s[0];
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (left < 2 || (s[1] & 0xC0) != 0x80) return -1;
        c->p += 2;
        return 0;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return -1;
        if (b0 == 0xE0 && s[1] < 0xA0) return -1; /* overlong */
        if (b0 == 0xED && s[1] >= 0xA0) return -1; /* a surrogate */
        c->p += 3;
        return 0;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return -1;
        if (b0 == 0xF0 && s[1] < 0x90) return -1; /* overlong */
        if (b0 == 0xF4 && s[1] >= 0x90) return -1; /* beyond U+10FFFF */
        c->p += 4;
        return 0;
    }
    return -1;
}

/* PLAIN[b]: byte b stands for itself inside a string (printable ASCII but the quote and the backslash). */
static unsigned char PLAIN[256];

static void init_plain(void) {
    for (int b = 0x20; b < 0x80; b++) PLAIN[b] = b != '"' && b != '\\';
}

/* A string at c->p (its opening quote): 0 and past its closing quote, with its raw content in
 * [*start, *start + *len) and whether it holds an escape; -1 when it is not a valid JSON string (a control
 * character, a bad escape, a lone surrogate escape, invalid UTF-8, no closing quote). */
static int scan_string(Cursor *c, const unsigned char **start, Py_ssize_t *len, int *escaped) {
    c->p++; /* the opening quote */
    *start = c->p;
    *escaped = 0;
    while (c->p < c->end) {
        while (c->p < c->end && PLAIN[*c->p]) c->p++; /* the common bytes, one table lookup each */
        if (c->p >= c->end) return -1;
        unsigned char ch = *c->p;
        if (ch == '"') {
            *len = c->p - *start;
            c->p++;
            return 0;
        }
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            *escaped = 1;
            c->p++;
            if (c->p >= c->end) return -1;
            ch = *c->p++;
            if (ch == 'u') {
                long u = read_hex4(c);
                if (u < 0) return -1;
                if (u >= 0xD800 && u <= 0xDBFF) { /* a high surrogate: its low half must follow */
                    if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u') return -1;
                    c->p += 2;
                    long lo = read_hex4(c);
                    if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    return -1;
                }
            } else if (!(ch == '"' || ch == '\\' || ch == '/' || ch == 'b' || ch == 'f' || ch == 'n' || ch == 'r'
                         || ch == 't')) {
                return -1;
            }
            continue;
        }
        if (ch < 0x80) {
            c->p++;
            continue;
        }
        if (skip_utf8(c) < 0) return -1;
    }
    return -1;
}

/* A number at c->p: 0 and past it, with *is_int set when it has neither fraction nor exponent and its value
 * in *value when it also fits in int64 (*fits); -1 when it is not a JSON number. */
static int scan_number(Cursor *c, int *is_int, int *fits, int64_t *value) {
    int negative = 0;
    uint64_t magnitude = 0;
    *is_int = 1;
    *fits = 1;
    if (c->p < c->end && *c->p == '-') {
        negative = 1;
        c->p++;
    }
    if (c->p >= c->end) return -1;
    if (*c->p == '0') {
        c->p++;
    } else if (*c->p >= '1' && *c->p <= '9') {
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            unsigned d = *c->p - '0';
            if (magnitude > (UINT64_MAX - d) / 10) *fits = 0;
            else magnitude = magnitude * 10 + d;
            c->p++;
        }
    } else {
        return -1;
    }
    if (c->p < c->end && *c->p == '.') {
        *is_int = 0;
        c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        *is_int = 0;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (*fits) {
        if (negative) {
            if (magnitude > (uint64_t)INT64_MAX + 1) *fits = 0;
            else *value = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
        } else {
            if (magnitude > (uint64_t)INT64_MAX) *fits = 0;
            else *value = (int64_t)magnitude;
        }
    }
    return 0;
}

static int scan_literal(Cursor *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, n) != 0) return -1;
    c->p += n;
    return 0;
}

/* The opening `open` of an object or an array at c->p (whitespace skipped before it): 1 past it and its
 * closing `close` when it is empty, 0 past it otherwise, -1 when c->p holds something else. */
static int open_container(Cursor *c, unsigned char open, unsigned char close) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != open) return -1;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    return 0;
}

/* After a member of an object or an element of an array: 1 past a comma (another follows), 0 past the
 * closing `close`, -1 otherwise. */
static int next_member(Cursor *c, unsigned char close) {
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == ',') {
        c->p++;
        return 1;
    }
    if (*c->p == close) {
        c->p++;
        return 0;
    }
    return -1;
}

/* A member's key at c->p (whitespace skipped before it) and the colon after it: 0 with the key's raw
 * content and whether it holds an escape, -1 when either is missing or invalid. */
static int scan_key(Cursor *c, const unsigned char **key, Py_ssize_t *len, int *escaped) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"' || scan_string(c, key, len, escaped) < 0) return -1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') return -1;
    c->p++;
    return 0;
}

/* Any JSON value at c->p (whitespace skipped before it): 0 and past it, or -1 when it is not valid JSON or
 * nests deeper than MAX_DEPTH (which the caller treats alike: the slow path decides). */
static int skip_value(Cursor *c, int depth) {
    const unsigned char *s;
    Py_ssize_t n;
    int flag, fits;
    int64_t v;
    skip_ws(c);
    if (c->p >= c->end) return -1;
    switch (*c->p) {
    case '"':
        return scan_string(c, &s, &n, &flag);
    case '{':
    case '[': {
        unsigned char close = *c->p == '{' ? '}' : ']';
        int more;
        if (depth >= MAX_DEPTH) return -1;
        if ((more = open_container(c, *c->p, close)) != 0) return more > 0 ? 0 : -1;
        do {
            if (close == '}' && scan_key(c, &s, &n, &flag) < 0) return -1;
            if (skip_value(c, depth + 1) < 0) return -1;
        } while ((more = next_member(c, close)) > 0);
        return more;
    }
    case 't':
        return scan_literal(c, "true", 4);
    case 'f':
        return scan_literal(c, "false", 5);
    case 'n':
        return scan_literal(c, "null", 4);
    default:
        return scan_number(c, &flag, &fits, &v);
    }
}

/* The index in FIELDS of the key [k, k + n), or -1 for any other key. */
static int field_of(const unsigned char *k, Py_ssize_t n) {
    for (int f = 0; f < NFIELDS; f++) {
        if ((size_t)n == strlen(FIELDS[f]) && memcmp(k, FIELDS[f], (size_t)n) == 0) return f;
    }
    return -1;
}

/* "MM:SS" -> seconds, or -1 for any other spelling (the caller then reads the chart row by row). */
static int64_t clock_seconds(const unsigned char *s, Py_ssize_t n) {
    if (n != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++) {
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    }
    int64_t sec = (s[3] - '0') * 10 + (s[4] - '0');
    if (sec >= 60) return -1;
    return ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + sec;
}

typedef struct {
    int64_t *data; /* `rows` rows of NFIELDS values each, room for `cap` rows */
    Py_ssize_t rows, cap;
} Rows;

static int grow(Rows *rows) {
    Py_ssize_t cap = rows->cap ? rows->cap * 2 : 1024;
    if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)(NFIELDS * sizeof(int64_t))) return -1;
    int64_t *data = PyMem_Realloc(rows->data, (size_t)cap * NFIELDS * sizeof(int64_t));
    if (data == NULL) return -1; /* rows->data is still valid, and freed by the caller */
    rows->data = data;
    rows->cap = cap;
    return 0;
}

/* One field's value at c->p: an integer that fits in int64 (the first NINTS fields), or a clock string
 * without escapes (read as seconds or -1); 0 with it in *value, or -1. */
static int scan_field(Cursor *c, int f, int64_t *value) {
    const unsigned char *s;
    Py_ssize_t n;
    int escaped, is_int, fits;
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (f < NINTS) {
        if (*c->p != '-' && (*c->p < '0' || *c->p > '9')) return -1;
        return scan_number(c, &is_int, &fits, value) < 0 || !is_int || !fits ? -1 : 0;
    }
    if (*c->p != '"' || scan_string(c, &s, &n, &escaped) < 0 || escaped) return -1;
    *value = clock_seconds(s, n);
    return 0;
}

/* One row object at c->p: 0 and its six fields appended, or -1 (anything the fast path does not take). */
static int scan_row(Cursor *c, Rows *rows) {
    int64_t values[NFIELDS];
    int seen = 0, escaped, more;
    const unsigned char *key;
    Py_ssize_t n;
    if (open_container(c, '{', '}') != 0) return -1; /* not an object, or one without fields */
    do {
        if (scan_key(c, &key, &n, &escaped) < 0 || escaped) return -1;
        int f = field_of(key, n);
        if (f < 0) {
            if (skip_value(c, 2) < 0) return -1;
            continue;
        }
        if (seen & (1 << f) || scan_field(c, f, &values[f]) < 0) return -1; /* a key twice, or a bad value */
        seen |= 1 << f;
    } while ((more = next_member(c, '}')) > 0);
    if (more < 0 || seen != (1 << NFIELDS) - 1) return -1;
    if (rows->rows == rows->cap && grow(rows) < 0) return -1;
    memcpy(rows->data + (size_t)rows->rows * NFIELDS, values, sizeof values);
    rows->rows++;
    return 0;
}

/* The "data" array at c->p: 0 and every row appended, or -1. */
static int scan_rows(Cursor *c, Rows *rows) {
    int more = open_container(c, '[', ']');
    if (more != 0) return more > 0 ? 0 : -1;
    do {
        if (scan_row(c, rows) < 0) return -1;
    } while ((more = next_member(c, ']')) > 0);
    return more;
}

/* The whole body: 0 with the rows of its one "data" key, or -1. */
static int scan_body(Cursor *c, Rows *rows) {
    const unsigned char *key;
    Py_ssize_t n;
    int escaped, more, have_data = 0;
    if (open_container(c, '{', '}') != 0) return -1; /* not an object, or one without "data" */
    do {
        if (scan_key(c, &key, &n, &escaped) < 0 || escaped) return -1;
        if (n == 4 && memcmp(key, "data", 4) == 0) {
            if (have_data || scan_rows(c, rows) < 0) return -1; /* "data" twice, or not regular rows */
            have_data = 1;
        } else if (skip_value(c, 1) < 0) {
            return -1;
        }
    } while ((more = next_member(c, '}')) > 0);
    skip_ws(c);
    return more == 0 && have_data && c->p == c->end ? 0 : -1;
}

static PyObject *scan(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Rows rows = {NULL, 0, 0};
    Cursor c = {(const unsigned char *)view.buf, (const unsigned char *)view.buf + view.len};
    int ok = scan_body(&c, &rows); /* a failed allocation declines too: the slow path has its own */
    PyBuffer_Release(&view);
    if (ok < 0) {
        PyMem_Free(rows.data);
        Py_RETURN_NONE;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(rows.rows * NFIELDS * sizeof(int64_t)));
    if (out == NULL) {
        PyMem_Free(rows.data);
        return NULL;
    }
    int64_t *dst = (int64_t *)PyBytes_AS_STRING(out); /* column after column */
    for (Py_ssize_t r = 0; r < rows.rows; r++) {
        for (int f = 0; f < NFIELDS; f++) dst[(size_t)f * rows.rows + r] = rows.data[(size_t)r * NFIELDS + f];
    }
    PyMem_Free(rows.data);
    return Py_BuildValue("(nN)", rows.rows, out);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O,
     "scan(body) -> None | (rows, columns): a shift chart body's six int64 columns (typeCode, gameId, "
     "playerId, period, startTime and endTime in seconds, -1 for a clock not \"MM:SS\"), or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shiftscan",
                                    "A shift chart body straight to the columns silver reads.", -1, methods};

PyMODINIT_FUNC PyInit__shiftscan(void) {
    init_plain();
    return PyModule_Create(&module);
}
