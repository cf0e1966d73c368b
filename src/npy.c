/* Arrays, the .npy format (versions 1.0 and 2.0, float32/float64, C order,
 * 1-d or 2-d) and atomic file writes. */
#include "internal.h"
#include "readers.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20)   /* numpy itself refuses headers over 10000 bytes */

void ntk_array_free(ntk_array *a)
{
    if (!a) return;
    if (a->map) munmap(a->map, a->map_len);
    else free(a->data);
    memset(a, 0, sizeof *a);
}

static int host_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 0;
}

/* ---------------------------------------------------------------------
 * Header dictionary, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * ------------------------------------------------------------------- */

typedef struct {
    int esz;            /* bytes per value: 4 or 8 */
    int big_endian;     /* byte order of the values in the file */
    int ndim;           /* 1 or 2 */
    size_t shape[2];
} npy_header;

static ntk_status bad_header(const char *path, const char *why)
{
    return ntk_set_error(NTK_ERR_FORMAT, "%s: malformed .npy header: %s; re-save it with numpy.save",
                         path, why);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* 'text' or "text" at p -> [*s, *s + *len); returns the position after the
 * closing quote, or NULL. */
static const char *parse_quoted(const char *p, const char **s, size_t *len)
{
    char q = *p;
    if (q != '\'' && q != '"') return NULL;
    const char *end = strchr(p + 1, q);
    if (!end) return NULL;
    *s = p + 1;
    *len = (size_t)(end - p - 1);
    return end + 1;
}

static int token_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* descr: '<f8', '<f4', '>f8' or '>f4'. */
static ntk_status parse_descr(const char *path, const char **pp, npy_header *h)
{
    const char *s;
    size_t len;
    const char *next = parse_quoted(*pp, &s, &len);
    if (!next)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: dtype is not a plain type string (structured arrays are not "
                             "supported); save a float64 array", path);
    char shown[33];
    if (len != 3 || (s[0] != '<' && s[0] != '>') || s[1] != 'f' || (s[2] != '4' && s[2] != '8'))
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: dtype '%s' is not supported; save float32 or float64, "
                             "e.g. numpy.save(path, X.astype(numpy.float64))",
                             path, ntk_printable(s, len, shown, sizeof shown));
    h->big_endian = s[0] == '>';
    h->esz = s[2] - '0';
    *pp = next;
    return NTK_OK;
}

static ntk_status parse_fortran_order(const char *path, const char **pp)
{
    if (strncmp(*pp, "False", 5) == 0) {
        *pp += 5;
        return NTK_OK;
    }
    if (strncmp(*pp, "True", 4) == 0)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: Fortran-order arrays are not supported; save "
                             "numpy.ascontiguousarray(X) instead", path);
    return bad_header(path, "fortran_order is neither True nor False");
}

/* Decimal digits at *pp -> *v; 0 on overflow or no digits. */
static int parse_dim(const char **pp, size_t *v)
{
    const char *p = *pp;
    size_t x = 0;
    if (*p < '0' || *p > '9') return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        size_t digit = (size_t)(*p - '0');
        if (x > (SIZE_MAX - digit) / 10) return 0;
        x = x * 10 + digit;
    }
    *v = x;
    *pp = p;
    return 1;
}

/* shape: (n,) or (n, m); other ranks are refused. */
static ntk_status parse_shape(const char *path, const char **pp, npy_header *h)
{
    const char *p = *pp;
    if (*p++ != '(') return bad_header(path, "shape is not a tuple");
    int ndim = 0;
    for (p = skip_ws(p); *p != ')'; p = skip_ws(p)) {
        size_t v;
        if (!parse_dim(&p, &v))
            return ntk_set_error(NTK_ERR_FORMAT,
                                 "%s: shape entry is not a non-negative integer that fits in "
                                 "memory sizes; re-save the array", path);
        if (ndim < 2) h->shape[ndim] = v;
        ndim++;
        p = skip_ws(p);
        if (*p == ',') p++;
        else if (*p != ')') return bad_header(path, "shape entries must be separated by ','");
    }
    if (ndim < 1 || ndim > 2)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: array has %d dimensions; only 1-d and 2-d arrays are "
                             "supported (reshape to (rows, cols))", path, ndim);
    h->ndim = ndim;
    *pp = p + 1;
    return NTK_OK;
}

/* text: the NUL-terminated header dictionary -> h. */
static ntk_status parse_header(const char *path, const char *text, npy_header *h)
{
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    const char *p = skip_ws(text);
    if (*p++ != '{') return bad_header(path, "it does not start with '{'");
    for (p = skip_ws(p); *p != '}'; p = skip_ws(p)) {
        const char *key;
        size_t klen;
        p = parse_quoted(p, &key, &klen);
        if (!p) return bad_header(path, "expected a quoted key");
        p = skip_ws(p);
        if (*p++ != ':') return bad_header(path, "expected ':' after a key");
        p = skip_ws(p);
        if (token_is(key, klen, "descr")) {
            NTK_TRY(parse_descr(path, &p, h));
            seen_descr = 1;
        } else if (token_is(key, klen, "fortran_order")) {
            NTK_TRY(parse_fortran_order(path, &p));
            seen_order = 1;
        } else if (token_is(key, klen, "shape")) {
            NTK_TRY(parse_shape(path, &p, h));
            seen_shape = 1;
        } else {
            char shown[33];
            return ntk_set_error(NTK_ERR_FORMAT,
                                 "%s: unexpected header key '%s'; a .npy header holds "
                                 "descr, fortran_order and shape", path,
                                 ntk_printable(key, klen, shown, sizeof shown));
        }
        p = skip_ws(p);
        if (*p == ',') p++;
        else if (*p != '}') return bad_header(path, "expected ',' or '}' after a value");
    }
    if (!seen_descr || !seen_order || !seen_shape)
        return bad_header(path, "descr, fortran_order or shape is missing");
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------- */

/* Where the bytes come from: an open file, or a buffer in memory. */
typedef struct {
    FILE *fp;                   /* NULL: read buf[pos, len) */
    const unsigned char *buf;
    size_t len, pos;
} npy_src;

/* Up to n bytes -> dst; returns how many were read. */
static size_t src_read(npy_src *src, void *dst, size_t n)
{
    if (src->fp) return fread(dst, 1, n, src->fp);
    size_t k = src->len - src->pos < n ? src->len - src->pos : n;
    if (k) memcpy(dst, src->buf + src->pos, k);
    src->pos += k;
    return k;
}

/* Magic, version and header length -> *hlen (header bytes), *data_off. */
static ntk_status read_preamble(npy_src *src, const char *path, size_t fsize, size_t *hlen,
                                size_t *data_off)
{
    unsigned char pre[12];
    if (fsize < 10 || src_read(src, pre, 8) != 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: not a .npy file (it does not start with \\x93NUMPY); "
                             "write it with numpy.save", path);
    int major = pre[6], minor = pre[7];
    size_t lenbytes = major == 1 ? 2 : 4;
    if ((major != 1 && major != 2) || minor != 0)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: .npy format version %d.%d is not supported (1.0 and 2.0 are); "
                             "re-save it with numpy.save", path, major, minor);
    if (fsize < 8 + lenbytes || src_read(src, pre + 8, lenbytes) != lenbytes)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: truncated inside the .npy preamble", path);
    size_t len = 0;
    for (size_t k = lenbytes; k-- > 0;) len = len << 8 | pre[8 + k];   /* little-endian */
    *data_off = 8 + lenbytes + len;
    if (len > NPY_MAX_HEADER)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: header length %zu is implausible; the file is corrupt", path, len);
    if (*data_off > fsize)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: truncated: the header needs %zu bytes but only %zu follow the "
                             "preamble", path, len, fsize - 8 - lenbytes);
    *hlen = len;
    return NTK_OK;
}

static ntk_status read_header(npy_src *src, const char *path, size_t hlen, npy_header *h)
{
    char *text = ntk_alloc(hlen + 1, 1, "npy header");
    if (!text) return NTK_ERR_NOMEM;
    ntk_status st = NTK_OK;
    if (src_read(src, text, hlen) != hlen)
        st = ntk_set_error(NTK_ERR_IO, "%s: read error in the header", path);
    text[hlen] = '\0';
    if (st == NTK_OK && strlen(text) != hlen) st = bad_header(path, "it contains a NUL byte");
    if (st == NTK_OK) st = parse_header(path, text, h);
    free(text);
    return st;
}

/* raw: count values of esz bytes (byte-swapped when swap) -> x (count). */
static void decode_values(const unsigned char *raw, size_t count, int esz, int swap, double *x)
{
    unsigned char b[8];
    for (size_t i = 0; i < count; i++) {
        const unsigned char *src = raw + i * (size_t)esz;
        for (int k = 0; k < esz; k++) b[k] = src[swap ? esz - 1 - k : k];
        if (esz == 8) {
            memcpy(&x[i], b, 8);
        } else {
            float f;
            memcpy(&f, b, 4);
            x[i] = f;
        }
    }
}

static ntk_status read_values(npy_src *src, const char *path, const npy_header *h, size_t count,
                              double *x)
{
    unsigned char raw[1 << 15];
    size_t per = sizeof raw / (size_t)h->esz;
    int swap = h->big_endian != host_big_endian();
    for (size_t i = 0; i < count; i += per) {
        size_t k = count - i < per ? count - i : per;
        if (src_read(src, raw, k * (size_t)h->esz) != k * (size_t)h->esz)
            return ntk_set_error(NTK_ERR_IO, "%s: read error after %zu of %zu values", path, i,
                                 count);
        decode_values(raw, k, h->esz, swap, x + i);
    }
    return NTK_OK;
}

/* "100x5 float64" or "100 float32" for messages. */
static void describe_shape(const npy_header *h, char *buf, size_t cap)
{
    const char *type = h->esz == 8 ? "float64" : "float32";
    if (h->ndim == 1) snprintf(buf, cap, "%zu %s", h->shape[0], type);
    else snprintf(buf, cap, "%zux%zu %s", h->shape[0], h->shape[1], type);
}

/* The values of a file whose bytes are already C-order float64 in the
 * host's byte order, at an offset a double may sit at: mapped copy-on-write
 * (MAP_PRIVATE, so writes to the array never reach the file) -> out->data.
 * Returns 0 when the layout does not allow it or mmap fails; the caller then
 * loads the values (the stream still stands at the first value). */
static int map_values(npy_src *src, const npy_header *h, size_t data_off, size_t need,
                      ntk_array *out)
{
    if (!src->fp || need == 0 || h->esz != (int)sizeof(double) ||
        h->big_endian != host_big_endian() || data_off % sizeof(double) != 0)
        return 0;
    size_t len = data_off + need;   /* <= the file size: checked by the caller */
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(src->fp), 0);
    if (base == MAP_FAILED) return 0;
    out->map = base;
    out->map_len = len;
    out->data = (double *)((unsigned char *)base + data_off);
    return 1;
}

/* Header checked against the file size, then the values -> out, mapped
 * when map = 1 and map_values allows it, else loaded. */
/* Preamble and header, the data's size checked against the file's ->
 * *h, *data_off, *need (bytes of data). */
static ntk_status read_head(npy_src *src, const char *path, size_t fsize, npy_header *h,
                            size_t *data_off, size_t *need)
{
    size_t hlen = 0;
    NTK_TRY(read_preamble(src, path, fsize, &hlen, data_off));
    NTK_TRY(read_header(src, path, hlen, h));
    size_t rows = h->shape[0], cols = h->ndim == 2 ? h->shape[1] : 1;
    *need = ntk_size_mul(rows, cols, (size_t)h->esz, 1);
    char desc[96];
    describe_shape(h, desc, sizeof desc);
    if (*need == SIZE_MAX)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: shape %s overflows the address space; the "
                             "header is corrupt", path, desc);
    if (*need > fsize - *data_off)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: truncated: header says %s (%zu bytes of data) but only %zu "
                             "bytes follow; the file is incomplete, re-save it",
                             path, desc, *need, fsize - *data_off);
    return NTK_OK;
}

static ntk_status read_npy(npy_src *src, const char *path, size_t fsize, int map, ntk_array *out)
{
    size_t data_off = 0, need = 0;
    npy_header h = {0};
    NTK_TRY(read_head(src, path, fsize, &h, &data_off, &need));
    size_t rows = h.shape[0], cols = h.ndim == 2 ? h.shape[1] : 1;
    if (!(map && map_values(src, &h, data_off, need, out))) {
        NTK_TRY(ntk_mem_check(ntk_size_mul(rows, cols, sizeof(double), 1), 0, path));
        out->data = ntk_alloc(rows * cols, sizeof(double), path);
        if (!out->data) return NTK_ERR_NOMEM;
        NTK_TRY(read_values(src, path, &h, rows * cols, out->data));
    }
    out->rows = rows;
    out->cols = cols;
    out->ndim = h.ndim;
    return ntk_check_finite(out->data, rows * cols, path);
}

static ntk_status read_file(const char *path, int map, ntk_array *out, const char *fn)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "%s: output array is NULL", fn);
    memset(out, 0, sizeof *out);
    if (!path) return ntk_set_error(NTK_ERR_ARG, "%s: path is NULL", fn);
    FILE *fp;
    size_t size;
    NTK_TRY(ntk_input_open(path, &fp, &size));
    npy_src src = {fp, NULL, 0, 0};
    ntk_status st = read_npy(&src, path, size, map, out);
    fclose(fp);   /* a mapping outlives the descriptor */
    if (st != NTK_OK) ntk_array_free(out);
    return st;
}

ntk_status ntk_npy_read(const char *path, ntk_array *out)
{
    return read_file(path, 0, out, "ntk_npy_read");
}

ntk_status ntk_npy_map(const char *path, ntk_array *out)
{
    return read_file(path, 1, out, "ntk_npy_map");
}

ntk_status ntk_npy_shape(const char *path, size_t *rows, size_t *cols, int *ndim)
{
    if (!path || !rows || !cols || !ndim)
        return ntk_set_error(NTK_ERR_ARG, "ntk_npy_shape: path or output is NULL");
    *rows = *cols = 0, *ndim = 0;
    FILE *fp;
    size_t size, data_off = 0, need = 0;
    NTK_TRY(ntk_input_open(path, &fp, &size));
    npy_src src = {fp, NULL, 0, 0};
    npy_header h = {0};
    ntk_status st = read_head(&src, path, size, &h, &data_off, &need);
    fclose(fp);
    if (st == NTK_OK) *rows = h.shape[0], *cols = h.ndim == 2 ? h.shape[1] : 1, *ndim = h.ndim;
    return st;
}

ntk_status ntk_npy_read_rows(const char *path, size_t r0, size_t count, ntk_array *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_read_rows: output array is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_read_rows: path is NULL");
    FILE *fp;
    size_t size, data_off = 0, need = 0;
    NTK_TRY(ntk_input_open(path, &fp, &size));
    npy_src src = {fp, NULL, 0, 0};
    npy_header h = {0};
    ntk_status st = read_head(&src, path, size, &h, &data_off, &need);
    size_t rows = h.shape[0], cols = h.ndim == 2 ? h.shape[1] : 1;
    if (st == NTK_OK && (r0 > rows || count > rows - r0))
        st = ntk_set_error(NTK_ERR_ARG, "%s: rows [%zu, %zu) asked for, but the array has %zu "
                           "rows; ask for rows within [0, %zu)", path, r0,
                           count > SIZE_MAX - r0 ? SIZE_MAX : r0 + count, rows, rows);
    /* every offset below is within the data, whose size was checked */
    size_t values = count * cols;
    if (st == NTK_OK && values) {
        st = ntk_mem_check(ntk_size_mul(values, sizeof(double), 1, 1), 0, path);
        if (st == NTK_OK && !(out->data = ntk_alloc(values, sizeof(double), path))) st = NTK_ERR_NOMEM;
        if (st == NTK_OK && fseeko(fp, (off_t)(data_off + r0 * cols * (size_t)h.esz), SEEK_SET) != 0)
            st = ntk_set_error(NTK_ERR_IO, "%s: cannot seek to row %zu: %s", path, r0, strerror(errno));
        if (st == NTK_OK) st = read_values(&src, path, &h, values, out->data);
    }
    fclose(fp);
    if (st == NTK_OK) {
        out->rows = count;
        out->cols = cols;
        out->ndim = h.ndim;
        st = ntk_check_finite(out->data, values, path);
    }
    if (st != NTK_OK) ntk_array_free(out);
    return st;
}

ntk_status ntk_npy_parse(const char *name, const unsigned char *buf, size_t len, ntk_array *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_parse: output array is NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len > 0) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_parse: buffer is NULL");
    npy_src src = {NULL, buf, len, 0};
    ntk_status st = read_npy(&src, name ? name : "(buffer)", len, 0, out);
    if (st != NTK_OK) ntk_array_free(out);
    return st;
}

/* ---------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------- */

/* Version 1.0 preamble + '<f8' (or '<f4' when f32) header padded with
 * spaces and '\n' to a multiple of 64 bytes -> pre; returns its length. */
static size_t npy_preamble(size_t rows, size_t cols, int ndim, int f32, unsigned char pre[256])
{
    char dict[160];
    const char *descr = f32 ? "<f4" : "<f8";
    int dlen = ndim == 1
        ? snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                   descr, rows)
        : snprintf(dict, sizeof dict,
                   "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows,
                   cols);
    size_t total = (10 + (size_t)dlen + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    memcpy(pre + 10, dict, (size_t)dlen);
    memset(pre + 10 + dlen, ' ', hlen - (size_t)dlen - 1);
    pre[total - 1] = '\n';
    return total;
}

/* x (count) -> out as little-endian float64 bytes or, when f32, float32
 * bytes (each value rounded to the nearest float). Returns count, or the
 * index of the first value float32 cannot hold (NaN, Inf or beyond FLT_MAX),
 * where the encoding stops. */
static size_t encode_values(const double *x, size_t count, int f32, unsigned char *out)
{
    const int swap = host_big_endian();
    const size_t esz = f32 ? 4 : 8;
    for (size_t i = 0; i < count; i++) {
        unsigned char b[8], *dst = out + i * esz;
        if (f32) {
            if (!(fabs(x[i]) <= (double)FLT_MAX)) return i;
            float f = (float)x[i];
            memcpy(b, &f, 4);
        } else {
            memcpy(b, &x[i], 8);
        }
        for (size_t k = 0; k < esz; k++) dst[k] = b[swap ? esz - 1 - k : k];
    }
    return count;
}

static ntk_status beyond_f32(const char *path, double value, size_t row, size_t col)
{
    return ntk_set_error(NTK_ERR_NONFINITE,
                         "%s: the value %g at row %zu, column %zu is beyond the float32 range "
                         "(|x| <= 3.4e38); write it as float64", path, value, row, col);
}

/* ndim, cols and the byte count of a (rows, cols) array of esz-byte values. */
static ntk_status check_shape(const char *fn, size_t rows, size_t cols, int ndim, size_t esz,
                              size_t *bytes)
{
    if (ndim != 1 && ndim != 2)
        return ntk_set_error(NTK_ERR_ARG, "%s: ndim must be 1 or 2, got %d", fn, ndim);
    if (ndim == 1 && cols != 1)
        return ntk_set_error(NTK_ERR_ARG, "%s: a 1-d array needs cols = 1, got %zu", fn, cols);
    *bytes = ntk_size_mul(rows, cols, esz, 1);
    if (*bytes == SIZE_MAX)
        return ntk_set_error(NTK_ERR_ARG, "%s: %zu x %zu overflows", fn, rows, cols);
    return NTK_OK;
}

/* The .npy bytes of data (rows, cols), or (rows) when ndim = 1 and
 * cols = 1, as two spans: the preamble (in pre) and the values,
 * little-endian float64, or float32 when f32 (then, and on a big-endian
 * host, an encoded copy in *enc, which the caller frees). */
static ntk_status npy_spans(const char *fn, const char *path, const double *data, size_t rows,
                            size_t cols, int ndim, int f32, unsigned char pre[256],
                            ntk_span spans[2], unsigned char **enc)
{
    *enc = NULL;
    size_t bytes;
    NTK_TRY(check_shape(fn, rows, cols, ndim, f32 ? 4 : 8, &bytes));
    if (!data && bytes > 0) return ntk_set_error(NTK_ERR_ARG, "%s: data is NULL", fn);
    spans[0] = (ntk_span){pre, npy_preamble(rows, cols, ndim, f32, pre)};
    spans[1] = (ntk_span){data, bytes};
    if (!f32 && !host_big_endian()) return NTK_OK;
    *enc = ntk_alloc(bytes ? bytes : 1, 1, f32 ? "float32 copy" : "little-endian copy");
    if (!*enc) return NTK_ERR_NOMEM;
    size_t bad = encode_values(data, rows * cols, f32, *enc);
    if (bad < rows * cols) {
        free(*enc);
        *enc = NULL;
        return beyond_f32(path, data[bad], bad / cols, bad % cols);
    }
    spans[1].buf = *enc;
    return NTK_OK;
}

static ntk_status outset_add(ntk_outset *o, const char *path, const double *data, size_t rows,
                             size_t cols, int ndim, int f32)
{
    unsigned char pre[256], *enc;
    ntk_span spans[2];
    NTK_TRY(npy_spans(f32 ? "ntk_outset_add_npy_f32" : "ntk_outset_add_npy", path, data, rows,
                      cols, ndim, f32, pre, spans, &enc));
    ntk_status st = ntk_outset_add_spans(o, path, spans, 2);
    free(enc);
    return st;
}

ntk_status ntk_outset_add_npy(ntk_outset *o, const char *path, const double *data, size_t rows,
                              size_t cols, int ndim)
{
    return outset_add(o, path, data, rows, cols, ndim, 0);
}

ntk_status ntk_outset_add_npy_f32(ntk_outset *o, const char *path, const double *data,
                                  size_t rows, size_t cols, int ndim)
{
    return outset_add(o, path, data, rows, cols, ndim, 1);
}

ntk_status ntk_npy_write(const char *path, const double *data, size_t rows, size_t cols,
                         int ndim)
{
    unsigned char pre[256], *enc;
    ntk_span spans[2];
    NTK_TRY(npy_spans("ntk_npy_write", path, data, rows, cols, ndim, 0, pre, spans, &enc));
    ntk_status st = ntk_write_spans_atomic(path, spans, 2);
    free(enc);
    return st;
}

/* ---------------------------------------------------------------------
 * Files written row block by row block
 * ------------------------------------------------------------------- */

/* bytes -> "512 B", "1.5 GiB" in buf (32 chars); returns buf. */
static const char *fmt_bytes(uintmax_t bytes, char *buf)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* NTK_ERR_IO now, before any work, when a regular file of `bytes` cannot be
 * written at path: beyond the file-size limit, or more than the free space
 * of the file system that holds it (the earlier file at path, if any, stays
 * until the new one is complete, so all of `bytes` must be free). A device
 * or FIFO destination is written through and not checked. */
static ntk_status check_room(const char *path, size_t bytes)
{
    struct stat sb;
    char dir[4096];
    const char *where = path;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) return NTK_OK;
    } else {
        if (errno != ENOENT) return NTK_OK;   /* opening the file reports it */
        const char *slash = strrchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : 0;
        if (len >= sizeof dir) return NTK_OK;
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (len == 0) snprintf(dir, sizeof dir, "/");
        else snprintf(dir, sizeof dir, "%.*s", (int)len, path);
        where = dir;
    }
    char nb[32], lb[32];
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (uintmax_t)bytes > (uintmax_t)rl.rlim_cur)
        return ntk_set_error(NTK_ERR_IO, "%s: the file needs %s but the file-size limit (ulimit "
                             "-f) is %s; raise the limit or write a smaller file", path,
                             fmt_bytes(bytes, nb), fmt_bytes((uintmax_t)rl.rlim_cur, lb));
    struct statvfs vs;
    if (statvfs(where, &vs) != 0) return NTK_OK;   /* opening the file reports it */
    /* root may also use the blocks the file system keeps in reserve */
    uintmax_t blocks = geteuid() == 0 ? (uintmax_t)vs.f_bfree : (uintmax_t)vs.f_bavail;
    uintmax_t avail = blocks * (uintmax_t)vs.f_frsize;
    if ((uintmax_t)bytes > avail)
        return ntk_set_error(NTK_ERR_IO, "%s: the file needs %s but its file system has %s free; "
                             "free some space or choose another place", path,
                             fmt_bytes(bytes, nb), fmt_bytes(avail, lb));
    return NTK_OK;
}

enum { NPY_CHUNK = 1 << 16 };   /* values encoded per write when they need encoding */

struct ntk_npy_writer {
    ntk_stream *s;
    size_t rows, cols, done;
    int f32;
    int failed;             /* a write failed part way: the file is not put in place */
    unsigned char *chunk;   /* NPY_CHUNK encoded values, or NULL: written as they are */
    char *path;
};

void ntk_npy_writer_discard(ntk_npy_writer *w)
{
    if (!w) return;
    ntk_stream_discard(w->s);
    free(w->chunk);
    free(w->path);
    free(w);
}

ntk_status ntk_npy_writer_open(const char *path, size_t rows, size_t cols, int ndim, int dtype_f32,
                               ntk_npy_writer **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_writer_open: output is NULL");
    *out = NULL;
    if (!path || !*path) return ntk_set_error(NTK_ERR_ARG, "output path is empty");
    const int f32 = dtype_f32 != 0;
    size_t bytes;
    NTK_TRY(check_shape("ntk_npy_writer_open", rows, cols, ndim, f32 ? 4 : 8, &bytes));
    unsigned char pre[256];
    size_t plen = npy_preamble(rows, cols, ndim, f32, pre);
    if (bytes > SIZE_MAX - plen)
        return ntk_set_error(NTK_ERR_ARG, "ntk_npy_writer_open: %zu x %zu overflows", rows, cols);
    ntk_npy_writer *w = ntk_calloc(1, sizeof *w, "npy writer");
    if (!w) return NTK_ERR_NOMEM;
    w->rows = rows;
    w->cols = cols;
    w->f32 = f32;
    w->path = strdup(path);
    ntk_status st = w->path ? NTK_OK : ntk_set_error(NTK_ERR_NOMEM, "%s: out of memory", path);
    if (st == NTK_OK && (f32 || host_big_endian()) &&
        !(w->chunk = ntk_alloc(NPY_CHUNK, f32 ? 4 : 8, "npy writer buffer")))
        st = NTK_ERR_NOMEM;
    /* the temporary file first: a missing, read-only or forbidden directory
     * is named as such, before the room it would need */
    if (st == NTK_OK) st = ntk_stream_open(path, &w->s);
    if (st == NTK_OK) st = check_room(path, plen + bytes);
    if (st == NTK_OK) st = ntk_stream_write(w->s, pre, plen);
    if (st != NTK_OK) {
        ntk_npy_writer_discard(w);
        return st;
    }
    *out = w;
    return NTK_OK;
}

ntk_status ntk_npy_writer_rows(ntk_npy_writer *w, const double *x, size_t nrows)
{
    ntk_clear_error();
    if (!w) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_writer_rows: writer is NULL");
    if (nrows > w->rows - w->done)
        return ntk_set_error(NTK_ERR_ARG, "%s: %zu more rows would make %zu, but the array has "
                             "%zu", w->path, nrows, w->done + nrows, w->rows);
    if (w->failed) return ntk_set_error(NTK_ERR_IO, "%s: an earlier write failed", w->path);
    size_t count = nrows * w->cols;   /* <= rows * cols, checked at open */
    if (!x && count) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_writer_rows: values are NULL");
    ntk_status st = NTK_OK;
    if (!w->chunk) {
        st = ntk_stream_write(w->s, x, count * sizeof(double));
    } else {
        const size_t esz = w->f32 ? 4 : 8;
        for (size_t i = 0; st == NTK_OK && i < count; i += NPY_CHUNK) {
            size_t k = count - i < NPY_CHUNK ? count - i : NPY_CHUNK;
            size_t bad = encode_values(x + i, k, w->f32, w->chunk), at = i + bad;
            st = bad < k ? beyond_f32(w->path, x[at], w->done + at / w->cols, at % w->cols)
                         : ntk_stream_write(w->s, w->chunk, k * esz);
        }
    }
    if (st != NTK_OK) {
        w->failed = 1;
        return st;
    }
    w->done += nrows;
    return NTK_OK;
}

ntk_status ntk_npy_writer_commit(ntk_npy_writer *w)
{
    ntk_clear_error();
    if (!w) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_writer_commit: writer is NULL");
    ntk_status st;
    if (w->failed) {
        st = ntk_set_error(NTK_ERR_IO, "%s: an earlier write failed; the file is not put in "
                           "place", w->path);
    } else if (w->done != w->rows) {
        st = ntk_set_error(NTK_ERR_ARG, "%s: %zu of %zu rows were written; the file is not put "
                           "in place", w->path, w->done, w->rows);
    } else {
        st = ntk_stream_commit(w->s);
        w->s = NULL;   /* commit frees the stream */
    }
    ntk_npy_writer_discard(w);
    return st;
}
