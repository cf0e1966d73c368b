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
    {"y", 1, "y.npy", "training targets (n) or (n, k) for k outputs, e.g. one-hot classes (required)"},
    {"x-test", 1, "Xt.npy", "test inputs (nt, d) (required)"},
    {"y-test", 1, "yt.npy", "test targets (nt) or (nt, k) (required)"},
    {"ridge", 1, "LIST", "ridge values lambda, comma-separated (default 1e-6)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final | init (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds"},
    {"mem-limit", 1, "BYTES", "memory budget for the kernels, the solver and their scratch (default: "
                              "90% of available memory)"},
    {"solver", 1, "S", "auto | cholesky (stored kernels, exact) | cg (conjugate gradients on a "
                       "kernel operator); auto: cholesky when the kernels fit the budget"},
    {"operator", 1, "MODE", "cg: auto | dense | dense-f32 | matrix-free (auto: the first that fits "
                            "the budget, in that order)"},
    {"cg-rtol", 1, "R", "cg: stop at relative residual R for every output (default 1e-8)"},
    {"cg-max-iter", 1, "N", "cg: operator products allowed per ridge (default 1000)"},
    {"precond-rank", 1, "R", "cg: rank of the randomly pivoted Cholesky preconditioner (default: "
                             "min(n, 1000), within the budget; 0: none)"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
    {"json", 0, NULL, "print a JSON list of {ridge, train_mse, test_mse[, accuracy]}"},
    {"out", 1, "DIR", "write pred_train_I.npy, pred_test_I.npy (ridge I) and results.json into DIR"},
    {"force", 0, NULL, "write into a non-empty --out, replacing the files ntkit wrote there"},
};
#define NKRR_FLAGS (sizeof krr_flags / sizeof krr_flags[0])

/* cli/cli.h */
int cli_load_targets(const char *flag, const char *path, size_t n, size_t want, ntk_array *y)
{
    if (ntk_npy_read(path, y) != NTK_OK) return cli_fail_lib(flag);
    if (y->rows != n || (want && y->cols != want)) {
        int r = want ? cli_fail("%s %s has shape (%zu, %zu) but (%zu, %zu) is needed", flag, path,
                                y->rows, y->cols, n, want)
                     : cli_fail("%s %s has %zu rows but the inputs have %zu; it must be (%zu,) or "
                                "(%zu, k)", flag, path, y->rows, n, n, n);
        ntk_array_free(y);
        return r;
    }
    return 0;
}

int cli_ridge_list(const char *list, double **ridges, int *nr)
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

double cli_mse(const double *f, const double *y, size_t n, size_t k)
{
    double s = 0.0;
    for (size_t i = 0; i < n * k; i++) s += (f[i] - y[i]) * (f[i] - y[i]);
    return s / (double)n;
}

double cli_accuracy(const double *f, const double *y, size_t n, size_t k)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        size_t af = 0, ay = 0;
        for (size_t j = 1; j < k; j++) {
            if (f[i * k + j] > f[i * k + af]) af = j;
            if (y[i * k + j] > y[i * k + ay]) ay = j;
        }
        hits += af == ay;
    }
    return (double)hits / (double)n;
}

typedef struct {
    ntk_array X, y, Xt, yt;
    size_t n, nt, k;
    double *K, *Kt;             /* cholesky: the stored kernels */
    double *coef, *f, *ft;
    int cg;                     /* 1: conjugate gradients on op */
    ntk_op *op;
    ntk_nystrom *pre;           /* cg: one preconditioner for every ridge */
    cli_kernel_held held;       /* what op's description points to */
    ntk_cg_config cgc;
    ntk_cg_info info;           /* of the last solve */
} krr_problem;

static void krr_free(krr_problem *p)
{
    free(p->K), free(p->Kt), free(p->coef), free(p->f), free(p->ft);
    ntk_nystrom_free(p->pre);
    ntk_op_free(p->op);
    cli_kernel_held_free(&p->held);
    ntk_array_free(&p->X), ntk_array_free(&p->y), ntk_array_free(&p->Xt), ntk_array_free(&p->yt);
}

/* krr's --x, --y, --x-test, --y-test, checked against each other (cli.h;
 * also the distributed krr's). */
int cli_krr_load(const cli_args *a, const char *x_path, ntk_array *X, ntk_array *y, ntk_array *Xt,
                 ntk_array *yt)
{
    const char *yp = cli_str(a, "y", NULL), *xtp = cli_str(a, "x-test", NULL),
               *ytp = cli_str(a, "y-test", NULL);
    if (!yp || !xtp || !ytp) return cli_fail("krr needs --y, --x-test and --y-test");
    int rc = cli_load_matrix("--x", x_path, X) || cli_load_targets("--y", yp, X->rows, 0, y) ||
             cli_load_matrix("--x-test", xtp, Xt);
    if (!rc) rc = cli_load_targets("--y-test", ytp, Xt->rows, y->cols, yt);
    if (!rc && Xt->cols != X->cols)
        rc = cli_fail("--x has d = %zu but --x-test has d = %zu", X->cols, Xt->cols);
    return rc;
}

static int krr_load(const cli_args *a, const cli_kernel_opts *o, krr_problem *p)
{
    int rc = cli_krr_load(a, o->x_path, &p->X, &p->y, &p->Xt, &p->yt);
    p->n = p->X.rows, p->nt = p->Xt.rows, p->k = p->y.cols;
    return rc;
}

/* The memory plan (docs/scaling.md). cholesky stores K (n,n), its factor
 * (n,n) and K(Xt, X) (nt,n); cg stores seven (n,k) blocks, (nt,k)
 * predictions, the preconditioner's factor with its SVD workspace (about
 * 3·n·r) and the pivoting's columns (n·66), and gives the operator the rest. */
static size_t dense_bytes(size_t n, size_t nt, size_t k)
{
    return ntk_size_mul(2 * n + nt + 2 * k, n, 1, sizeof(double));
}

static size_t cg_bytes(size_t n, size_t nt, size_t k, size_t r)
{
    double b = 8.0 * ((double)n * (7.0 * (double)k + 66.0 + 3.0 * (double)r) + (double)nt * (double)k);
    return b >= 1.8e19 ? SIZE_MAX : (size_t)b;
}

static size_t krr_budget(const cli_kernel_opts *o)
{
    if (o->mem_limit) return o->mem_limit;
    size_t avail = ntk_mem_available();
    return avail ? avail / 10 * 9 : (size_t)8 << 30;
}

/* Cholesky: both kernels stored. */
static int setup_cholesky(const cli_args *a, const cli_kernel_opts *o, krr_problem *p, size_t budget)
{
    size_t n = p->n, nt = p->nt, k = p->k, need = dense_bytes(n, nt, k);
    char nb[32], bb[32];
    if (need > budget)
        return cli_fail("cholesky stores the %zu x %zu kernel, its factor and the %zu x %zu test "
                        "block: %s, over the budget of %s; use --solver cg (a kernel operator) or "
                        "raise --mem-limit", n, n, nt, n, cli_fmt_bytes(need, nb), cli_fmt_bytes(budget, bb));
    if (ntk_mem_check(need, 0, "kernel ridge regression") != NTK_OK)
        return cli_fail("%s; use --solver cg or fewer training points", ntk_errmsg());
    p->K = malloc(n * n * sizeof(double));
    p->Kt = malloc(nt * n * sizeof(double));
    if (!p->K || !p->Kt) return cli_fail("out of memory for %zu x %zu kernels", n, n);
    /* one description for both blocks: the lin kinds' trace factor is the
     * training inputs' */
    if (cli_kernel_desc(o, a, &p->X, budget - need, &p->held, NULL)) return 1;
    const ntk_kernel_desc *kd = &p->held.desc;
    if (ntk_kernel(kd, p->X.data, n, NULL, 0, p->K) != NTK_OK ||
        ntk_kernel(kd, p->Xt.data, nt, p->X.data, n, p->Kt) != NTK_OK)
        return cli_fail("%s kernel: %s", ntk_kernel_source_name(o->kind->src), ntk_errmsg());
    return 0;
}

/* cg: the preconditioner's rank within a quarter of the budget, then the
 * operator in what is left. */
static int setup_cg(const cli_args *a, const cli_kernel_opts *o, krr_problem *p, size_t budget)
{
    size_t n = p->n, nt = p->nt, k = p->k, r;
    p->cgc = ntk_cg_config_default();
    if (cli_double(a, "cg-rtol", 1e-8, 0.0, &p->cgc.rtol) ||
        cli_size(a, "cg-max-iter", 1000, 1, &p->cgc.max_iter) ||
        cli_size(a, "precond-rank", n < 1000 ? n : 1000, 0, &r))
        return 1;
    if (!(p->cgc.rtol > 0.0 && p->cgc.rtol < 1.0))
        return cli_fail("--cg-rtol %g must be in (0, 1), e.g. 1e-8", p->cgc.rtol);
    if (r > n) return cli_fail("--precond-rank %zu exceeds the %zu training points", r, n);
    if (!cli_has(a, "precond-rank"))
        while (r > 16 && cg_bytes(n, nt, k, r) > budget / 4) r /= 2;
    p->cgc.precond_rank = r;
    ntk_op_mode mode = NTK_OP_AUTO;
    if (ntk_op_mode_parse(cli_str(a, "operator", "auto"), &mode) != NTK_OK) return cli_fail_lib("--operator");
    size_t fixed = cg_bytes(n, nt, k, r);
    char fb[32], bb[32];
    if (fixed >= budget)
        return cli_fail("conjugate gradients need %s for %zu points, %zu outputs and a rank-%zu "
                        "preconditioner, over the budget of %s; lower --precond-rank or raise "
                        "--mem-limit", cli_fmt_bytes(fixed, fb), n, k, r, cli_fmt_bytes(budget, bb));
    if (cli_kernel_desc(o, a, &p->X, 0, &p->held, NULL)) return 1;
    size_t rest = budget - fixed;
    /* auto: float64 storage when it fits, else float32 (entries rounded to
     * 2^-24 relative: a product then costs one pass over 4·n² bytes instead
     * of recomputing the kernel), else matrix-free */
    if (mode == NTK_OP_AUTO)
        mode = ntk_op_mem_bytes(&p->held.desc, n, NTK_OP_DENSE, rest) <= rest ? NTK_OP_DENSE
               : ntk_op_mem_bytes(&p->held.desc, n, NTK_OP_DENSE_F32, rest) <= rest ? NTK_OP_DENSE_F32
                                                                                   : NTK_OP_MATRIX_FREE;
    ntk_status st = ntk_op_create(&p->held.desc, p->X.data, n, mode, rest, &p->op);
    if (st == NTK_ERR_NOMEM)
        return cli_fail("%s (the solver keeps %s of the budget %s); use --operator matrix-free or "
                        "raise --mem-limit", ntk_errmsg(), cli_fmt_bytes(fixed, fb), cli_fmt_bytes(budget, bb));
    if (st != NTK_OK) return cli_fail_lib("kernel operator");
    if (r && ntk_nystrom_create(p->op, r, p->cgc.seed, &p->pre) != NTK_OK)
        return cli_fail_lib("preconditioner");
    p->cgc.precond = p->pre;
    fprintf(stderr, "ntkit krr: %zu points, %s kernel operator, preconditioner rank %zu, budget %s\n",
            n, ntk_op_mode_name(ntk_op_get_mode(p->op)), r, cli_fmt_bytes(budget, bb));
    return 0;
}

static int krr_setup(const cli_args *a, const cli_kernel_opts *o, krr_problem *p)
{
    if (krr_load(a, o, p)) return 1;
    size_t n = p->n, nt = p->nt, k = p->k, budget = krr_budget(o);
    const char *solver = cli_str(a, "solver", "auto");
    if (strcmp(solver, "cg") && strcmp(solver, "cholesky") && strcmp(solver, "auto"))
        return cli_fail("--solver '%s' is not one of auto, cholesky, cg", solver);
    p->cg = !strcmp(solver, "cg") || (!strcmp(solver, "auto") && dense_bytes(n, nt, k) > budget);
    if (!p->cg && (cli_has(a, "operator") || cli_has(a, "cg-rtol") || cli_has(a, "cg-max-iter") ||
                   cli_has(a, "precond-rank")))
        cli_warn("--operator, --cg-rtol, --cg-max-iter and --precond-rank apply to --solver cg; "
                 "this run uses cholesky");
    p->coef = malloc(ntk_size_mul(n, k, 1, sizeof(double)));
    p->f = malloc(ntk_size_mul(n, k, 1, sizeof(double)));
    p->ft = malloc(ntk_size_mul(nt, k, 1, sizeof(double)));
    if (!p->coef || !p->f || !p->ft) return cli_fail("out of memory for %zu x %zu predictions", n, k);
    return p->cg ? setup_cg(a, o, p, budget) : setup_cholesky(a, o, p, budget);
}

/* Solve for one ridge: coef, then f = K coef and ft = K_t coef. */
static int krr_solve(krr_problem *p, double ridge)
{
    size_t n = p->n, nt = p->nt, k = p->k;
    if (p->cg) {
        ntk_status st = ntk_kernel_ridge_op(p->op, p->y.data, k, ridge, &p->cgc, p->coef, &p->info);
        if (st == NTK_ERR_NOCONV)
            return cli_fail("ridge %g: %s (--cg-max-iter, --precond-rank, --ridge)", ridge, ntk_errmsg());
        if (st != NTK_OK) return cli_fail_lib("--ridge");
        if (ntk_op_apply(p->op, p->coef, k, p->f) != NTK_OK ||
            ntk_op_cross_apply(p->op, p->Xt.data, nt, p->coef, k, p->ft) != NTK_OK)
            return cli_fail_lib("predictions");
        return 0;
    }
    if (ntk_kernel_ridge(p->K, n, p->y.data, k, ridge, p->coef) != NTK_OK) return cli_fail_lib("--ridge");
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)n, 1.0, p->K,
                (int)n, p->coef, (int)k, 0.0, p->f, (int)k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nt, (int)k, (int)n, 1.0, p->Kt,
                (int)n, p->coef, (int)k, 0.0, p->ft, (int)k);
    return 0;
}

static int stage_predictions(ntk_outset *set, const char *dir, const krr_problem *p, int i)
{
    char name[64], path[4096];
    int nd = p->y.ndim;
    snprintf(name, sizeof name, "pred_train_%d.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->f, p->n, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    snprintf(name, sizeof name, "pred_test_%d.npy", i);
    cli_path(path, sizeof path, dir, name);
    if (ntk_outset_add_npy(set, path, p->ft, p->nt, p->k, nd) != NTK_OK) return cli_fail_lib(NULL);
    return 0;
}

static int krr_ridges(const cli_args *a, const cli_kernel_opts *o, krr_problem *p,
                      const double *ridges, int nr)
{
    const char *out = cli_str(a, "out", NULL);
    int json = cli_has(a, "json"), rc = 0;
    ntk_outset *set = NULL;
    if (out && cli_prepare_outdir(out, cli_has(a, "force"))) return 1;
    if (out && ntk_outset_create(&set) != NTK_OK) return cli_fail_lib(NULL);
    cJSON *res = cJSON_CreateArray();
    for (int i = 0; i < nr && !rc; i++) {
        rc = krr_solve(p, ridges[i]) || (set && stage_predictions(set, out, p, i));
        if (rc) break;
        double tr = cli_mse(p->f, p->y.data, p->n, p->k), te = cli_mse(p->ft, p->yt.data, p->nt, p->k);
        double acc = p->k >= 2 ? cli_accuracy(p->ft, p->yt.data, p->nt, p->k) : NAN;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "ridge", ridges[i]);
        cJSON_AddNumberToObject(e, "train_mse", tr);
        cJSON_AddNumberToObject(e, "test_mse", te);
        if (p->k >= 2) cJSON_AddNumberToObject(e, "test_accuracy", acc);
        cJSON_AddStringToObject(e, "solver", p->cg ? "cg" : "cholesky");
        if (p->cg) {
            cJSON_AddStringToObject(e, "operator", ntk_op_mode_name(ntk_op_get_mode(p->op)));
            cJSON_AddNumberToObject(e, "cg_iterations", (double)p->info.iterations);
            cJSON_AddNumberToObject(e, "cg_residual", p->info.residual);
            cJSON_AddNumberToObject(e, "precond_rank", (double)p->info.precond_rank);
        }
        cJSON_AddItemToArray(res, e);
        if (!json) {
            printf("kernel %s ridge %-10.4g train mse %-12.6g test mse %.6g", o->kind->name,
                   ridges[i], tr, te);
            if (p->k >= 2) printf(" test accuracy %.4f", acc);
            if (p->cg) printf(" (cg: %zu iterations, residual %.2g)", p->info.iterations, p->info.residual);
            printf("\n");
        }
    }
    if (!rc && set) {
        rc = cli_commit_results(set, out, res);
    }
    if (!rc && json) {
        char *text = cJSON_PrintUnformatted(res);
        if (text) printf("%s\n", text);
        free(text);
    }
    cJSON_Delete(res);
    ntk_outset_free(set);
    return rc;
}

int cmd_krr(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, krr_flags, NKRR_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("krr", "--kind KIND --x X.npy --y y.npy --x-test Xt.npy --y-test yt.npy [options]",
                  "Kernel ridge regression f(x) = K(x, X)(lambda I + K)^-1 Y for each --ridge value,\n"
                  "with any kernel kind of 'ntkit kernel', every output column at once: one Cholesky\n"
                  "factorisation of the stored kernel, or, when the kernels do not fit --mem-limit\n"
                  "(or with --solver cg), preconditioned conjugate gradients on a kernel operator that\n"
                  "never stores K (matrix-free). Prints the train and test mean squared errors\n"
                  "(summed over outputs), and the test accuracy (argmax) for k >= 2 outputs.",
                  krr_flags, NKRR_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    cli_kernel_opts o;
    if (cli_kernel_options(&a, &o, 0) || cli_threads(&a)) return 1;
    double *ridges;
    int nr;
    if (cli_ridge_list(cli_str(&a, "ridge", "1e-6"), &ridges, &nr)) return 1;
    krr_problem p;
    memset(&p, 0, sizeof p);
    int rc = krr_setup(&a, &o, &p);
    if (!rc) rc = krr_ridges(&a, &o, &p, ridges, nr);
    krr_free(&p);
    free(ridges);
    return rc;
}
