/* ntkit krr: kernel ridge regression with any kernel kind of ntkit kernel
 * (docs/theory.md §6). */
#include "cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * ntkit krr: kernel ridge regression, f = K(·, X)(λI + K)^{-1} y (docs/theory.md §6)
 * ==================================================================== */

static const cli_flag krr_flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "training inputs (n, d) (required)"},
    {"y", 1, "y.npy", "training targets (n) (required)"},
    {"x-test", 1, "Xt.npy", "test inputs (nt, d) (required)"},
    {"y-test", 1, "yt.npy", "test targets (nt) (required)"},
    {"ridge", 1, "LIST", "ridge values lambda, comma-separated (default 1e-6)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds"},
    {"mem-limit", 1, "BYTES", "memory budget for the empirical kernel's tiles"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
    {"json", 0, NULL, "print a JSON list of {ridge, train_mse, test_mse}"},
};
#define NKRR_FLAGS (sizeof krr_flags / sizeof krr_flags[0])

static int load_vector(const char *flag, const char *path, size_t n, ntk_array *y)
{
    if (ntk_npy_read(path, y) != NTK_OK) return cli_fail_lib(flag);
    if (y->rows * y->cols != n || (y->ndim == 2 && y->cols != 1)) {
        int r = cli_fail("%s %s has shape (%zu, %zu) but the inputs have %zu rows; it must be (%zu,)",
                         flag, path, y->rows, y->cols, n, n);
        ntk_array_free(y);
        return r;
    }
    return 0;
}

/* "1e-6,1e-3" -> ridges (caller frees); non-negative finite numbers. */
static int ridge_list(const char *list, double **ridges, int *nr)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    *nr = 0;
    *ridges = malloc(cap * sizeof **ridges);
    if (!*ridges) return cli_fail("out of memory reading --ridge");
    const char *p = list;
    for (size_t k = 0; k < cap; k++) {
        char *end;
        double r = strtod(p, &end);
        if (end == p || !(r >= 0) || !isfinite(r) || (*end && *end != ',')) {
            free(*ridges);
            *ridges = NULL;
            return cli_fail("--ridge expects non-negative numbers separated by commas (e.g. "
                            "1e-6,1e-3), got '%s'", list);
        }
        (*ridges)[(*nr)++] = r;
        p = end + (*end == ',');
    }
    return 0;
}

static double mse(const double *f, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (f[i] - y[i]) * (f[i] - y[i]);
    return s / (double)n;
}

int cmd_krr(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, krr_flags, NKRR_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("krr", "--kind KIND --x X.npy --y y.npy --x-test Xt.npy --y-test yt.npy [options]",
                  "Kernel ridge regression f(x) = K(x, X)(lambda I + K)^-1 y (Cholesky) for each\n"
                  "--ridge value, with any kernel kind of 'ntkit kernel'. Prints the train and test\n"
                  "mean squared errors.",
                  krr_flags, NKRR_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    cli_kernel_opts o;
    if (cli_kernel_options(&a, &o, 0) || cli_threads(&a)) return 1;
    const char *yp = cli_str(&a, "y", NULL), *xtp = cli_str(&a, "x-test", NULL),
               *ytp = cli_str(&a, "y-test", NULL);
    if (!yp || !xtp || !ytp) return cli_fail("krr needs --y, --x-test and --y-test");
    double *ridges;
    int nr;
    if (ridge_list(cli_str(&a, "ridge", "1e-6"), &ridges, &nr)) return 1;
    ntk_array X = {0}, y = {0}, Xt = {0}, yt = {0};
    int rc = cli_load_matrix("--x", o.x_path, &X);
    if (!rc) rc = load_vector("--y", yp, X.rows, &y);
    if (!rc) rc = cli_load_matrix("--x-test", xtp, &Xt);
    if (!rc) rc = load_vector("--y-test", ytp, Xt.rows, &yt);
    if (!rc && Xt.cols != X.cols)
        rc = cli_fail("--x has d = %zu but --x-test has d = %zu", X.cols, Xt.cols);
    size_t n = X.rows, nt = Xt.rows;
    size_t need = ntk_size_mul(2 * n + nt + 2, n, 1, sizeof(double));
    if (!rc && ntk_mem_check(need, 0, "kernel ridge regression") != NTK_OK)
        rc = cli_fail("%s; use fewer training points", ntk_errmsg());
    double *K = NULL, *Kt = NULL, *coef = NULL, *f = NULL, *ft = NULL, tf = NAN;
    if (!rc) {
        K = malloc(n * n * sizeof(double));
        Kt = malloc(nt * n * sizeof(double));
        coef = malloc(n * sizeof(double));
        f = malloc(n * sizeof(double));
        ft = malloc(nt * sizeof(double));
        if (!K || !Kt || !coef || !f || !ft) rc = cli_fail("out of memory for %zu x %zu kernels", n, n);
    }
    if (!rc) rc = cli_kernel_compute(&o, &a, &X, NULL, o.mem_limit, K, &tf);
    if (!rc) rc = cli_kernel_compute(&o, &a, &Xt, &X, o.mem_limit, Kt, &tf);
    int json = cli_has(&a, "json");
    if (!rc && json) printf("[");
    for (int k = 0; k < nr && !rc; k++) {
        if (ntk_kernel_ridge(K, n, y.data, ridges[k], coef) != NTK_OK) {
            rc = cli_fail_lib("--ridge");
            break;
        }
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, K, (int)n, coef, 1, 0.0, f, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nt, (int)n, 1.0, Kt, (int)n, coef, 1, 0.0, ft, 1);
        double tr = mse(f, y.data, n), te = mse(ft, yt.data, nt);
        if (json)
            printf("%s{\"ridge\": %.10g, \"train_mse\": %.10g, \"test_mse\": %.10g}", k ? ", " : "",
                   ridges[k], tr, te);
        else
            printf("kernel %s ridge %-10.4g train mse %-12.6g test mse %.6g\n", o.kind->name, ridges[k], tr, te);
    }
    if (!rc && json) printf("]\n");
    free(K), free(Kt), free(coef), free(f), free(ft), free(ridges);
    ntk_array_free(&X), ntk_array_free(&y), ntk_array_free(&Xt), ntk_array_free(&yt);
    return rc;
}

