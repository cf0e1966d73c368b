/* ntk_kernel_write_npy, the kernel written row block by row block, against
 * ntk_kernel in memory: every source, symmetric, cross and diagonal, float64
 * and float32, budgets that force several blocks (one row at a time, too);
 * and what must leave no file: a cancel, a budget below one row, NaN inputs.
 *
 * Tolerance. The file's rows are cross blocks K(X[rows], X2), the in-memory
 * kernel one SYRK or GEMM over all points; the two differ only in how the
 * inner products are rounded (other shapes, other summation orders):
 *   - a sum of k products is within γ_k·Σ|terms| of its value (γ_k ≈ k·ε),
 *     and Σ|terms| <= √(K_ii K_jj) by Cauchy–Schwarz for the sums over the m
 *     neurons (empirical) and the d + 2 features (Hu et al.'s kernels), whose
 *     diagonal terms are squares; the Gram products x·x' (over d) likewise
 *     against √(q_i q_j);
 *   - the infinite-width maps move by at most 13 α²·|Δc| for a change Δc of
 *     c = x·x'/s² (relu: |dΣ/dc| <= 1, Σ' <= 1 and ρ·dΣ'/dρ <= 1/(2π sin θ) <=
 *     11.3, since the closed form takes θ from the vectors, not from c, once
 *     |ρ| > 1 − 10^-4; erf: |dΣ/dc| <= 4/π and c·dΣ'/dc <= 8/π), and the
 *     diagonal is α²q(c1/2 + c2/2) or more for relu, so that is ≤ 26·γ_d·√(K_ii K_jj);
 *   - the empirical pre-activations z = w·x/s (over d) move φ(z), φ'(z) by
 *     at most sup|φ'|, sup|φ''| (≤ 1.2 for erf and tanh) times γ_d·|w||x|/s,
 *     a few times γ_d·√d relative to the terms for the unit-variance inputs
 *     and weights here.
 * Both computations err, so with a margin for the few roundings of each
 * map's last formula: |ΔK_ij| <= C_ROUND·(m + d + 2)·ε·max_i K_ii with
 * C_ROUND = 64 (the largest factor above, 2·26, rounded up). An entry in the
 * wrong row or a block's trace factor (not all of X's) would be off by
 * O(1e-3) or more. Where the computation is the same for both (the diagonal
 * of the closed-form kernels: each K_ii from point i alone), the test is
 * exact equality. */
#include "harness.h"
#include "ntkit.h"
#include "tmpdir.h"

#include <float.h>

#define C_ROUND 64.0

/* Entries of a folder, "." and ".." excluded. */
static int count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    int k = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        k += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (dp) closedir(dp);
    return k;
}

typedef struct {
    const char *name;
    ntk_kernel_source src;
    ntk_act_kind act;
    ntk_input_scale scale;
    size_t n1, n2, d, m;
    size_t depth;      /* hidden layers (0: the two-layer network) */
    double bias_std;   /* σ_b at depth */
} kcase;

/* One description with its network (net owns the weights). */
static ntk_kernel_desc make_desc(const kcase *c, ntk_net_config *cfg, ntk_net **net)
{
    *cfg = ntk_net_config_default(c->d, c->m);
    cfg->act.kind = c->act;
    cfg->alpha = 1.3;
    cfg->input_scale = c->scale;
    cfg->seed = 11;
    if (c->depth > 1) {   /* widths m, m − 3, m + 2, ... */
        cfg->depth = c->depth;
        for (size_t l = 0; l < c->depth; l++) cfg->widths[l] = l % 2 ? c->m - 3 : c->m + 2 * l;
        cfg->bias_std = c->bias_std;
    }
    *net = NULL;
    CHECK_OK(ntk_net_create(cfg, net));
    ntk_kernel_desc k = ntk_kernel_desc_default(c->src, cfg);
    k.c1 = 1.0;
    k.c2 = 0.7;
    k.W = *net ? ntk_net_W0(*net) : NULL;
    k.v = *net ? ntk_net_v0(*net) : NULL;
    k.theta = *net ? ntk_net_theta0(*net) : NULL;
    k.trace_factor = 0.0;   /* Hu et al.'s kernels: estimated from all of X */
    return k;
}

/* The file at path against K (n1, n2) (ndim 1: (n1,)): shape, and every
 * entry within tol + f32·2^-24·|K_ij|. Returns the largest error. */
static double file_error(const char *path, const double *K, size_t n1, size_t n2, int ndim,
                         int f32, double tol, const char *what)
{
    ntk_array F;
    ntk_status st = ntk_npy_read(path, &F);
    CHECK(st == NTK_OK, "%s: %s", what, ntk_errmsg());
    if (st != NTK_OK) return INFINITY;
    CHECK(F.rows == n1 && F.cols == (ndim == 1 ? 1 : n2) && F.ndim == ndim,
          "%s: shape %zux%zu ndim %d", what, F.rows, F.cols, F.ndim);
    double worst = 0.0;
    size_t count = n1 * (ndim == 1 ? 1 : n2);
    for (size_t i = 0; F.rows * F.cols == count && i < count; i++) {
        double err = fabs(F.data[i] - K[i]);
        /* float32 rounds the file's float64 entry, itself within tol of K */
        double allowed = f32 ? ldexp(fabs(K[i]) + tol, -24) + tol : tol;
        /* err / allowed, as a margin: <= 1 passes */
        double r = allowed > 0 ? err / allowed : (err > 0 ? INFINITY : 0.0);
        if (!(r <= worst)) worst = r;
    }
    ntk_array_free(&F);
    return worst;
}

static void run_case(const kcase *c)
{
    ntk_net_config cfg;
    ntk_net *net;
    ntk_kernel_desc k = make_desc(c, &cfg, &net);
    ntk_rng rng;
    ntk_rng_seed(&rng, 3);
    double *X = malloc(c->n1 * c->d * sizeof(double)), *Z = malloc(c->n2 * c->d * sizeof(double));
    double *K = malloc(c->n1 * c->n1 * sizeof(double)), *D = malloc(c->n1 * sizeof(double));
    double *Kc = malloc(c->n1 * c->n2 * sizeof(double));
    if (!X || !Z || !K || !D || !Kc) {
        CHECK(0, "out of memory");
        return;
    }
    ntk_rng_normal_fill(&rng, X, c->n1 * c->d);
    ntk_rng_normal_fill(&rng, Z, c->n2 * c->d);
    CHECK_OK(ntk_kernel(&k, X, c->n1, NULL, 0, K));
    CHECK_OK(ntk_kernel(&k, X, c->n1, Z, c->n2, Kc));
    k.diagonal = 1;
    CHECK_OK(ntk_kernel(&k, X, c->n1, NULL, 0, D));
    k.diagonal = 0;
    double scale = 0.0;
    for (size_t i = 0; i < c->n1; i++) scale = fmax(scale, fabs(D[i]));
    /* at depth: L + 1 layer shares, each a product of two Grams of at most
     * max(m_l) + d terms (widths up to m + 2L), each share bounded by the
     * diagonal's scale */
    const double L1 = c->depth > 1 ? (double)c->depth + 1.0 : 1.0;
    const double terms = (double)(c->m + 2 * (c->depth ? c->depth : 1) + c->d + 2);
    double tol = C_ROUND * L1 * terms * DBL_EPSILON * scale;
    const char *p = in_dir("K.npy");
    const size_t sym_bytes = c->n1 * c->n1 * 8, cross_bytes = c->n1 * c->n2 * 8;
    /* half the kernel's bytes: at least two blocks, since a row costs at
     * least its n2 values; 0: the default budget (one block here) */
    const size_t budgets[] = {sym_bytes / 2, 0};
    for (int b = 0; b < 2; b++) {
        CHECK_OK(ntk_kernel_write_npy(&k, X, c->n1, NULL, 0, p, budgets[b], 0, NULL));
        double r = file_error(p, K, c->n1, c->n1, 2, 0, tol, c->name);
        CHECK_LE(r, 1.0, "%s symmetric, budget %zu: worst error / tolerance %.3g", c->name,
                 budgets[b], tol);
        CHECK_OK(ntk_kernel_write_npy(&k, X, c->n1, Z, c->n2, p, b ? 0 : cross_bytes / 2, 0, NULL));
        r = file_error(p, Kc, c->n1, c->n2, 2, 0, tol, c->name);
        CHECK_LE(r, 1.0, "%s cross, budget %zu", c->name, b ? 0 : cross_bytes / 2);
    }
    /* float32: within 2^-24 relative of the float64 entries (plus the
     * rounding difference of the blocks) */
    CHECK_OK(ntk_kernel_write_npy(&k, X, c->n1, NULL, 0, p, sym_bytes / 2, 1, NULL));
    CHECK_LE(file_error(p, K, c->n1, c->n1, 2, 1, tol, c->name), 1.0, "%s float32", c->name);
    /* the diagonal, (n1,); the empirical one keeps its own features of 4 MiB:
     * the default budget */
    k.diagonal = 1;
    size_t dbudget = c->src == NTK_KERNEL_EMPIRICAL ? 0 : c->n1 * 8 / 2;
    CHECK_OK(ntk_kernel_write_npy(&k, X, c->n1, NULL, 0, p, dbudget, 0, NULL));
    double rd = file_error(p, D, c->n1, 1, 1, 0, c->src == NTK_KERNEL_EMPIRICAL ? tol : 0.0,
                           c->name);
    CHECK_LE(rd, 1.0, "%s diagonal (exact for the closed forms)", c->name);
    k.diagonal = 0;
    ntk_net_free(net);
    free(X), free(Z), free(K), free(D), free(Kc);
}

/* One row per block: every block is the last one of its size. */
static void test_one_row_blocks(void)
{
    kcase c = {"ntk-inf relu", NTK_KERNEL_INFINITE, NTK_ACT_RELU, NTK_SCALE_SQRT_D, 31, 0, 4, 8, 0, 0.0};
    ntk_net_config cfg;
    ntk_net *net;
    ntk_kernel_desc k = make_desc(&c, &cfg, &net);
    double X[31 * 4], K[31 * 31];
    ntk_rng rng;
    ntk_rng_seed(&rng, 8);
    ntk_rng_normal_fill(&rng, X, sizeof X / sizeof X[0]);
    CHECK_OK(ntk_kernel(&k, X, 31, NULL, 0, K));
    double scale = 0.0;
    for (size_t i = 0; i < 31; i++) scale = fmax(scale, K[i * 31 + i]);
    // the infinite-width kernel's budget: the row, its norm and the norms of X
    size_t one_row = 31 * 8 + 8 + 31 * 8;
    CHECK_OK(ntk_kernel_write_npy(&k, X, 31, NULL, 0, in_dir("K1.npy"), one_row, 0, NULL));
    double tol = C_ROUND * (double)(c.d + 2) * DBL_EPSILON * scale;
    CHECK_LE(file_error(in_dir("K1.npy"), K, 31, 31, 2, 0, tol, "one row"), 1.0, "rows of one");
    /* and not even that: refused with the estimate, no file */
    int before = count_entries(g_dir);
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 31, NULL, 0, in_dir("K0.npy"), one_row - 1, 0, NULL),
              NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "one row") && strstr(ntk_errmsg(), "MiB"), "message: %s",
          ntk_errmsg());
    CHECK(count_entries(g_dir) == before, "no file when no row fits");
    ntk_net_free(net);
}

/* A cancel between blocks, NaN inputs and bad arguments leave no file and
 * the earlier file at the destination as it was. */
static void test_no_file(void)
{
    kcase c = {"lin", NTK_KERNEL_LIN, NTK_ACT_RELU, NTK_SCALE_SQRT_D, 20, 0, 3, 8, 0, 0.0};
    ntk_net_config cfg;
    ntk_net *net;
    ntk_kernel_desc k = make_desc(&c, &cfg, &net);
    double X[20 * 3];
    ntk_rng rng;
    ntk_rng_seed(&rng, 2);
    ntk_rng_normal_fill(&rng, X, 60);
    const char *p = in_dir("old.npy");
    const double old[2] = {1.0, 2.0};
    CHECK_OK(ntk_npy_write(p, old, 2, 1, 1));
    int before = count_entries(g_dir);
    volatile int stop = 1;
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, NULL, 0, p, 0, 0, &stop), NTK_ERR_INTERRUPTED);
    CHECK(strstr(ntk_errmsg(), "interrupted"), "message: %s", ntk_errmsg());
    stop = 0;
    X[59] = NAN;   /* the last row: found before any block */
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, NULL, 0, p, 0, 0, &stop), NTK_ERR_NONFINITE);
    X[59] = 0.5;
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, X, 20, p, 0, 0, NULL), NTK_OK);
    k.diagonal = 1;
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, X, 20, p, 0, 0, NULL), NTK_ERR_ARG);
    k.diagonal = 0;
    CHECK_OK(ntk_npy_write(p, old, 2, 1, 1));
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 0, NULL, 0, p, 0, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, X, 0, p, 0, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, NULL, 0, "", 0, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_write_npy(NULL, X, 20, NULL, 0, p, 0, 0, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_write_npy(&k, X, 20, NULL, 0, in_dir("nodir/K.npy"), 0, 0, NULL),
              NTK_ERR_IO);
    ntk_kernel_desc e = k;
    e.source = NTK_KERNEL_EMPIRICAL;
    e.W = NULL;
    CHECK_ERR(ntk_kernel_write_npy(&e, X, 20, NULL, 0, p, 0, 0, NULL), NTK_ERR_ARG);
    ntk_array a;
    CHECK_OK(ntk_npy_read(p, &a));
    CHECK(a.rows == 2 && a.data[0] == 1.0 && a.data[1] == 2.0, "the earlier file is intact");
    ntk_array_free(&a);
    CHECK(count_entries(g_dir) == before, "no temporary file left");
    ntk_net_free(net);
}

int main(void)
{
    tmpdir_make("ntk_kfile");
    /* the empirical kernel needs room for its smallest tile (64 x 64 points)
     * in a quarter of the budget: more points, so that half the kernel's
     * bytes still gives several blocks */
    const kcase cases[] = {
        {"ntk erf", NTK_KERNEL_EMPIRICAL, NTK_ACT_ERF, NTK_SCALE_SQRT_D, 400, 100, 6, 16, 0, 0.0},
        {"ntk tanh, s = 1", NTK_KERNEL_EMPIRICAL, NTK_ACT_TANH, NTK_SCALE_ONE, 300, 100, 5, 16, 0, 0.0},
        {"ntk-inf relu", NTK_KERNEL_INFINITE, NTK_ACT_RELU, NTK_SCALE_SQRT_D, 60, 25, 6, 8, 0, 0.0},
        {"ntk-inf erf", NTK_KERNEL_INFINITE, NTK_ACT_ERF, NTK_SCALE_SQRT_D, 60, 25, 6, 8, 0, 0.0},
        {"ntk-inf gelu (quadrature)", NTK_KERNEL_INFINITE, NTK_ACT_GELU, NTK_SCALE_SQRT_D, 40, 17, 5, 8, 0, 0.0},
        {"lin relu, estimated trace factor", NTK_KERNEL_LIN, NTK_ACT_RELU, NTK_SCALE_SQRT_D, 60, 25, 6, 8, 0, 0.0},
        {"lin erf, s = 1", NTK_KERNEL_LIN, NTK_ACT_ERF, NTK_SCALE_ONE, 60, 25, 6, 8, 0, 0.0},
        /* at depth (docs/depth.md): the deep empirical kernel planned by its own scratch
         * estimate, and the layer recursion */
        {"ntk depth 3 erf, biases", NTK_KERNEL_EMPIRICAL, NTK_ACT_ERF, NTK_SCALE_SQRT_D, 300, 300, 5, 12, 3, 0.3},
        {"ntk-inf depth 2 relu, biases", NTK_KERNEL_INFINITE, NTK_ACT_RELU, NTK_SCALE_SQRT_D, 60, 25, 6, 8, 2, 0.2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    test_one_row_blocks();
    test_no_file();
    remove_tree(g_dir);
    return t_finish();
}
