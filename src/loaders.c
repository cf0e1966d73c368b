/* File loaders: CSV, CIFAR-10 binary batches and MNIST idx files, and the
 * opening of input files that every reader shares. Every loader reads the
 * whole file after an estimate of the memory it will need (the file plus its
 * float64 copy), validates it completely, and only then fills its outputs. */
#include "internal.h"
#include "readers.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Opening input files
 * ------------------------------------------------------------------- */

/* The refusal of a file of type `mode`, with what to do instead. */
static ntk_status not_regular(const char *path, mode_t mode)
{
    if (S_ISDIR(mode))
        return ntk_set_error(NTK_ERR_IO, "%s is a directory, not a regular file; pass the path "
                             "of a data file", path);
    const char *kind = S_ISFIFO(mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(mode) ? "a character device"
                       : S_ISBLK(mode) ? "a block device"
                       : S_ISSOCK(mode) ? "a socket"
                                        : "not a regular file";
    return ntk_set_error(NTK_ERR_IO, "%s is %s, not a regular file; inputs are read only from "
                         "regular files, so save the data to a file and pass its path", path,
                         kind);
}

/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
 * before fstat could refuse it. */
ntk_status ntk_input_open(const char *path, FILE **fp, size_t *size)
{
    *fp = NULL;
    *size = 0;
    if (!path) return ntk_set_error(NTK_ERR_ARG, "file path is NULL");
    if (!*path) return ntk_set_error(NTK_ERR_ARG, "file path is empty; name an input file");
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return ntk_set_error(NTK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    ntk_status st = NTK_OK;
    if (fstat(fd, &sb) != 0)
        st = ntk_set_error(NTK_ERR_IO, "%s: cannot inspect: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = not_regular(path, sb.st_mode);
    else if (sb.st_size < 0 || (uintmax_t)sb.st_size >= SIZE_MAX)
        st = ntk_set_error(NTK_ERR_IO, "%s: file size %jd is not usable", path,
                           (intmax_t)sb.st_size);
    int flags = st == NTK_OK ? fcntl(fd, F_GETFL) : -1;
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = st == NTK_OK ? fdopen(fd, "rb") : NULL;
    if (st == NTK_OK && !f)
        st = ntk_set_error(NTK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (st != NTK_OK) {
        close(fd);
        return st;
    }
    *fp = f;
    *size = (size_t)sb.st_size;
    return NTK_OK;
}

/* out_per_byte is the number of output bytes the caller derives from one
 * file byte. */
ntk_status ntk_input_read(const char *path, size_t out_per_byte, unsigned char **buf,
                          size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *fp;
    size_t size;
    NTK_TRY(ntk_input_open(path, &fp, &size));
    ntk_status st = ntk_mem_check(ntk_size_mul(size, 1 + out_per_byte, 1, 1), 0, path);
    if (st == NTK_OK && !(*buf = ntk_alloc(size + 1, 1, path))) st = NTK_ERR_NOMEM;
    size_t got = st == NTK_OK ? fread(*buf, 1, size, fp) : 0;
    if (st == NTK_OK && got != size)
        st = ntk_set_error(NTK_ERR_IO, "%s: read %zu of its %zu bytes (%s); was it changed while "
                           "being read?", path, got, size,
                           ferror(fp) ? strerror(errno) : "early end of file");
    fclose(fp);
    if (st != NTK_OK) {
        free(*buf);
        *buf = NULL;
        return st;
    }
    (*buf)[size] = '\0';
    *len = size;
    return NTK_OK;
}

static ntk_status array_alloc(ntk_array *a, size_t rows, size_t cols, int ndim, const char *what)
{
    a->data = ntk_alloc(rows * cols, sizeof(double), what);
    if (!a->data) return NTK_ERR_NOMEM;
    a->rows = rows;
    a->cols = cols;
    a->ndim = ndim;
    return NTK_OK;
}

static int is_gzip(const unsigned char *buf, size_t len)
{
    return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

/* ---------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------- */

typedef struct {
    ntk_csv_header header;   /* how the first line is taken */
    size_t rows, cols;       /* data rows, fields per data row */
    size_t first_line;       /* line number of the first data row */
    size_t header_cols;      /* fields of the header line, 0 without one */
    size_t tcol;             /* target column (second pass) */
} csv_shape;

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Cell [*s, *e) without surrounding blanks. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_blank(**s)) (*s)++;
    while (*e > *s && is_blank((*e)[-1])) (*e)--;
}

/* Cell [s, e) -> *v; 0 if it is not entirely a number. The text after e is
 * ',', a blank, a line end or the terminating NUL, none of which strtod
 * consumes. */
static int cell_number(const char *s, const char *e, double *v)
{
    trim(&s, &e);
    if (s == e) return 0;
    char *end;
    *v = strtod(s, &end);
    return end == e;
}

static const char *cell_end(const char *s, const char *e)
{
    const char *c = memchr(s, ',', (size_t)(e - s));
    return c ? c : e;
}

static size_t count_fields(const char *s, const char *e)
{
    size_t k = 1;
    for (const char *c = s; c < e; c++) k += *c == ',';
    return k;
}

/* Cell [s, e), trimmed, cut to 40 bytes and without control bytes, for
 * messages -> out[41]. */
static const char *shown_cell(const char *s, const char *e, char *out)
{
    trim(&s, &e);
    return ntk_printable(s, (size_t)(e - s), out, 41);
}

/* Whether the first non-blank line [s, e) is a header: always with
 * header = YES, never with NO; with AUTO only when none of its cells is a
 * number. Under AUTO a line with numbers and text both is refused: it is a
 * header with a numeric name or data with a typo, and guessing loses a row
 * or keeps a bad one. */
static ntk_status first_line_is_header(const char *path, size_t line, const char *s,
                                       const char *e, ntk_csv_header mode, int *is_header)
{
    *is_header = mode == NTK_CSV_HEADER_YES;
    if (mode != NTK_CSV_HEADER_AUTO) return NTK_OK;
    size_t numbers = 0, texts = 0, col = 0, text_col = 0;
    const char *ts = s, *te = s;
    for (const char *c = s;;) {
        const char *ce = cell_end(c, e);
        double v;
        col++;
        if (cell_number(c, ce, &v)) {
            numbers++;
        } else if (texts++ == 0) {
            text_col = col;
            ts = c;
            te = ce;
        }
        if (ce == e) break;
        c = ce + 1;
    }
    *is_header = numbers == 0;
    if (numbers == 0 || texts == 0) return NTK_OK;
    char shown[41];
    return ntk_set_error(NTK_ERR_FORMAT, "%s: line %zu mixes numbers and text (column %zu is "
                         "'%s'), so it is neither clearly a header nor data; use header=yes "
                         "if it is a header, or header=no if it is data (and fix that cell)",
                         path, line, text_col, shown_cell(ts, te, shown));
}

static ntk_status bad_cell(const char *path, size_t line, size_t col, const char *s,
                           const char *e, int hint_header)
{
    char shown[41], hint[96] = "";
    shown_cell(s, e, shown);
    if (hint_header)
        snprintf(hint, sizeof hint, "; if line %zu is a header, use header=yes", line);
    if (!shown[0])
        return ntk_set_error(NTK_ERR_FORMAT, "%s: line %zu, column %zu: empty cell; every "
                             "cell after the optional header must be a number%s", path, line,
                             col, hint);
    return ntk_set_error(NTK_ERR_FORMAT, "%s: line %zu, column %zu: '%s' is not a number; every "
                         "cell after the optional header must be numeric%s", path, line, col,
                         shown, hint);
}

/* Data line [s, e): checks its width and cells; stores them into row
 * sh->rows of X (rows, cols−1) and y when X is not NULL. */
static ntk_status csv_row(const char *path, size_t line, const char *s, const char *e,
                          csv_shape *sh, double *X, double *y)
{
    size_t fields = count_fields(s, e);
    if (sh->rows == 0 && !X) {
        sh->cols = fields;
        sh->first_line = line;
    }
    if (fields != sh->cols)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: line %zu has %zu fields but the first data "
                             "row (line %zu) has %zu; every row needs the same number of "
                             "columns", path, line, fields, sh->first_line, sh->cols);
    const char *c = s;
    for (size_t j = 0; j < fields; j++) {
        const char *ce = cell_end(c, e);
        double v;
        if (!cell_number(c, ce, &v))
            return bad_cell(path, line, j + 1, c, ce,
                            sh->rows == 0 && sh->header == NTK_CSV_HEADER_NO);
        if (!isfinite(v))
            return ntk_set_error(NTK_ERR_NONFINITE, "%s: line %zu, column %zu is %s; clean the "
                                 "data first", path, line, j + 1, isnan(v) ? "NaN" : "Inf");
        if (X && j == sh->tcol) y[sh->rows] = v;
        else if (X) X[sh->rows * (sh->cols - 1) + (j > sh->tcol ? j - 1 : j)] = v;
        c = ce + 1;
    }
    sh->rows++;
    return NTK_OK;
}

/* One pass over text[0, len): a UTF-8 byte order mark is skipped; the first
 * non-blank line is a header or data as sh->header says; blank lines are
 * skipped; "\r\n" ends are accepted. */
static ntk_status csv_scan(const char *path, const char *text, size_t len, csv_shape *sh,
                           double *X, double *y)
{
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p += 3;
    int first = 1;
    sh->rows = 0;
    for (size_t line = 1; p < end; line++) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *next = e ? e + 1 : end;
        if (!e) e = end;
        if (e > p && e[-1] == '\r') e--;
        const char *s = p, *t = e;
        trim(&s, &t);
        p = next;
        if (s == t) continue;
        int is_header = 0;
        if (first) NTK_TRY(first_line_is_header(path, line, s, t, sh->header, &is_header));
        first = 0;
        if (is_header) sh->header_cols = count_fields(s, t);
        else NTK_TRY(csv_row(path, line, s, t, sh, X, y));
    }
    return NTK_OK;
}

/* Shape found by the first pass, checked; target_col resolved into sh->tcol. */
static ntk_status csv_check_shape(const char *path, int target_col, csv_shape *sh)
{
    if (sh->rows == 0)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: no data rows (the file is empty or holds only "
                             "a header); the inputs need at least one row of numbers", path);
    if (sh->header_cols && sh->header_cols != sh->cols)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: the header has %zu columns but the data rows "
                             "have %zu", path, sh->header_cols, sh->cols);
    if (sh->cols < 2)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: needs at least 2 columns (features and a "
                             "target), found 1; put the features and the target on each line, "
                             "separated by ','", path);
    if (target_col < -1 || (target_col >= 0 && (size_t)target_col >= sh->cols))
        return ntk_set_error(NTK_ERR_ARG, "%s: target column %d is out of range; use 0..%zu, or "
                             "-1 for the last", path, target_col, sh->cols - 1);
    sh->tcol = target_col == -1 ? sh->cols - 1 : (size_t)target_col;
    return NTK_OK;
}

static ntk_status load_csv_text(const char *path, const char *text, size_t len, int target_col,
                                ntk_csv_header header, ntk_array *X, ntk_array *y)
{
    if (header != NTK_CSV_HEADER_AUTO && header != NTK_CSV_HEADER_YES &&
        header != NTK_CSV_HEADER_NO)
        return ntk_set_error(NTK_ERR_ARG, "CSV header mode %d is not one of NTK_CSV_HEADER_AUTO, "
                             "_YES, _NO", (int)header);
    csv_shape sh = {0};
    sh.header = header;
    NTK_TRY(csv_scan(path, text, len, &sh, NULL, NULL));
    NTK_TRY(csv_check_shape(path, target_col, &sh));
    NTK_TRY(array_alloc(X, sh.rows, sh.cols - 1, 2, path));
    NTK_TRY(array_alloc(y, sh.rows, 1, 1, path));
    return csv_scan(path, text, len, &sh, X->data, y->data);
}

/* X (rows, cols−1), y (rows). */
ntk_status ntk_csv_parse(const char *name, const char *text, size_t len, int target_col,
                         ntk_csv_header header, ntk_array *X, ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_csv_parse: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    if (!text) return ntk_set_error(NTK_ERR_ARG, "ntk_csv_parse: text is NULL");
    ntk_status st = load_csv_text(name ? name : "(buffer)", text, len, target_col, header, X, y);
    if (st != NTK_OK) {
        ntk_array_free(X);
        ntk_array_free(y);
    }
    return st;
}

ntk_status ntk_load_csv(const char *path, int target_col, ntk_csv_header header, ntk_array *X,
                        ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_load_csv: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    unsigned char *buf;
    size_t len;
    NTK_TRY(ntk_input_read(path, 4, &buf, &len));   /* ≤ (len+1)/2 cells of 8 bytes */
    ntk_status st = ntk_csv_parse(path, (const char *)buf, len, target_col, header, X, y);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------
 * Labelled byte images (CIFAR-10, MNIST)
 * ------------------------------------------------------------------- */

/* Image i has its label at lab[i·lab_stride] and d pixel bytes at pix + i·pix_stride. */
typedef struct {
    const unsigned char *lab, *pix;
    size_t lab_stride, pix_stride, count, d;
} byte_images;

/* pos = neg = −1: every class (y is the label 0..9) */
static ntk_status check_classes(int pos, int neg)
{
    if (pos == -1 && neg == -1) return NTK_OK;
    if (pos < 0 || pos > 9 || neg < 0 || neg > 9 || pos == neg)
        return ntk_set_error(NTK_ERR_ARG, "classes must be two different digits in 0..9 (got "
                             "pos = %d, neg = %d)", pos, neg);
    return NTK_OK;
}

static int wanted(unsigned lab, int pos, int neg)
{
    return pos < 0 || lab == (unsigned)pos || lab == (unsigned)neg;
}

/* Images of class pos (y = +1) or neg (y = −1), or of every class (pos =
 * neg = −1, y = the label), the first max_n of them (0: all), pixels/255 ->
 * X (k,d), y (k). */
static ntk_status take_classes(const char *path, const byte_images *im, int pos, int neg,
                               size_t max_n, ntk_array *X, ntk_array *y)
{
    size_t k = 0;
    for (size_t i = 0; i < im->count; i++) {
        unsigned lab = im->lab[i * im->lab_stride];
        if (lab > 9)
            return ntk_set_error(NTK_ERR_FORMAT, "%s: image %zu has label %u; labels must be "
                                 "0..9 (is this the right file format?)", path, i, lab);
        if (wanted(lab, pos, neg) && (max_n == 0 || k < max_n)) k++;
    }
    if (k == 0)
        return ntk_set_error(NTK_ERR_ARG, "%s holds no images of class %d or %d; check the "
                             "class numbers", path, pos, neg);
    NTK_TRY(array_alloc(X, k, im->d, 2, path));
    NTK_TRY(array_alloc(y, k, 1, 1, path));
    for (size_t i = 0, r = 0; r < k; i++) {
        unsigned lab = im->lab[i * im->lab_stride];
        if (!wanted(lab, pos, neg)) continue;
        const unsigned char *px = im->pix + i * im->pix_stride;
        for (size_t j = 0; j < im->d; j++) X->data[r * im->d + j] = px[j] / 255.0;
        y->data[r++] = pos < 0 ? (double)lab : lab == (unsigned)pos ? 1.0 : -1.0;
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, each 32x32 row-major), kept in file order.
 * ------------------------------------------------------------------- */

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)

static ntk_status cifar_parse(const char *path, const unsigned char *buf, size_t len, int pos,
                              int neg, size_t max_n, ntk_array *X, ntk_array *y)
{
    NTK_TRY(check_classes(pos, neg));
    if (is_gzip(buf, len))
        return ntk_set_error(NTK_ERR_FORMAT, "%s is gzip-compressed; extract the binary batch "
                             "files (data_batch_*.bin) first", path);
    if (len == 0)
        return ntk_set_error(NTK_ERR_FORMAT, "%s is empty; pass a CIFAR-10 binary batch "
                             "(data_batch_*.bin, records of 1 label byte + 3072 pixels)", path);
    if (len % CIFAR_RECORD != 0)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: %zu bytes is not a whole number of %d-byte "
                             "CIFAR-10 records (1 label byte + 3072 pixels); the file is "
                             "truncated or not a CIFAR-10 binary batch", path, len, CIFAR_RECORD);
    byte_images im = {buf, buf + 1, CIFAR_RECORD, CIFAR_RECORD, len / CIFAR_RECORD, CIFAR_PIXELS};
    return take_classes(path, &im, pos, neg, max_n, X, y);
}

ntk_status ntk_cifar10_parse(const char *name, const unsigned char *buf, size_t len, int pos,
                             int neg, size_t max_n, ntk_array *X, ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_cifar10_parse: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    if (!buf && len > 0) return ntk_set_error(NTK_ERR_ARG, "ntk_cifar10_parse: buffer is NULL");
    ntk_status st = cifar_parse(name ? name : "(buffer)", buf, len, pos, neg, max_n, X, y);
    if (st != NTK_OK) {
        ntk_array_free(X);
        ntk_array_free(y);
    }
    return st;
}

/* X (k, 3072) with pixels in [0,1], y (k) = ±1. */
ntk_status ntk_load_cifar10(const char *path, int pos, int neg, size_t max_n, ntk_array *X,
                            ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_load_cifar10: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    NTK_TRY(check_classes(pos, neg));
    unsigned char *buf;
    size_t len;
    NTK_TRY(ntk_input_read(path, sizeof(double), &buf, &len));
    ntk_status st = ntk_cifar10_parse(path, buf, len, pos, neg, max_n, X, y);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------
 * MNIST idx files: big-endian u32 magic (2051 images, 2049 labels), then the
 * dimensions (n, rows, cols) or (n), then unsigned bytes.
 * ------------------------------------------------------------------- */

#define IDX_IMAGES_MAGIC 2051u
#define IDX_LABELS_MAGIC 2049u

static size_t be32(const unsigned char *b)
{
    return (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | (size_t)b[3];
}

/* Header of an idx file with ndims dimensions -> dims; the size of the rest
 * must be their product. */
static ntk_status idx_header(const char *path, const unsigned char *buf, size_t len,
                             size_t magic, int ndims, const char *kind, size_t *dims)
{
    size_t hdr = 4 + 4 * (size_t)ndims;
    if (is_gzip(buf, len))
        return ntk_set_error(NTK_ERR_FORMAT, "%s is gzip-compressed; gunzip it first", path);
    if (len < hdr || be32(buf) != magic)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: not an MNIST %s file (it must start with the "
                             "magic number %zu); check the file and the argument order", path,
                             kind, magic);
    size_t body = 1;
    for (int k = 0; k < ndims; k++) {
        dims[k] = be32(buf + 4 + 4 * k);
        body = ntk_size_mul(body, dims[k], 1, 1);
    }
    if (body != len - hdr)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: the header promises %zu bytes of %s but the "
                             "file holds %zu; it is truncated or corrupt", path, body, kind,
                             len - hdr);
    return NTK_OK;
}

static ntk_status mnist_parse(const char *images, const unsigned char *ib, size_t ilen,
                              const char *labels, const unsigned char *lb, size_t llen, int pos,
                              int neg, size_t max_n, ntk_array *X, ntk_array *y)
{
    size_t idim[3], ldim[1];
    NTK_TRY(check_classes(pos, neg));
    NTK_TRY(idx_header(images, ib, ilen, IDX_IMAGES_MAGIC, 3, "images (idx3-ubyte)", idim));
    NTK_TRY(idx_header(labels, lb, llen, IDX_LABELS_MAGIC, 1, "labels (idx1-ubyte)", ldim));
    if (idim[0] != ldim[0])
        return ntk_set_error(NTK_ERR_FORMAT, "%s has %zu images but %s has %zu labels; use "
                             "matching files", images, idim[0], labels, ldim[0]);
    if (idim[0] == 0)
        return ntk_set_error(NTK_ERR_FORMAT, "%s holds no images (its header says 0); use a "
                             "non-empty MNIST file", images);
    size_t d = idim[1] * idim[2];
    if (d == 0)
        return ntk_set_error(NTK_ERR_FORMAT, "%s: images have zero pixels (%zu x %zu); the "
                             "header is corrupt", images, idim[1], idim[2]);
    byte_images im = {lb + 8, ib + 16, 1, d, idim[0], d};
    return take_classes(labels, &im, pos, neg, max_n, X, y);
}

ntk_status ntk_mnist_parse(const char *images, const unsigned char *ib, size_t ilen,
                           const char *labels, const unsigned char *lb, size_t llen, int pos,
                           int neg, size_t max_n, ntk_array *X, ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_mnist_parse: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    if ((!ib && ilen > 0) || (!lb && llen > 0))
        return ntk_set_error(NTK_ERR_ARG, "ntk_mnist_parse: buffer is NULL");
    ntk_status st = mnist_parse(images ? images : "(images)", ib, ilen,
                                labels ? labels : "(labels)", lb, llen, pos, neg, max_n, X, y);
    if (st != NTK_OK) {
        ntk_array_free(X);
        ntk_array_free(y);
    }
    return st;
}

/* X (k, rows·cols) with pixels in [0,1], y (k) = ±1. */
ntk_status ntk_load_mnist(const char *images, const char *labels, int pos, int neg,
                          size_t max_n, ntk_array *X, ntk_array *y)
{
    if (!X || !y) return ntk_set_error(NTK_ERR_ARG, "ntk_load_mnist: output array is NULL");
    memset(X, 0, sizeof *X);
    memset(y, 0, sizeof *y);
    NTK_TRY(check_classes(pos, neg));
    unsigned char *ib, *lb;
    size_t ilen, llen;
    NTK_TRY(ntk_input_read(images, sizeof(double), &ib, &ilen));
    ntk_status st = ntk_input_read(labels, 0, &lb, &llen);
    if (st == NTK_OK) {
        st = ntk_mnist_parse(images, ib, ilen, labels, lb, llen, pos, neg, max_n, X, y);
        free(lb);
    }
    free(ib);
    return st;
}
