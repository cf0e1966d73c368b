/* ntkit kernel: kernels of docs/theory.md §2–§4 from the command line.
 *
 * ntkit kernel --kind KIND --x X.npy [--x2 Z.npy] --out K.npy [options]
 *   Writes the kernel K (n1,n1) of X, or the cross block K (n1,n2) of X against
 *   Z, as a float64 .npy. KIND:
 *     ntk, ntk1, ntk2 (= nngp)         empirical Θ1+Θ2, Θ1, Θ2 (docs/theory.md §2) at the
 *                                      weights of a run (--weights DIR [--at
 *                                      init|final], default final) or at the
 *                                      initial weights `ntkit train` would draw
 *                                      from the network flags (--width --seed
 *                                      --act --act-param --init --input-scale
 *                                      --alpha), d taken from X;
 *     ntk-inf, ntk1-inf, ntk2-inf,     infinite-width kernels (docs/theory.md §3);
 *     nngp-inf
 *     lin, lin1, lin2                  Θ_lin = Θ_lin1 + Θ_lin2, Θ_lin1, Θ_lin2 of
 *                                      Hu et al. (docs/theory.md §4). ν uses
 *                                      --trace-factor F when given, else the
 *                                      estimate √(Tr Σ̂²/d) from X (the first
 *                                      input set; ≈ 1 + O(d/n) for isotropic
 *                                      data, so pass --trace-factor 1 for the
 *                                      population value of isotropic inputs).
 *   The *-inf and lin kinds use only --act --act-param --input-scale --alpha
 *   and the depth flags (or those of --weights DIR/config.json). With depth
 *   (docs/depth.md) ntk1 weighs the hidden layers 1..L, ntk2 = nngp the
 *   output layer L+1, and the lin kinds are refused. With --input-scale one the
 *   network sees w·x, so the lin kinds are evaluated at √d·x (the features
 *   of docs/theory.md §4 take x on the √d scale).
 *   --spectrum FILE.csv   eigenvalues, ascending, "index,eigenvalue" (symmetric only)
 *   --mem-limit BYTES     budget for the output (and the eigenvalue workspace)
 *                         plus the empirical kernel's tiles, e.g. 512M, 2G;
 *                         default: 90% of available memory for the output,
 *                         the library default (1 GiB) for the tiles. A kernel
 *                         that does not fit is written out of core: row
 *                         blocks under the budget (default half of available
 *                         memory) appended to the file (ntk_kernel_write_npy);
 *                         --spectrum and --stats need it in memory and refuse
 *   --dtype float32|float64  the file's values (default float64); float32
 *                         halves the file, entries rounded to 2^-24 relative
 *   --quad-order Q        Gauss–Hermite order for Θ∞ and the constants (0: default)
 *   Prints shape, λ_min, λ_max, condition number (symmetric) and seconds.
 *
 * ntkit constants --act NAME [--act-param A] [--trace-factor F] [--quad-order Q]
 *   The Gaussian constants of docs/theory.md §4 as JSON.
 *
 * ntkit compare-kernels A.npy B.npy [--json]
 *   ‖A−B‖_op, ‖A−B‖_F, both relative to the reference B, and, when B is
 *   positive definite, ‖B^{-1/2} A B^{-1/2} − I‖_op.
 *
 * Examples:
 *   ntkit train --n 500 --width 1024 --out run
 *   ntkit kernel --kind ntk --weights run --at init --x run/X_train.npy --out K0.npy
 *   ntkit kernel --kind ntk-inf --x run/X_train.npy --out Kinf.npy --spectrum inf.csv
 *   ntkit compare-kernels K0.npy Kinf.npy
 */
#include "cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag kernel_flags[] = {
    {"kind", 1, "KIND", "kernel: " CLI_KIND_LIST " (required)"},
    {"x", 1, "X.npy", "inputs (n1, d) (required)"},
    {"x2", 1, "Z.npy", "second inputs (n2, d): write the cross block K(X, Z) (default: K(X, X))"},
    {"out", 1, "K.npy", "kernel to write (required)"},
    {"spectrum", 1, "FILE.csv", "also write the eigenvalues, ascending (symmetric kernels only)"},
    {"stats", 0, NULL, "print lambda_min, lambda_max and the condition number (symmetric kernels only)"},
    {"diagonal", 0, NULL, "only the diagonal K(x_i, x_i), written as an (n,) array: O(n) memory"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final (W.npy, v.npy; at depth W{l}_final.npy) | init (W0.npy, v0.npy; W{l}_init.npy) (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds (default 0: library default)"},
    {"mem-limit", 1, "BYTES", "memory budget, e.g. 512M or 2G (default: 90% of available memory); a larger kernel is written out of core"},
    {"dtype", 1, "TYPE", "float64 | float32: the values in the file (default float64; float32 halves it, entries rounded to 2^-24 relative)"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
};
#define NKERNEL_FLAGS (sizeof kernel_flags / sizeof kernel_flags[0])

void cli_print_extremes(const double *evals, size_t n)
{
    double lmin = evals[0], lmax = evals[n - 1];
    printf(", lambda_min %.6g, lambda_max %.6g, condition number ", lmin, lmax);
    if (lmin > 0)
        printf("%.6g", lmax / lmin);
    else
        printf("inf (not positive definite)");
}

int cli_stage_spectrum(ntk_outset *o, const char *path, const double *evals, size_t n)
{
    size_t cap = 32 + 40 * n;
    char *buf = malloc(cap);
    if (!buf) return cli_fail("out of memory formatting %zu eigenvalues", n);
    size_t len = (size_t)snprintf(buf, cap, "index,eigenvalue\n");
    for (size_t k = 0; k < n; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%zu,%.17g\n", k, evals[k]);
    ntk_status st = ntk_outset_add(o, path, buf, len);
    free(buf);
    return st == NTK_OK ? 0 : cli_fail_lib("--spectrum");
}

/* kernel_args.c (its declaration belongs in cli.h with cli_kernel_compute) */
int cli_kernel_write(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                     const ntk_array *X2, int f32, double *tf_used);

/* K.npy (float32 when f32) and the spectrum, together or not at all: a
 * failure leaves any earlier files at those paths as they were. */
static int write_kernel_files(const char *out_path, const char *spec_path, const double *K,
                              size_t n1, size_t n2, int ndim, int f32, const double *evals)
{
    ntk_outset *set;
    if (ntk_outset_create(&set) != NTK_OK) return cli_fail_lib(NULL);
    int rc = 0;
    ntk_status st = f32 ? ntk_outset_add_npy_f32(set, out_path, K, n1, n2, ndim)
                        : ntk_outset_add_npy(set, out_path, K, n1, n2, ndim);
    if (st != NTK_OK) rc = cli_fail_lib("--out");
    if (!rc && spec_path) rc = cli_stage_spectrum(set, spec_path, evals, n1);
    if (!rc && ntk_outset_commit(set) != NTK_OK) rc = cli_fail_lib(NULL);
    ntk_outset_free(set);
    return rc;
}

/* Bytes the kernel (and, when asked for, its eigenvalues; with --dtype
 * float32, its float32 copy) need in memory, against --mem-limit or the
 * available memory: *fits says whether they fit, and *tile_limit gets what
 * the budget leaves for the empirical kernel's tiles (0: the library
 * default). A kernel that does not fit is written out of core, except that
 * --spectrum and --stats need it in memory: then this refuses. */
static int kernel_memory(const cli_kernel_opts *o, size_t n1, size_t n2, int eig, int f32,
                         int *fits, size_t *tile_limit)
{
    // K, plus for the eigenvalues a copy (n²) and dsyevd's 2n + 1
    size_t need = ntk_size_mul(n1, n2, 1, sizeof(double));
    size_t extra = eig ? ntk_size_mul(n1, n1 + 3, 1, sizeof(double)) : 0;
    if (f32) extra = extra == SIZE_MAX ? SIZE_MAX : extra + ntk_size_mul(n1, n2, 1, sizeof(float));
    need = need == SIZE_MAX || extra == SIZE_MAX || need > SIZE_MAX - extra ? SIZE_MAX : need + extra;
    char nb[32], lb[32];
    *fits = o->mem_limit ? need <= o->mem_limit : ntk_mem_check(need, 0, "the kernel matrix") == NTK_OK;
    *tile_limit = o->mem_limit ? (o->mem_limit > need ? o->mem_limit - need : 1) : 0;
    if (*fits || !eig) return 0;
    if (o->mem_limit)
        return cli_fail("the %zu x %zu kernel and its eigenvalues need %s but --mem-limit is %s; "
                        "--spectrum and --stats need the kernel in memory: drop them to write "
                        "the kernel out of core, or raise --mem-limit",
                        n1, n2, cli_fmt_bytes(need, nb), cli_fmt_bytes(o->mem_limit, lb));
    return cli_fail("%s; --spectrum and --stats need the kernel in memory: drop them to write "
                    "the kernel out of core, or use fewer points", ntk_errmsg());
}

static void print_kernel(const cli_kernel_opts *o, const double *K, size_t n1, size_t n2,
                         const double *evals, double t_kernel, double t_eig, double tf_used)
{
    /* K NULL: written out of core, no norm to print */
    int eig = evals != NULL;
    if (o->diagonal)
        printf("kernel %s: diagonal of %zu points", o->kind->name, n1);
    else
        printf("kernel %s: %zu x %zu%s", o->kind->name, n1, n2, o->x2_path ? " (cross block)" : "");
    if (eig) {
        cli_print_extremes(evals, n1);
    } else if (K) {
        double ss = 0.0;
        for (size_t i = 0; i < n1 * n2; i++) ss += K[i] * K[i];
        printf(", ||K||_F %.6g", sqrt(ss));
    } else {
        char lb[32];
        printf(", written out of core in row blocks (%s memory budget)",
               o->mem_limit ? cli_fmt_bytes(o->mem_limit, lb) : "half of available");
    }
    printf(", %.3fs", t_kernel);
    if (eig) printf(" (+ %.3fs eigenvalues)", t_eig);
    printf("\n");
    if (isfinite(tf_used))
        printf("trace factor %.6g (%s)\n", tf_used,
               o->trace_factor >= 0 ? "--trace-factor" : "estimated from X");
    printf("wrote %s%s%s\n", o->out_path, o->spec_path ? " and " : "",
           o->spec_path ? o->spec_path : "");
}

/* The kernel (and its eigenvalues when --spectrum or --stats asks for them),
 * the files, the summary; out of core when it does not fit in memory. */
static int kernel_files(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                        const ntk_array *X2, int f32)
{
    const int sym = X2 == NULL, eig = sym && (o->spec_path || cli_has(a, "stats"));
    const size_t n1 = X->rows, n2 = o->diagonal ? 1 : sym ? n1 : X2->rows;
    size_t tile_limit = 0;
    int fits;
    if (kernel_memory(o, n1, n2, eig, f32, &fits, &tile_limit)) return 1;
    double tf_used = NAN;
    if (!fits) {
        double t0 = cli_now();
        int rc = cli_kernel_write(o, a, X, X2, f32, &tf_used);
        if (!rc) print_kernel(o, NULL, n1, n2, NULL, cli_now() - t0, 0.0, tf_used);
        return rc;
    }
    double *K = malloc(n1 * n2 * sizeof(double));   /* kernel_memory bounds n1·n2·8 */
    double *evals = eig ? malloc(n1 * sizeof(double)) : NULL;
    int rc = !K || (eig && !evals) ? cli_fail("out of memory for the %zu x %zu kernel", n1, n2) : 0;
    double t0 = cli_now();
    if (!rc) rc = cli_kernel_compute(o, a, X, X2, tile_limit, K, &tf_used);
    double t1 = cli_now();
    if (!rc && eig && ntk_eigh(K, n1, evals, NULL) != NTK_OK) rc = cli_fail_lib("eigenvalues");
    double t2 = cli_now();
    if (!rc)
        rc = write_kernel_files(o->out_path, o->spec_path, K, n1, n2, o->diagonal ? 1 : 2, f32,
                                evals);
    if (!rc) print_kernel(o, K, n1, n2, evals, t1 - t0, t2 - t1, tf_used);
    free(K);
    free(evals);
    return rc;
}

int cmd_kernel(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, kernel_flags, NKERNEL_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("kernel", "--kind KIND --x X.npy [--x2 Z.npy] --out K.npy [options]",
                  "Write a kernel matrix (.npy, float64): K(X, X), or the cross block K(X, Z).\n"
                  "  ntk, ntk1, ntk2 = nngp   empirical Theta1+Theta2, Theta1, Theta2 at the weights\n"
                  "                           of --weights DIR (--at final|init), or at the initial\n"
                  "                           weights 'ntkit train' draws from --width --seed ...\n"
                  "  ntk-inf, ntk1-inf, ntk2-inf, nngp-inf   infinite-width kernels\n"
                  "  lin, lin1, lin2          kernels of Hu et al.'s linear models; nu uses\n"
                  "                           --trace-factor, else the estimate from X\n"
                  "The *-inf and lin kinds use only --act --act-param --input-scale --alpha\n"
                  "and the depth flags; --centered does not change the kernel (f - f0 has the\n"
                  "gradient of f). With --depth L (--widths, --weight-std, --bias-std,\n"
                  "--parameterization): ntk1 is the hidden layers' share Theta_1 + ... + Theta_L,\n"
                  "ntk2 = nngp the output layer's Theta_{L+1}; the lin kinds are two-layer only.\n"
                  "Prints the shape, the Frobenius norm and seconds; with --stats or --spectrum\n"
                  "also lambda_min, lambda_max and the condition number (one eigendecomposition).\n"
                  "A kernel larger than --mem-limit (default: the available memory) is written\n"
                  "out of core, row block by row block, into the one file; --spectrum and --stats\n"
                  "need it in memory. --dtype float32 halves the file (entries rounded to 2^-24\n"
                  "relative; the eigenvalues are those of the float64 kernel).",
                  kernel_flags, NKERNEL_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    cli_kernel_opts o;
    if (cli_kernel_options(&a, &o, 1) || cli_threads(&a)) return 1;
    ntk_array X = {0}, X2 = {0};
    int rc = cli_load_matrix("--x", o.x_path, &X) ||
             (o.x2_path && cli_load_matrix("--x2", o.x2_path, &X2));
    o.diagonal = cli_has(&a, "diagonal");
    if (!rc && o.diagonal && (o.x2_path || o.spec_path || cli_has(&a, "stats")))
        rc = cli_fail("--diagonal is the diagonal of K(X, X): drop --x2, --spectrum and --stats");
    if (!rc && o.x2_path && cli_has(&a, "stats"))
        rc = cli_fail("--stats needs a symmetric kernel but --x2 asks for a cross block; drop one");
    if (!rc && o.x2_path && X2.cols != X.cols)
        rc = cli_fail("--x %s has d = %zu but --x2 %s has d = %zu; both need the same dimension",
                      o.x_path, X.cols, o.x2_path, X2.cols);
    const char *dtype = cli_str(&a, "dtype", "float64");
    if (!rc && strcmp(dtype, "float64") != 0 && strcmp(dtype, "float32") != 0)
        rc = cli_fail("--dtype must be float64 or float32, got '%s'", dtype);
    if (!rc) rc = kernel_files(&o, &a, &X, o.x2_path ? &X2 : NULL, strcmp(dtype, "float32") == 0);
    ntk_array_free(&X);
    ntk_array_free(&X2);
    return rc;
}
