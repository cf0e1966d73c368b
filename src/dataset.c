/* Datasets from specs: synthetic inputs with a teacher, or a file (npy,
 * CSV, CIFAR-10, MNIST), split into training and test rows and optionally
 * standardised with the training statistics. */
#include "readers.h"
#include "spec.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A copy of s split at ':' -> field[0..min(*count, max)); caller frees *copy. */
static ntk_status split_fields(const char *s, char **copy, char **field, int max, int *count)
{
    size_t len = strlen(s);
    *copy = ntk_alloc(len + 1, 1, "data spec");
    if (!*copy) return NTK_ERR_NOMEM;
    memcpy(*copy, s, len + 1);
    int k = 0;
    for (char *p = *copy; p; k++) {
        if (k < max) field[k] = p;
        p = strchr(p, ':');
        if (p) *p++ = '\0';
    }
    *count = k;
    return NTK_OK;
}

/* "POS,NEG" -> two class numbers (range checked by the loaders); "all" ->
 * −1, −1 (every class, one-hot targets). */
static ntk_status parse_classes(const char *spec, const char *s, int *pos, int *neg)
{
    if (strcmp(s, "all") == 0) {
        *pos = *neg = -1;
        return NTK_OK;
    }
    char *end;
    long p = strtol(s, &end, 10), q = -1;
    int ok = end != s && *end == ',';
    if (ok) {
        const char *t = end + 1;
        q = strtol(t, &end, 10);
        ok = end != t && *end == '\0';
    }
    if (!ok || p < 0 || p > 9 || q < 0 || q > 9)
        return ntk_set_error(NTK_ERR_ARG, "data '%s': classes must be 'POS,NEG' with digits "
                             "0..9, e.g. 3,5, or 'all' for every class (one-hot targets)", spec);
    *pos = (int)p;
    *neg = (int)q;
    return NTK_OK;
}

/* The labels of a data file: `rows` of them, one column (1-d or (n, 1)) or
 * k columns (an (n, k) target of k outputs). */
static ntk_status check_labels(const char *path, const ntk_array *y, size_t rows)
{
    if (y->ndim == 2 && y->cols == 0)
        return ntk_set_error(NTK_ERR_ARG, "%s has shape (%zu, 0); targets need at least one "
                             "column", path, y->rows);
    if (y->rows != rows)
        return ntk_set_error(NTK_ERR_ARG, "%s has %zu labels but the inputs have %zu rows", path,
                             y->rows, rows);
    return NTK_OK;
}

/* Inputs read from `path` need at least one row and one column. */
static ntk_status check_inputs_shape(const char *spec, const char *path, const ntk_array *X)
{
    if (X->rows > 0 && X->cols > 0) return NTK_OK;
    char shape[64];
    if (X->ndim == 1) snprintf(shape, sizeof shape, "(%zu,)", X->rows);
    else snprintf(shape, sizeof shape, "(%zu, %zu)", X->rows, X->cols);
    return ntk_set_error(NTK_ERR_ARG, "data '%s': %s has shape %s, no %s; the inputs must be an "
                         "(n, d) array with n >= 1 rows and d >= 1 columns", spec, path, shape,
                         X->rows == 0 ? "rows" : "columns");
}

/* "X.npy[:y.npy]" */
static ntk_status load_npy_spec(const char *spec, char **f, int nf, ntk_array *X, ntk_array *y)
{
    if (nf < 2 || nf > 3)
        return ntk_set_error(NTK_ERR_ARG, "data '%s': use npy:X.npy or npy:X.npy:y.npy", spec);
    NTK_TRY(ntk_npy_read(f[1], X));
    NTK_TRY(check_inputs_shape(spec, f[1], X));
    if (nf == 2) return NTK_OK;
    NTK_TRY(ntk_npy_read(f[2], y));
    return check_labels(f[2], y, X->rows);
}

#define CSV_SPEC_FORMS "use csv:FILE or csv:FILE:OPTIONS with OPTIONS from target=COL and " \
                       "header=yes|no|auto separated by ',', e.g. csv:f.csv:target=0,header=no"

/* One CSV option [s, e) -> *col or *header; seen: bit 1 target, bit 2 header. */
static ntk_status csv_option(const char *spec, const char *s, const char *e, int *seen, long *col,
                             ntk_csv_header *header)
{
    int len = (int)(e - s);
    int is_target = has_prefix(s, "target=") && len >= 7;
    int is_header = has_prefix(s, "header=") && len >= 7;
    if ((is_target && (*seen & 1)) || (is_header && (*seen & 2)))
        return ntk_set_error(NTK_ERR_ARG, "data '%s': option '%.6s' is given twice; "
                             CSV_SPEC_FORMS, spec, s);
    if (is_target) {
        char *end;
        *col = strtol(s + 7, &end, 10);
        *seen |= 1;
        if (end == s + 7 || end != e || *col < -1 || *col > INT32_MAX)
            return ntk_set_error(NTK_ERR_ARG, "data '%s': '%.*s' needs a column number (0 for "
                                 "the first, -1 for the last); " CSV_SPEC_FORMS, spec, len, s);
        return NTK_OK;
    }
    if (is_header) {
        static const char *const words[3] = {"auto", "yes", "no"};
        static const ntk_csv_header modes[3] = {NTK_CSV_HEADER_AUTO, NTK_CSV_HEADER_YES,
                                                NTK_CSV_HEADER_NO};
        *seen |= 2;
        for (int k = 0; k < 3; k++)
            if ((size_t)(len - 7) == strlen(words[k]) && memcmp(s + 7, words[k], (size_t)(len - 7)) == 0) {
                *header = modes[k];
                return NTK_OK;
            }
        return ntk_set_error(NTK_ERR_ARG, "data '%s': '%.*s' must be header=yes, header=no or "
                             "header=auto; " CSV_SPEC_FORMS, spec, len, s);
    }
    return ntk_set_error(NTK_ERR_ARG, "data '%s': unknown CSV option '%.*s'; " CSV_SPEC_FORMS, spec,
                         len, s);
}

/* "FILE[:OPTIONS]" */
static ntk_status load_csv_spec(const char *spec, char **f, int nf, ntk_array *X, ntk_array *y)
{
    if (nf < 2 || nf > 3) return ntk_set_error(NTK_ERR_ARG, "data '%s': " CSV_SPEC_FORMS, spec);
    long col = -1;
    ntk_csv_header header = NTK_CSV_HEADER_AUTO;
    int seen = 0;
    for (const char *s = nf == 3 ? f[2] : NULL; s;) {
        const char *e = s + strcspn(s, ",");
        NTK_TRY(csv_option(spec, s, e, &seen, &col, &header));
        s = *e ? e + 1 : NULL;
    }
    return ntk_load_csv(f[1], (int)col, header, X, y);
}

/* Class labels 0..9 (n) -> one-hot targets (n, 10) in place. */
#define NTK_CLASSES 10
static ntk_status one_hot(const char *path, ntk_array *y)
{
    double *Y = ntk_calloc(ntk_size_mul(y->rows, NTK_CLASSES, 1, 1), sizeof(double),
                           "one-hot targets");
    if (!Y) return NTK_ERR_NOMEM;
    for (size_t i = 0; i < y->rows; i++) {
        double c = y->data[i];
        if (!(c >= 0 && c < NTK_CLASSES)) {
            free(Y);
            return ntk_set_error(NTK_ERR_FORMAT, "%s: label %g of row %zu is not a class 0..9",
                                 path, c, i);
        }
        Y[i * NTK_CLASSES + (size_t)c] = 1.0;
    }
    free(y->data);
    y->data = Y;
    y->cols = NTK_CLASSES;
    y->ndim = 2;
    return NTK_OK;
}

/* Inputs (and labels, when the source has them) named by a file spec. */
static ntk_status load_file_spec(const char *spec, size_t max_n, ntk_array *X, ntk_array *y)
{
    char *copy, *f[4];
    int nf, pos, neg;
    NTK_TRY(split_fields(spec, &copy, f, 4, &nf));
    ntk_status st;
    if (has_prefix(spec, "npy:")) {
        st = load_npy_spec(spec, f, nf, X, y);
    } else if (has_prefix(spec, "csv:")) {
        st = load_csv_spec(spec, f, nf, X, y);
    } else if (has_prefix(spec, "cifar10:")) {
        st = nf != 3 ? ntk_set_error(NTK_ERR_ARG, "data '%s': use cifar10:FILE:POS,NEG", spec)
                     : parse_classes(spec, f[2], &pos, &neg);
        if (st == NTK_OK) st = ntk_load_cifar10(f[1], pos, neg, max_n, X, y);
        if (st == NTK_OK && pos < 0) st = one_hot(f[1], y);
    } else {
        st = nf != 4 ? ntk_set_error(NTK_ERR_ARG, "data '%s': use mnist:IMAGES:LABELS:POS,NEG",
                                     spec)
                     : parse_classes(spec, f[3], &pos, &neg);
        if (st == NTK_OK) st = ntk_load_mnist(f[1], f[2], pos, neg, max_n, X, y);
        if (st == NTK_OK && pos < 0) st = one_hot(f[2], y);
    }
    if (st == NTK_OK) st = check_inputs_shape(spec, f[1], X);
    free(copy);
    return st;
}

static int is_file_spec(const char *spec)
{
    return has_prefix(spec, "npy:") || has_prefix(spec, "csv:") || has_prefix(spec, "cifar10:") ||
           has_prefix(spec, "mnist:");
}

/* rows = n + n_test synthetic inputs (train first, then test) from rng. */
static ntk_status make_synthetic(const char *spec, size_t rows, size_t d, ntk_rng *rng,
                                 ntk_array *X)
{
    NTK_TRY(ntk_mem_check(ntk_size_mul(rows, d, sizeof(double), 1), 0, "synthetic inputs"));
    X->data = ntk_alloc(rows * d, sizeof(double), "synthetic inputs");
    if (!X->data) return NTK_ERR_NOMEM;
    X->rows = rows;
    X->cols = d;
    X->ndim = 2;
    return ntk_inputs_generate(spec, rows, d, rng, X->data);
}

/* X (rows,d) -> inputs by spec; y gets the file's labels if it has any. */
static ntk_status load_inputs(const char *spec, size_t n, size_t n_test, size_t d, ntk_rng *rng,
                              ntk_array *X, ntk_array *y)
{
    if (is_file_spec(spec)) return load_file_spec(spec, n > 0 ? n + n_test : 0, X, y);
    spec_parts sp;
    NTK_TRY(spec_parse(spec, &sp));
    if (!spec_is_inputs(&sp))
        return ntk_set_error(NTK_ERR_ARG, "unknown data '%s'; choose gaussian, gaussian:decay=P, "
                             "sphere, unit-sphere, npy:X.npy[:y.npy], csv:FILE[:OPTIONS], "
                             "cifar10:FILE:POS,NEG or mnist:IMAGES:LABELS:POS,NEG", spec);
    if (d == 0 || n == 0)
        return ntk_set_error(NTK_ERR_ARG, "synthetic data '%s' need n > 0 and d > 0 (got n = "
                             "%zu, d = %zu)", spec, n, d);
    return make_synthetic(spec, n + n_test, d, rng, X);
}

/* Checks X against d and resolves n = 0 to all rows but n_test. */
static ntk_status check_split(const char *spec, const ntk_array *X, size_t *n, size_t n_test,
                              size_t d)
{
    if (d != 0 && X->cols != d)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu columns but d = %zu was asked; "
                             "pass d = 0 to take it from the file", spec, X->cols, d);
    if (*n == 0 && n_test >= X->rows)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu rows, so n_test = %zu leaves none "
                             "for training; lower n_test", spec, X->rows, n_test);
    if (*n == 0) *n = X->rows - n_test;
    if (*n > X->rows || n_test > X->rows - *n)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu rows but n + n_test = %zu + %zu "
                             "were asked; lower n or n_test", spec, X->rows, *n, n_test);
    return NTK_OK;
}

/* Labels for the first `rows` inputs: from target_spec when given (a
 * teacher of seed `seed`, noise from rng, or npy:y.npy), else the file's. */
static ntk_status resolve_labels(const char *data_spec, const char *target_spec, size_t rows,
                                 uint64_t seed, ntk_rng *rng, const ntk_array *X, ntk_array *y)
{
    if (!target_spec || !*target_spec) {
        if (!y->data)
            return ntk_set_error(NTK_ERR_ARG, "data '%s' carry no labels; give a target spec "
                                 "(e.g. linear, or npy:y.npy)", data_spec);
        return NTK_OK;
    }
    ntk_array_free(y);
    if (has_prefix(target_spec, "npy:")) {
        NTK_TRY(ntk_npy_read(target_spec + 4, y));
        return check_labels(target_spec + 4, y, X->rows);
    }
    ntk_target *t;
    NTK_TRY(ntk_target_create(target_spec, X->cols, seed, &t));
    y->data = ntk_alloc(rows, sizeof(double), "labels");
    y->rows = rows;
    y->cols = 1;
    y->ndim = 1;
    ntk_status st = y->data ? ntk_target_eval(t, X->data, rows, rng, y->data) : NTK_ERR_NOMEM;
    ntk_target_free(t);
    return st;
}

/* rows [from, from + count) of A (·,cols) -> a new array *out (NULL when count = 0). */
static ntk_status copy_rows(const double *A, size_t from, size_t count, size_t cols,
                            double **out)
{
    *out = NULL;
    if (count == 0) return NTK_OK;
    *out = ntk_alloc(count * cols, sizeof(double), "dataset split");
    if (!*out) return NTK_ERR_NOMEM;
    memcpy(*out, A + from * cols, count * cols * sizeof(double));
    return NTK_OK;
}

/* X (≥ n + n_test, d), y -> out: train rows first, test rows next. */
static ntk_status split_into(ntk_array *X, ntk_array *y, size_t n, size_t n_test, ntk_dataset *out)
{
    size_t d = X->cols, k = y->ndim == 2 ? y->cols : 1;
    out->n = n;
    out->n_test = n_test;
    out->d = d;
    out->k = k;
    NTK_TRY(copy_rows(X->data, n, n_test, d, &out->X_test));
    NTK_TRY(copy_rows(y->data, n, n_test, k, &out->y_test));
    NTK_TRY(copy_rows(y->data, 0, n, k, &out->y_train));
    if (n < X->rows && n * d > 0) {   /* keep the first n rows; realloc(p, 0) would free p */
        double *shrunk = realloc(X->data, n * d * sizeof(double));
        if (shrunk) X->data = shrunk;
    }
    out->X_train = X->data;
    X->data = NULL;
    return NTK_OK;
}

/* The rows of a separate test file appended to X (and its labels to y):
 * n_test rows of it, or all when n_test = 0. *n_test gets the count.
 * labels_used 0 (a target spec will label every row): both files' labels
 * are dropped, whatever their shapes. */
static ntk_status append_test_file(const char *test_spec, size_t *n_test, ntk_array *X,
                                   ntk_array *y, int labels_used)
{
    if (!is_file_spec(test_spec))
        return ntk_set_error(NTK_ERR_ARG, "test data '%s' must be a file: npy:X.npy[:y.npy], "
                             "csv:FILE[:OPTIONS], cifar10:... or mnist:...", test_spec);
    ntk_array Xt = {0}, yt = {0};
    ntk_status st = load_file_spec(test_spec, *n_test, &Xt, &yt);
    if (st == NTK_OK && Xt.cols != X->cols)
        st = ntk_set_error(NTK_ERR_ARG, "test data '%s' have %zu columns but the training data "
                           "have %zu", test_spec, Xt.cols, X->cols);
    if (st == NTK_OK && *n_test > Xt.rows)
        st = ntk_set_error(NTK_ERR_ARG, "test data '%s' have %zu rows but n_test = %zu were "
                           "asked", test_spec, Xt.rows, *n_test);
    if (!labels_used) {
        /* a target spec replaces the labels of both files: theirs are not read */
        ntk_array_free(y);
        ntk_array_free(&yt);
    }
    if (st == NTK_OK && !!y->data != !!yt.data)
        st = ntk_set_error(NTK_ERR_ARG, "the training data carry %slabels but test data '%s' "
                           "%s; give both files labels, or a target spec", y->data ? "" : "no ",
                           test_spec, yt.data ? "do" : "do not");
    size_t k = y->ndim == 2 ? y->cols : 1, kt = yt.ndim == 2 ? yt.cols : 1;
    if (st == NTK_OK && y->data && k != kt)
        st = ntk_set_error(NTK_ERR_ARG, "the training targets have %zu columns but those of test "
                           "data '%s' have %zu; give both the same outputs", k, test_spec, kt);
    size_t nt = *n_test ? *n_test : Xt.rows, rows = X->rows + nt;
    double *Xa = st == NTK_OK ? ntk_alloc(rows * X->cols, sizeof(double), "training and test inputs") : NULL;
    double *ya = st == NTK_OK && y->data ? ntk_alloc(rows * k, sizeof(double), "labels") : NULL;
    if (st == NTK_OK && (!Xa || (y->data && !ya))) st = NTK_ERR_NOMEM;
    if (st == NTK_OK) {
        memcpy(Xa, X->data, X->rows * X->cols * sizeof(double));
        memcpy(Xa + X->rows * X->cols, Xt.data, nt * X->cols * sizeof(double));
        free(X->data);
        X->data = Xa, Xa = NULL;
        if (ya) {
            memcpy(ya, y->data, X->rows * k * sizeof(double));
            memcpy(ya + X->rows * k, yt.data, nt * k * sizeof(double));
            free(y->data);
            y->data = ya, ya = NULL;
            y->rows = rows;
        }
        X->rows = rows;
        *n_test = nt;
    }
    free(Xa), free(ya);
    ntk_array_free(&Xt);
    ntk_array_free(&yt);
    return st;
}

static ntk_status dataset_build(const char *data_spec, const char *target_spec, size_t n,
                                size_t n_test, size_t d, uint64_t seed, int standardize,
                                const char *test_spec, ntk_dataset *out, ntk_array *X,
                                ntk_array *y)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);                       /* inputs, then label noise */
    if (test_spec && *test_spec) {
        /* training rows from data_spec (n of them, or all), test rows from test_spec */
        if (!is_file_spec(data_spec))
            return ntk_set_error(NTK_ERR_ARG, "a separate test file needs file training data, "
                                 "not '%s'", data_spec);
        NTK_TRY(load_inputs(data_spec, n, 0, d, &rng, X, y));
        NTK_TRY(check_split(data_spec, X, &n, 0, d));
        X->rows = n;   /* the rows past n are not used */
        if (y->data) y->rows = n;
        NTK_TRY(append_test_file(test_spec, &n_test, X, y, !target_spec || !*target_spec));
    } else {
        NTK_TRY(load_inputs(data_spec, n, n_test, d, &rng, X, y));
        NTK_TRY(check_split(data_spec, X, &n, n_test, d));
    }
    if (standardize) {
        double *mean = ntk_alloc(X->cols, sizeof(double), "column means");
        if (!mean) return NTK_ERR_NOMEM;
        double scale;
        ntk_status st = ntk_standardize_fit(X->data, n, X->cols, mean, &scale);
        if (st == NTK_OK) ntk_standardize_apply(X->data, n + n_test, X->cols, mean, scale);
        free(mean);
        NTK_TRY(st);
        /* test rows far outside the training spread can leave the double range */
        for (size_t i = 0; i < (n + n_test) * X->cols; i++)
            if (!isfinite(X->data[i]))
                return ntk_set_error(NTK_ERR_ARG, "data '%s': standardised with the training "
                                     "rows' scale %.3g, %s row %zu leaves the double range; "
                                     "rescale the data or drop standardisation", data_spec,
                                     scale, i / X->cols < n ? "training" : "test",
                                     i / X->cols);
    }
    NTK_TRY(resolve_labels(data_spec, target_spec, n + n_test, seed + 1, &rng, X, y));
    return split_into(X, y, n, n_test, out);
}

ntk_status ntk_dataset_make(const ntk_dataset_spec *spec, ntk_dataset *out)
{
    if (!out || !spec) return ntk_set_error(NTK_ERR_ARG, "ntk_dataset_make: spec or out is NULL");
    memset(out, 0, sizeof *out);
    const char *data_spec = spec->data, *target_spec = spec->target;
    size_t n = spec->n, n_test = spec->n_test, d = spec->d;
    uint64_t seed = spec->seed;
    int standardize = spec->standardize;
    if (!data_spec || !*data_spec) return ntk_set_error(NTK_ERR_ARG, "data spec is empty");
    if (n_test > SIZE_MAX / 2 || n > SIZE_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "n = %zu or n_test = %zu is too large", n, n_test);
    ntk_array X = {0}, y = {0};
    ntk_status st = dataset_build(data_spec, target_spec, n, n_test, d, seed, standardize,
                                  spec->test, out, &X, &y);
    ntk_array_free(&X);
    ntk_array_free(&y);
    if (st != NTK_OK) ntk_dataset_free(out);
    return st;
}

void ntk_dataset_free(ntk_dataset *ds)
{
    if (!ds) return;
    free(ds->X_train);
    free(ds->y_train);
    free(ds->X_test);
    free(ds->y_test);
    memset(ds, 0, sizeof *ds);
}

