/* ntkit kernel, ntkit constants, ntkit compare-kernels: kernels of MATH.md §2–§4
 * from the command line.
 *
 * ntkit kernel --kind KIND --x X.npy [--x2 Z.npy] --out K.npy [options]
 *   Writes the kernel K (n1,n1) of X, or the cross block K (n1,n2) of X against
 *   Z, as a float64 .npy. KIND:
 *     ntk, ntk1, ntk2 (= nngp)         empirical Θ1+Θ2, Θ1, Θ2 (MATH.md §2) at the
 *                                      weights of a run (--weights DIR [--at
 *                                      init|final], default final) or at the
 *                                      initial weights `ntkit train` would draw
 *                                      from the network flags (--width --seed
 *                                      --act --act-param --init --input-scale
 *                                      --alpha), d taken from X;
 *     ntk-inf, ntk1-inf, ntk2-inf,     infinite-width kernels (MATH.md §3);
 *     nngp-inf
 *     lin, lin1, lin2                  Θ_lin = Θ_lin1 + Θ_lin2, Θ_lin1, Θ_lin2 of
 *                                      Hu et al. (MATH.md §4). ν uses
 *                                      --trace-factor F when given, else the
 *                                      estimate √(Tr Σ̂²/d) from X (the first
 *                                      input set; ≈ 1 + O(d/n) for isotropic
 *                                      data, so pass --trace-factor 1 for the
 *                                      population value of isotropic inputs).
 *   The *-inf and lin kinds use only --act --act-param --input-scale --alpha
 *   (or those of --weights DIR/config.json). With --input-scale one the
 *   network sees w·x, so the lin kinds are evaluated at √d·x (the features
 *   of MATH.md §4 take x on the √d scale).
 *   --spectrum FILE.csv   eigenvalues, ascending, "index,eigenvalue" (symmetric only)
 *   --mem-limit BYTES     budget for the output (and the eigenvalue workspace)
 *                         plus the empirical kernel's tiles, e.g. 512M, 2G;
 *                         default: the output must fit in 90% of available
 *                         memory and the tiles get the library default (1 GiB)
 *   --quad-order Q        Gauss–Hermite order for Θ∞ and the constants (0: default)
 *   Prints shape, λ_min, λ_max, condition number (symmetric) and seconds.
 *
 * ntkit constants --act NAME [--act-param A] [--trace-factor F] [--quad-order Q]
 *   The Gaussian constants of MATH.md §4 as JSON.
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
#include <time.h>

/* bytes -> "512 B", "6.2 KiB", "1.5 GiB" in buf (32 chars); returns buf. */
static const char *fmt_bytes(size_t bytes, char *buf)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* A 2-d (n,d) float64 array from a .npy named by `flag`; prints the error. */
static int load_matrix(const char *flag, const char *path, ntk_array *A)
{
    if (ntk_npy_read(path, A) != NTK_OK) return cli_fail("%s: %s", flag, ntk_errmsg());
    if (A->ndim != 2 || A->rows == 0 || A->cols == 0) {
        int rc = A->ndim == 2
                     ? cli_fail("%s %s has shape (%zu, %zu); it must be a non-empty (n, d) array",
                                flag, path, A->rows, A->cols)
                     : cli_fail("%s %s is 1-d with %zu values; it must be a 2-d (n, d) array "
                                "(reshape it to (n, 1) for d = 1)",
                                flag, path, A->rows);
        ntk_array_free(A);
        return rc;
    }
    return 0;
}

/* ======================================================================
 * ntkit kernel
 * ==================================================================== */

typedef enum { SRC_EMP, SRC_INF, SRC_LIN } kernel_source;

typedef struct {
    const char *name;
    kernel_source src;
    double c1, c2;        /* K = c1·Θ1 + c2·Θ2 */
} kernel_kind;

static const kernel_kind kinds[] = {
    {"ntk", SRC_EMP, 1, 1},     {"ntk1", SRC_EMP, 1, 0},     {"ntk2", SRC_EMP, 0, 1},
    {"nngp", SRC_EMP, 0, 1},    {"ntk-inf", SRC_INF, 1, 1},  {"ntk1-inf", SRC_INF, 1, 0},
    {"ntk2-inf", SRC_INF, 0, 1}, {"nngp-inf", SRC_INF, 0, 1}, {"lin", SRC_LIN, 1, 1},
    {"lin1", SRC_LIN, 1, 0},    {"lin2", SRC_LIN, 0, 1},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])
#define KIND_LIST "ntk, ntk1, ntk2, nngp, ntk-inf, ntk1-inf, ntk2-inf, nngp-inf, lin, lin1, lin2"

static const cli_flag kernel_flags[] = {
    {"kind", 1, "KIND", "kernel: " KIND_LIST " (required)"},
    {"x", 1, "X.npy", "inputs (n1, d) (required)"},
    {"x2", 1, "Z.npy", "second inputs (n2, d): write the cross block K(X, Z) (default: K(X, X))"},
    {"out", 1, "K.npy", "kernel to write (required)"},
    {"spectrum", 1, "FILE.csv", "also write the eigenvalues, ascending (symmetric kernels only)"},
    {"weights", 1, "DIR", "run directory of 'ntkit train': network and weights from it"},
    {"at", 1, "WHEN", "with --weights: final (W.npy, v.npy) | init (W0.npy, v0.npy) (default final)"},
    CLI_NET_FLAGS,
    {"trace-factor", 1, "F", "lin kinds: sqrt(Tr Sigma^2/d) for nu (default: estimated from X)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for *-inf and lin kinds (default 0: library default)"},
    {"mem-limit", 1, "BYTES", "memory budget, e.g. 512M or 2G (default: 90% of available memory)"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
};
#define NKERNEL_FLAGS (sizeof kernel_flags / sizeof kernel_flags[0])

static const char *net_flag_names[] = {"width", "act", "act-param", "init",
                                       "input-scale", "alpha", "centered", "seed"};

static const kernel_kind *find_kind(const char *name)
{
    for (size_t k = 0; k < NKINDS; k++)
        if (strcmp(name, kinds[k].name) == 0) return &kinds[k];
    return NULL;
}

/* Whole file into a NUL-terminated buffer (caller frees), or NULL with errno. */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, fp);
        if (len < cap - 1) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf) return NULL;
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* DIR/config.json (written by ntkit train) -> cfg. */
static int run_config(const char *dir, ntk_net_config *cfg)
{
    char path[4096];
    cli_path(path, sizeof path, dir, "config.json");
    char *text = read_text(path);
    if (!text)
        return cli_fail("--weights %s: cannot read %s: %s; pass a run directory of 'ntkit train'",
                        dir, path, strerror(errno));
    ntk_status st = ntk_net_config_from_json(text, path, cfg);
    free(text);
    return st == NTK_OK ? 0 : cli_fail("%s", ntk_errmsg());
}

/* DIR/W*.npy, DIR/v*.npy for cfg (m,d) -> W, v (caller frees both arrays). */
static int run_weights(const char *dir, int at_init, const ntk_net_config *cfg, ntk_array *W,
                       ntk_array *v)
{
    char pw[4096], pv[4096];
    cli_path(pw, sizeof pw, dir, at_init ? "W0.npy" : "W.npy");
    cli_path(pv, sizeof pv, dir, at_init ? "v0.npy" : "v.npy");
    if (ntk_npy_read(pw, W) != NTK_OK) return cli_fail_lib("--weights");
    if (W->ndim != 2 || W->rows != cfg->m || W->cols != cfg->d) {
        int rc = cli_fail("%s has shape (%zu, %zu) but config.json says (width, d) = (%zu, %zu)",
                          pw, W->rows, W->cols, cfg->m, cfg->d);
        ntk_array_free(W);
        return rc;
    }
    if (ntk_npy_read(pv, v) != NTK_OK) {
        ntk_array_free(W);
        return cli_fail_lib("--weights");
    }
    if (v->rows * v->cols != cfg->m) {
        int rc = cli_fail("%s has %zu values but config.json says width = %zu", pv,
                          v->rows * v->cols, cfg->m);
        ntk_array_free(W);
        ntk_array_free(v);
        return rc;
    }
    return 0;
}

/* Eigenvalues (ascending) as "index,eigenvalue" CSV, staged in o. */
static int stage_spectrum(ntk_outset *o, const char *path, const double *evals, size_t n)
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

/* K.npy and the spectrum, together or not at all: a failure leaves any
 * earlier files at those paths as they were. */
static int write_kernel_files(const char *out_path, const char *spec_path, const double *K,
                              size_t n1, size_t n2, const double *evals)
{
    ntk_outset *set;
    if (ntk_outset_create(&set) != NTK_OK) return cli_fail_lib(NULL);
    int rc = 0;
    if (ntk_outset_add_npy(set, out_path, K, n1, n2, 2) != NTK_OK) rc = cli_fail_lib("--out");
    if (!rc && spec_path) rc = stage_spectrum(set, spec_path, evals, n1);
    if (!rc && ntk_outset_commit(set) != NTK_OK) rc = cli_fail_lib(NULL);
    ntk_outset_free(set);
    return rc;
}

typedef struct {
    const kernel_kind *kind;
    const char *x_path, *x2_path, *out_path, *spec_path, *weights_dir;
    int at_init, quad_order;
    size_t mem_limit;                 /* 0: default */
    double trace_factor;              /* < 0: estimate from X */
} kernel_opts;

/* Options shared by kernel and krr; krr writes no kernel file (no --out). */
static int kernel_options(const cli_args *a, kernel_opts *o, int need_out)
{
    memset(o, 0, sizeof *o);
    const char *kind = cli_str(a, "kind", NULL);
    if (!kind) return cli_fail("--kind is required: one of " KIND_LIST);
    o->kind = find_kind(kind);
    if (!o->kind) return cli_fail("unknown kernel kind '%s'; choose one of " KIND_LIST, kind);
    o->x_path = cli_str(a, "x", NULL);
    if (!o->x_path) return cli_fail("--x X.npy is required: the inputs, an (n, d) array");
    o->out_path = cli_str(a, "out", NULL);
    if (!o->out_path && need_out) return cli_fail("--out K.npy is required: the file to write the kernel to");
    o->x2_path = cli_str(a, "x2", NULL);
    o->spec_path = cli_str(a, "spectrum", NULL);
    if (o->spec_path && o->x2_path)
        return cli_fail("--spectrum needs a symmetric kernel but --x2 asks for a cross block; "
                        "drop --x2 or --spectrum");
    o->weights_dir = cli_str(a, "weights", NULL);
    const char *at = cli_str(a, "at", NULL);
    if (at && !o->weights_dir)
        return cli_fail("--at needs --weights DIR (without it the kernel is at the initial weights)");
    if (at && strcmp(at, "init") != 0 && strcmp(at, "final") != 0)
        return cli_fail("--at must be init or final, got '%s'", at);
    o->at_init = at && strcmp(at, "init") == 0;
    if (o->weights_dir) {
        for (size_t k = 0; k < sizeof net_flag_names / sizeof net_flag_names[0]; k++)
            if (cli_has(a, net_flag_names[k]))
                return cli_fail("--%s conflicts with --weights: the network comes from %s/config.json",
                                net_flag_names[k], o->weights_dir);
        if (o->kind->src != SRC_EMP && at)
            cli_warn("--at has no effect on --kind %s (it needs no weights)", o->kind->name);
    } else if (o->kind->src != SRC_EMP) {
        static const char *unused[] = {"width", "init", "seed", "centered"};
        for (size_t k = 0; k < sizeof unused / sizeof unused[0]; k++)
            if (cli_has(a, unused[k]))
                cli_warn("--%s has no effect on --kind %s (it needs no weights)", unused[k],
                         o->kind->name);
    }
    o->trace_factor = -1.0;
    if (cli_has(a, "trace-factor")) {
        if (cli_double(a, "trace-factor", 1.0, 0.0, &o->trace_factor)) return 1;
        if (o->kind->src != SRC_LIN)
            cli_warn("--trace-factor has no effect on --kind %s (only on lin kinds)", o->kind->name);
    }
    if (cli_int(a, "quad-order", 0, 0, 1 << 20, &o->quad_order)) return 1;
    if (cli_has(a, "quad-order") && o->kind->src == SRC_EMP)
        cli_warn("--quad-order has no effect on --kind %s (empirical kernels need no quadrature)",
                 o->kind->name);
    const char *ml = cli_str(a, "mem-limit", NULL);
    if (ml && cli_bytes("mem-limit", ml, &o->mem_limit)) return 1;
    return 0;
}

/* The kernel into K (n1, n2), or (n1, n1) when X2 is NULL. */
static int compute_kernel(const kernel_opts *o, const cli_args *a, const ntk_array *X,
                          const ntk_array *X2, size_t tile_limit, double *K, double *tf_used)
{
    const size_t n1 = X->rows, d = X->cols, n2 = X2 ? X2->rows : 0;
    const double *Z = X2 ? X2->data : NULL;
    const kernel_kind *kk = o->kind;
    ntk_net_config cfg;
    if (o->weights_dir) {
        if (run_config(o->weights_dir, &cfg)) return 1;
        if (cfg.d != d)
            return cli_fail("--x %s has d = %zu but the network of --weights %s has d = %zu; use "
                            "inputs of the run's dimension",
                            o->x_path, d, o->weights_dir, cfg.d);
    } else if (cli_net_config(a, d, &cfg)) {
        return 1;
    }

    if (kk->src == SRC_INF) {
        // MATH.md §3: Θ∞ = c1·α² c Σ' + c2·α² Σ
        if (ntk_kernel_infinite(&cfg, X->data, n1, Z, n2, kk->c1, kk->c2, o->quad_order, K) !=
            NTK_OK)
            return cli_fail_lib("infinite-width kernel");
        return 0;
    }

    if (kk->src == SRC_LIN) {
        double tf = o->trace_factor;
        if (tf < 0 && ntk_trace_factor(X->data, n1, d, &tf) != NTK_OK)
            return cli_fail("%s; pass --trace-factor F (1 for isotropic inputs)", ntk_errmsg());
        *tf_used = tf;
        ntk_constants c;
        if (ntk_constants_compute(cfg.act, tf, o->quad_order, &c) != NTK_OK)
            return cli_fail_lib("constants");
        // the features take x on the √d scale; the network sees x/s
        double *Xs = X->data, *Zs = (double *)Z;
        if (cfg.input_scale != NTK_SCALE_SQRT_D) {
            Xs = malloc((n1 + n2) * d * sizeof(double));
            if (!Xs) return cli_fail("out of memory rescaling the inputs");
            ntk_lin_inputs(&cfg, X->data, n1, Xs);
            if (Z) {
                Zs = Xs + n1 * d;
                ntk_lin_inputs(&cfg, Z, n2, Zs);
            }
        }
        // MATH.md §4: K = c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ
        ntk_status st = ntk_kernel_lin(&c, cfg.alpha, Xs, n1, Zs, n2, d, kk->c1, kk->c2, K);
        if (Xs != X->data) free(Xs);
        return st == NTK_OK ? 0 : cli_fail_lib("linear-model kernel");
    }

    // empirical kernel, MATH.md §2, at the run's weights or at a fresh draw as train makes it
    ntk_array W = {0}, v = {0};
    ntk_net *net = NULL;
    const double *Wp, *vp;
    if (o->weights_dir) {
        if (run_weights(o->weights_dir, o->at_init, &cfg, &W, &v)) return 1;
        Wp = W.data;
        vp = v.data;
    } else {
        if (ntk_mem_check(ntk_size_mul(cfg.m, cfg.d + 1, 2, sizeof(double)), 0,
                          "the network's weights") != NTK_OK)
            return cli_fail_lib("--width");
        if (ntk_net_create(&cfg, &net) != NTK_OK) return cli_fail_lib("network");
        Wp = ntk_net_W0(net);
        vp = ntk_net_v0(net);
    }
    ntk_status st = ntk_kernel_empirical(&cfg, Wp, vp, X->data, n1, Z, n2, kk->c1, kk->c2,
                                         tile_limit, K);
    ntk_array_free(&W);
    ntk_array_free(&v);
    ntk_net_free(net);
    char tb[32];
    if (st == NTK_ERR_NOMEM && o->mem_limit)
        return cli_fail("--mem-limit leaves %s for the kernel's tiles after the output: %s",
                        fmt_bytes(tile_limit, tb), ntk_errmsg());
    return st == NTK_OK ? 0 : cli_fail_lib("empirical kernel");
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
                  "The *-inf and lin kinds use only --act --act-param --input-scale --alpha;\n"
                  "--centered does not change the kernel (f - f0 has the gradient of f).\n"
                  "Prints the shape, lambda_min, lambda_max, condition number and seconds.",
                  kernel_flags, NKERNEL_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    kernel_opts o;
    if (kernel_options(&a, &o, 1) || cli_threads(&a)) return 1;

    ntk_array X = {0}, X2 = {0};
    if (load_matrix("--x", o.x_path, &X)) return 1;
    if (o.x2_path && load_matrix("--x2", o.x2_path, &X2)) {
        ntk_array_free(&X);
        return 1;
    }
    int rc = 0;
    const int sym = !o.x2_path;
    const size_t n1 = X.rows, n2 = sym ? n1 : X2.rows;
    if (!sym && X2.cols != X.cols)
        rc = cli_fail("--x %s has d = %zu but --x2 %s has d = %zu; both need the same dimension",
                      o.x_path, X.cols, o.x2_path, X2.cols);

    // memory: K, plus for a symmetric K the eigenvalue copy (n²) and dsyevd's 2n + 1
    size_t need = ntk_size_mul(n1, n2, 1, sizeof(double));
    if (sym && need != SIZE_MAX) {
        size_t extra = ntk_size_mul(n1, n1 + 3, 1, sizeof(double));
        need = extra == SIZE_MAX || need > SIZE_MAX - extra ? SIZE_MAX : need + extra;
    }
    char nb[32], lb[32];
    if (!rc && o.mem_limit && need > o.mem_limit)
        rc = cli_fail("the %zu x %zu kernel%s %s but --mem-limit is %s; use fewer points or "
                      "raise --mem-limit",
                      n1, n2, sym ? " and its eigenvalues need" : " needs", fmt_bytes(need, nb),
                      fmt_bytes(o.mem_limit, lb));
    if (!rc && !o.mem_limit && ntk_mem_check(need, 0, "the kernel matrix") != NTK_OK)
        rc = cli_fail("%s; use fewer points", ntk_errmsg());
    // the empirical kernel's tiles get what the budget leaves (library default without one)
    size_t tile_limit = o.mem_limit ? (o.mem_limit > need ? o.mem_limit - need : 1) : 0;

    double *K = NULL, *evals = NULL, tf_used = NAN;
    if (!rc) {
        K = malloc(n1 * n2 * sizeof(double));   /* need (checked above) bounds n1·n2·8 */
        evals = sym ? malloc(n1 * sizeof(double)) : NULL;
        if (!K || (sym && !evals))
            rc = cli_fail("out of memory for the %zu x %zu kernel", n1, n2);
    }
    double t0 = cli_now();
    if (!rc) rc = compute_kernel(&o, &a, &X, sym ? NULL : &X2, tile_limit, K, &tf_used);
    double t1 = cli_now();
    if (!rc && sym && ntk_eigh(K, n1, evals, NULL) != NTK_OK) rc = cli_fail_lib("eigenvalues");
    double t_kernel = t1 - t0, t_eig = cli_now() - t1;

    if (!rc) rc = write_kernel_files(o.out_path, o.spec_path, K, n1, n2, evals);
    if (!rc) {
        printf("kernel %s: %zu x %zu%s", o.kind->name, n1, n2, sym ? "" : " (cross block)");
        if (sym) {
            double lmin = evals[0], lmax = evals[n1 - 1];
            printf(", lambda_min %.6g, lambda_max %.6g, condition number ", lmin, lmax);
            if (lmin > 0)
                printf("%.6g", lmax / lmin);
            else
                printf("inf (not positive definite)");
        } else {
            double ss = 0.0;
            for (size_t i = 0; i < n1 * n2; i++) ss += K[i] * K[i];
            printf(", ||K||_F %.6g", sqrt(ss));
        }
        printf(", %.3fs", t_kernel);
        if (sym) printf(" (+ %.3fs eigenvalues)", t_eig);
        printf("\n");
        if (isfinite(tf_used)) printf("trace factor %.6g (%s)\n", tf_used,
                                      o.trace_factor >= 0 ? "--trace-factor" : "estimated from X");
        printf("wrote %s%s%s\n", o.out_path, o.spec_path ? " and " : "",
               o.spec_path ? o.spec_path : "");
    }
    free(K);
    free(evals);
    ntk_array_free(&X);
    ntk_array_free(&X2);
    return rc;
}

/* ======================================================================
 * ntkit krr: kernel ridge regression, f = K(·, X)(λI + K)^{-1} y (MATH.md §6)
 * ==================================================================== */

static const cli_flag krr_flags[] = {
    {"kind", 1, "KIND", "kernel: " KIND_LIST " (required)"},
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
    kernel_opts o;
    if (kernel_options(&a, &o, 0) || cli_threads(&a)) return 1;
    const char *yp = cli_str(&a, "y", NULL), *xtp = cli_str(&a, "x-test", NULL),
               *ytp = cli_str(&a, "y-test", NULL);
    if (!yp || !xtp || !ytp) return cli_fail("krr needs --y, --x-test and --y-test");
    double *ridges;
    int nr;
    if (ridge_list(cli_str(&a, "ridge", "1e-6"), &ridges, &nr)) return 1;
    ntk_array X = {0}, y = {0}, Xt = {0}, yt = {0};
    int rc = load_matrix("--x", o.x_path, &X);
    if (!rc) rc = load_vector("--y", yp, X.rows, &y);
    if (!rc) rc = load_matrix("--x-test", xtp, &Xt);
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
    if (!rc) rc = compute_kernel(&o, &a, &X, NULL, o.mem_limit, K, &tf);
    if (!rc) rc = compute_kernel(&o, &a, &Xt, &X, o.mem_limit, Kt, &tf);
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

/* ======================================================================
 * ntkit constants
 * ==================================================================== */

static const cli_flag constants_flags[] = {
    {"act", 1, "NAME", "activation: relu|leaky_relu|erf|tanh|sigmoid|softplus|gelu|identity (required)"},
    {"act-param", 1, "A", "activation parameter: leaky_relu slope (default 0.1)"},
    {"trace-factor", 1, "F", "sqrt(Tr Sigma^2/d) of the inputs, multiplies nu (default 1: isotropic)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for smooth activations (default 0: library default)"},
};
#define NCONST_FLAGS (sizeof constants_flags / sizeof constants_flags[0])

int cmd_constants(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, constants_flags, NCONST_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("constants", "--act NAME [options]",
                  "Print the Gaussian constants of the activation (g ~ N(0,1)) as JSON:\n"
                  "  zeta = E[phi'(g)], nu = E[g phi'(g)] * trace_factor, theta0 = E[phi(g)],\n"
                  "  theta1 = E[g phi'(g)], theta2 = E[(g^3/2 - g) phi'(g)], e_phi2 = E[phi(g)^2],\n"
                  "  e_dphi2 = E[phi'(g)^2].",
                  constants_flags, NCONST_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    const char *name = cli_str(&a, "act", NULL);
    if (!name) return cli_fail("--act NAME is required, e.g. --act relu");
    double param, tf;
    int q;
    if (cli_double(&a, "act-param", 0.1, -INFINITY, &param) ||
        cli_double(&a, "trace-factor", 1.0, 0.0, &tf) || cli_int(&a, "quad-order", 0, 0, 1 << 20, &q))
        return 1;
    ntk_act act;
    if (ntk_act_parse(name, param, &act) != NTK_OK) return cli_fail_lib("--act");
    ntk_constants c;
    if (ntk_constants_compute(act, tf, q, &c) != NTK_OK) return cli_fail_lib("constants");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "act", ntk_act_name(act.kind));
    cJSON_AddNumberToObject(o, "act_param", act.param);
    cJSON_AddNumberToObject(o, "zeta", c.zeta);
    cJSON_AddNumberToObject(o, "nu", c.nu);
    cJSON_AddNumberToObject(o, "theta0", c.theta0);
    cJSON_AddNumberToObject(o, "theta1", c.theta1);
    cJSON_AddNumberToObject(o, "theta2", c.theta2);
    cJSON_AddNumberToObject(o, "e_phi2", c.e_phi2);
    cJSON_AddNumberToObject(o, "e_dphi2", c.e_dphi2);
    cJSON_AddNumberToObject(o, "trace_factor", c.trace_factor);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return cli_fail("could not format JSON");
    printf("%s\n", text);
    free(text);
    return 0;
}

/* ======================================================================
 * ntkit compare-kernels
 * ==================================================================== */

static const cli_flag compare_flags[] = {
    {"json", 0, NULL, "print one JSON object instead of a table"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
};
#define NCOMPARE_FLAGS (sizeof compare_flags / sizeof compare_flags[0])

/* A square (n,n) kernel from path; prints the error. */
static int load_square(const char *label, const char *path, ntk_array *A)
{
    if (ntk_npy_read(path, A) != NTK_OK) return cli_fail("%s: %s", label, ntk_errmsg());
    if (A->ndim != 2 || A->rows != A->cols || A->rows == 0) {
        int rc = A->ndim == 2
                     ? cli_fail("%s %s has shape (%zu, %zu); compare-kernels needs square (n, n) "
                                "kernels",
                                label, path, A->rows, A->cols)
                     : cli_fail("%s %s is 1-d with %zu values; compare-kernels needs square (n, "
                                "n) kernels",
                                label, path, A->rows);
        ntk_array_free(A);
        return rc;
    }
    return 0;
}

int cmd_compare_kernels(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, compare_flags, NCOMPARE_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("compare-kernels", "A.npy B.npy [--json]",
                  "Distances between symmetric kernels A and B (n, n), B the reference:\n"
                  "||A-B||_op, ||A-B||_F, both divided by the same norm of B, and, when B is\n"
                  "positive definite, the normalised distance ||B^-1/2 A B^-1/2 - I||_op.",
                  compare_flags, NCOMPARE_FLAGS);
        return 0;
    }
    if (a.npositional != 2)
        return cli_fail("compare-kernels needs two files, A.npy B.npy (B the reference); got %d",
                        a.npositional);
    if (cli_threads(&a)) return 1;
    const char *pa = a.positional[0], *pb = a.positional[1];
    ntk_array A = {0}, B = {0};
    if (load_square("A", pa, &A)) return 1;
    if (load_square("B", pb, &B)) {
        ntk_array_free(&A);
        return 1;
    }
    const size_t n = A.rows;
    int rc = 0;
    if (B.rows != n)
        rc = cli_fail("A %s is %zu x %zu but B %s is %zu x %zu; compare kernels on the same points",
                      pa, n, n, pb, B.rows, B.rows);
    // the normalised distance needs 3n² + n doubles, plus LAPACKE's copies
    if (!rc && ntk_mem_check(ntk_size_mul(5 * n + 1, n, 1, sizeof(double)), 0,
                             "comparing the kernels") != NTK_OK)
        rc = cli_fail_lib(NULL);
    ntk_kernel_dist dist;
    if (!rc && ntk_kernel_distance(A.data, B.data, n, &dist) != NTK_OK) rc = cli_fail_lib(NULL);

    double lmin = NAN, nd = NAN;
    char why[512] = "";
    double *w = rc ? NULL : malloc(n * sizeof(double));
    if (!rc && !w) rc = cli_fail("out of memory for %zu eigenvalues", n);
    if (!rc && ntk_eigh(B.data, n, w, NULL) != NTK_OK) rc = cli_fail_lib("B");
    if (!rc) {
        lmin = w[0];
        if (!(lmin > 0)) {
            snprintf(why, sizeof why,
                     "B is not positive definite (lambda_min = %.3g), so B^-1/2 does not exist",
                     lmin);
        } else if (ntk_normalized_distance(B.data, A.data, n, &nd) != NTK_OK) {
            snprintf(why, sizeof why, "%s", ntk_errmsg());
            nd = NAN;
        }
    }
    free(w);
    if (!rc && cli_has(&a, "json")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "op", dist.op);
        cJSON_AddNumberToObject(o, "fro", dist.fro);
        cJSON_AddNumberToObject(o, "rel_op", dist.rel_op);
        cJSON_AddNumberToObject(o, "rel_fro", dist.rel_fro);
        cJSON_AddNumberToObject(o, "b_lambda_min", lmin);
        if (isfinite(nd)) {
            cJSON_AddNumberToObject(o, "normalized", nd);
        } else {
            cJSON_AddNullToObject(o, "normalized");
            cJSON_AddStringToObject(o, "normalized_unavailable", why);
        }
        char *text = cJSON_Print(o);
        cJSON_Delete(o);
        if (text) printf("%s\n", text);
        free(text);
    } else if (!rc) {
        printf("A %s vs B %s (reference), n = %zu\n", pa, pb, n);
        printf("  ||A-B||_op                    %.10g\n", dist.op);
        printf("  ||A-B||_F                     %.10g\n", dist.fro);
        printf("  ||A-B||_op / ||B||_op         %.10g\n", dist.rel_op);
        printf("  ||A-B||_F / ||B||_F           %.10g\n", dist.rel_fro);
        if (isfinite(nd))
            printf("  ||B^-1/2 A B^-1/2 - I||_op    %.10g\n", nd);
        else
            printf("  ||B^-1/2 A B^-1/2 - I||_op    unavailable: %s\n", why);
    }
    ntk_array_free(&A);
    ntk_array_free(&B);
    return rc;
}
