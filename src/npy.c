/* Arrays, the .npy format (versions 1.0 and 2.0, float32/float64, C order,
 * 1-d or 2-d) and atomic file writes. */
#include "internal.h"
#include "readers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20)   /* numpy itself refuses headers over 10000 bytes */

void ntk_array_free(ntk_array *a)
{
    if (!a) return;
    free(a->data);
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

/* Header checked against the file size, then the values -> out. */
static ntk_status read_npy(npy_src *src, const char *path, size_t fsize, ntk_array *out)
{
    size_t hlen = 0, data_off = 0;
    npy_header h = {0};
    NTK_TRY(read_preamble(src, path, fsize, &hlen, &data_off));
    NTK_TRY(read_header(src, path, hlen, &h));
    size_t rows = h.shape[0], cols = h.ndim == 2 ? h.shape[1] : 1;
    size_t need = ntk_size_mul(rows, cols, (size_t)h.esz, 1);
    char desc[96];
    describe_shape(&h, desc, sizeof desc);
    if (need == SIZE_MAX)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: shape %s overflows the address space; the "
                             "header is corrupt", path, desc);
    if (need > fsize - data_off)
        return ntk_set_error(NTK_ERR_FORMAT,
                             "%s: truncated: header says %s (%zu bytes of data) but only %zu "
                             "bytes follow; the file is incomplete, re-save it",
                             path, desc, need, fsize - data_off);
    NTK_TRY(ntk_mem_check(ntk_size_mul(rows, cols, sizeof(double), 1), 0, path));
    out->data = ntk_alloc(rows * cols, sizeof(double), path);
    if (!out->data) return NTK_ERR_NOMEM;
    out->rows = rows;
    out->cols = cols;
    out->ndim = h.ndim;
    NTK_TRY(read_values(src, path, &h, rows * cols, out->data));
    return ntk_check_finite(out->data, rows * cols, path);
}

ntk_status ntk_npy_read(const char *path, ntk_array *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_read: output array is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_read: path is NULL");
    FILE *fp;
    size_t size;
    NTK_TRY(ntk_input_open(path, &fp, &size));
    npy_src src = {fp, NULL, 0, 0};
    ntk_status st = read_npy(&src, path, size, out);
    fclose(fp);
    if (st != NTK_OK) ntk_array_free(out);
    return st;
}

ntk_status ntk_npy_parse(const char *name, const unsigned char *buf, size_t len, ntk_array *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_parse: output array is NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len > 0) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_parse: buffer is NULL");
    npy_src src = {NULL, buf, len, 0};
    ntk_status st = read_npy(&src, name ? name : "(buffer)", len, out);
    if (st != NTK_OK) ntk_array_free(out);
    return st;
}

/* ---------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------- */

/* Version 1.0 preamble + '<f8' header padded with spaces and '\n' to a
 * multiple of 64 bytes -> pre; returns its length. */
static size_t npy_preamble(size_t rows, size_t cols, int ndim, unsigned char pre[256])
{
    char dict[160];
    int dlen = ndim == 1
        ? snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", rows)
        : snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                   rows, cols);
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

/* x (count) -> out (count) with each value's bytes reversed. */
static void swap_values(const double *x, size_t count, double *out)
{
    for (size_t i = 0; i < count; i++) {
        unsigned char b[8], r[8];
        memcpy(b, &x[i], 8);
        for (int k = 0; k < 8; k++) r[k] = b[7 - k];
        memcpy(&out[i], r, 8);
    }
}

/* The .npy bytes of data (rows, cols), or (rows) when ndim = 1 and
 * cols = 1, as two spans: the preamble (in pre) and the values, little-endian
 * (on a big-endian host a swapped copy in *le, which the caller frees). */
static ntk_status npy_spans(const double *data, size_t rows, size_t cols, int ndim,
                            unsigned char pre[256], ntk_span spans[2], double **le)
{
    *le = NULL;
    if (ndim != 1 && ndim != 2)
        return ntk_set_error(NTK_ERR_ARG, "ntk_npy_write: ndim must be 1 or 2, got %d", ndim);
    if (ndim == 1 && cols != 1)
        return ntk_set_error(NTK_ERR_ARG, "ntk_npy_write: a 1-d array needs cols = 1, got %zu",
                             cols);
    size_t bytes = ntk_size_mul(rows, cols, sizeof(double), 1);
    if (bytes == SIZE_MAX)
        return ntk_set_error(NTK_ERR_ARG, "ntk_npy_write: %zu x %zu overflows", rows, cols);
    if (!data && bytes > 0) return ntk_set_error(NTK_ERR_ARG, "ntk_npy_write: data is NULL");
    spans[0] = (ntk_span){pre, npy_preamble(rows, cols, ndim, pre)};
    spans[1] = (ntk_span){data, bytes};
    if (!host_big_endian()) return NTK_OK;
    *le = ntk_alloc(rows * cols, sizeof(double), "little-endian copy");
    if (!*le) return NTK_ERR_NOMEM;
    swap_values(data, rows * cols, *le);
    spans[1].buf = *le;
    return NTK_OK;
}

ntk_status ntk_outset_add_npy(ntk_outset *o, const char *path, const double *data, size_t rows,
                              size_t cols, int ndim)
{
    unsigned char pre[256];
    ntk_span spans[2];
    double *le;
    NTK_TRY(npy_spans(data, rows, cols, ndim, pre, spans, &le));
    ntk_status st = ntk_outset_add_spans(o, path, spans, 2);
    free(le);
    return st;
}

ntk_status ntk_npy_write(const char *path, const double *data, size_t rows, size_t cols,
                         int ndim)
{
    unsigned char pre[256];
    ntk_span spans[2];
    double *le;
    NTK_TRY(npy_spans(data, rows, cols, ndim, pre, spans, &le));
    ntk_status st = ntk_write_spans_atomic(path, spans, 2);
    free(le);
    return st;
}
