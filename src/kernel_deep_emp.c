/* The empirical NTK of the deep network (docs/depth.md) in its structured
 * form. With the per-row back-propagated signals G_l (n, m_l) of a pass with
 * seed 1 (δ_{L+1} = α) and the activations A_l (n, m_l) (A_0 = X),
 *   Θ_l = (G_l G_lᵀ) ⊙ (κ_l² A_{l−1} A_{l−1}ᵀ + β²·[biases]),   K = Σ_l w_l Θ_l,
 * since the Jacobian row of layer l is κ_l δ_l ⊗ a_{l−1} (weights) and
 * β δ_l (biases). The output layer's signal is the constant α, so
 * Θ_{L+1} = α² (κ_{L+1}² A_L A_Lᵀ + β²). The Jacobian (n × P) is never
 * formed: every Gram is one BLAS-3 call (dsyrk on the diagonal tiles of a
 * symmetric kernel, dgemm elsewhere) on row tiles sized under the memory
 * limit, and the Hadamard products are one threaded pass per tile and layer.
 * The features of a row block come from the shared tape of src/deep.c
 * (deep_tape_forward/backward), copied into a compact store that keeps only
 * what the nonzero layer weights need. The centred model has the same
 * gradient, so cfg->centered does not change the kernel. */
#include "deep_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define DK_MIN_BLOCK 64               /* the smallest tile accepted */
#define DK_TAPE_ROWS 256              /* rows of one forward/backward pass at most */
#define DK_DEFAULT_LIMIT ((size_t)1 << 30)

/* A network with k > 1 outputs (docs/depth.md §1.7) gets the mean of its
 * per-output kernels, K = (1/k) Σ_c J_c J_cᵀ (neural-tangents' default trace
 * over the output axis): the signals of output c come from the seed e_c,
 * and the k of them sit side by side in a row of the store, G_l (n, k·m_l),
 * so that (1/k)·G_l G_lᵀ is still one Gram. The output layer's block is
 * the same for every c, α²(κ² A_L A_Lᵀ + β²). */

typedef struct {
    const ntk_net_config *cfg;
    const double *theta;
    size_t L, d;
    size_t m[NTK_MAX_DEPTH + 2];      /* m_0 = d .. m_{L+1} = k */
    size_t k;                         /* outputs; a row of the store holds k·m_l signals */
    double *seed;                     /* (tape cap, k): e_c on every row */
    double w[NTK_MAX_DEPTH + 2];      /* w_l (index l = 1..L+1) */
    double k2[NTK_MAX_DEPTH + 2];     /* κ_l² */
    double b2;                        /* β² with biases, else 0 */
    double a2;                        /* α² = δ_{L+1}² */
    int keepA[NTK_MAX_DEPTH + 2];     /* A_l (1 ≤ l ≤ L) is read: w_{l+1} ≠ 0 */
    int keepG[NTK_MAX_DEPTH + 2];     /* G_l (1 ≤ l ≤ L) is read: w_l ≠ 0 */
    int backward, any;                /* some G_l is read; some w_l ≠ 0 */
    size_t feat;                      /* doubles per point of the kept features */
    deep_tape tape;
    double *S, *T;                    /* tile scratch (bI·bJ each) */
} dk_ctx;

/* The features of a block of points: views into a store or into another
 * block (rows offset). A[0] is the inputs X of the block. */
typedef struct {
    const double *A[NTK_MAX_DEPTH + 2];
    const double *G[NTK_MAX_DEPTH + 2];
} dk_feat;

static ntk_status dk_setup(const ntk_kernel_desc *k, dk_ctx *c)
{
    const ntk_net_config *cfg = k->net;
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->theta = k->theta;
    c->L = ntk_net_depth(cfg);
    c->d = cfg->d;
    c->k = ntk_net_outputs(cfg);
    const size_t L = c->L;
    for (size_t l = 0; l <= L + 1; l++) c->m[l] = ntk_net_width(cfg, l);
    for (size_t l = 1; l <= L + 1; l++) {
        c->w[l] = kernel_layer_weight(k, l);
        if (!isfinite(c->w[l]))
            return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: layer %zu's weight %g is not "
                                 "finite; give L+1 = %zu finite layer weights", l, c->w[l], L + 1);
        double kap = ntk_net_weight_factor(cfg, l);
        c->k2[l] = kap * kap;
        c->any |= c->w[l] != 0.0;
    }
    double beta = ntk_net_bias_factor(cfg);
    c->b2 = cfg->bias_std > 0.0 ? beta * beta : 0.0;
    c->a2 = cfg->alpha * cfg->alpha;
    for (size_t l = 1; l <= L; l++) {
        c->keepA[l] = c->w[l + 1] != 0.0;
        c->keepG[l] = c->w[l] != 0.0;
        c->backward |= c->keepG[l];
        c->feat += (size_t)(c->keepA[l] + c->keepG[l] * c->k) * c->m[l];
    }
    return NTK_OK;
}

/* A store of cap rows carved from p: the kept arrays (cap, m_l); returns the
 * end. X is set by dk_features. */
static double *dk_carve(const dk_ctx *c, double *p, size_t cap, double **A, double **G)
{
    for (size_t l = 1; l <= c->L; l++) {
        A[l] = G[l] = NULL;
        if (c->keepA[l]) A[l] = p, p += cap * c->m[l];
        if (c->keepG[l]) G[l] = p, p += cap * c->k * c->m[l];
    }
    return p;
}

/* Rows [off, off+rows) of a block's features. */
static dk_feat dk_view(const dk_ctx *c, const dk_feat *F, size_t off)
{
    dk_feat V;
    memset(&V, 0, sizeof V);
    V.A[0] = F->A[0] + off * c->d;
    for (size_t l = 1; l <= c->L; l++) {
        if (F->A[l]) V.A[l] = F->A[l] + off * c->m[l];
        if (F->G[l]) V.G[l] = F->G[l] + off * c->k * c->m[l];
    }
    return V;
}

/* Bytes of the tape of t rows with the seeds of a k-output network. */
static size_t dk_tape_bytes(const dk_ctx *c, size_t t)
{
    size_t a = deep_tape_bytes(c->cfg, t), b = c->k > 1 ? ntk_size_mul(t, c->k, sizeof(double), 1) : 0;
    return a == SIZE_MAX || b == SIZE_MAX || a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static ntk_status dk_tape_init(dk_ctx *c, size_t t)
{
    NTK_TRY(deep_tape_init(&c->tape, c->cfg, t));
    if (c->k == 1) return NTK_OK;
    c->seed = ntk_alloc(ntk_size_mul(t, c->k, 1, 1), sizeof(double), "the output seeds");
    if (c->seed) return NTK_OK;
    deep_tape_free(&c->tape);
    return NTK_ERR_NOMEM;
}

static void dk_tape_free(dk_ctx *c)
{
    deep_tape_free(&c->tape);
    free(c->seed);
    c->seed = NULL;
}

/* The backward pass of output c (seed e_c on nb rows; k = 1: seed 1), for
 * the diagonal's per-output sums. */
static void dk_backward(dk_ctx *c, size_t nb, size_t out)
{
    if (c->k == 1) {
        deep_tape_backward(&c->tape, c->cfg, c->theta, nb, NULL);
        return;
    }
    memset(c->seed, 0, nb * c->k * sizeof(double));
    for (size_t i = 0; i < nb; i++) c->seed[i * c->k + out] = 1.0;
    deep_tape_backward(&c->tape, c->cfg, c->theta, nb, c->seed);
}

/* The features of rows X (rows, d) into the store (A, G), by passes of the
 * tape over sub-blocks of at most its capacity; F views them. Output c's
 * signals go to columns [c·m_l, (c+1)·m_l) of G_l's rows. */
static void dk_features(dk_ctx *c, const double *X, size_t rows, double **A, double **G, dk_feat *F)
{
    const size_t cap = c->tape.cap, k = c->k;
    for (size_t i0 = 0; i0 < rows; i0 += cap) {
        size_t nb = rows - i0 < cap ? rows - i0 : cap;
        deep_tape_forward(&c->tape, c->cfg, c->theta, X + i0 * c->d, nb, NULL);
        for (size_t l = 1; l <= c->L; l++)
            if (A[l]) memcpy(A[l] + i0 * c->m[l], c->tape.A[l], nb * c->m[l] * sizeof(double));
        if (!c->backward) continue;
        if (k == 1) {
            deep_tape_backward(&c->tape, c->cfg, c->theta, nb, NULL);
            for (size_t l = 1; l <= c->L; l++)
                if (G[l]) memcpy(G[l] + i0 * c->m[l], c->tape.G[l], nb * c->m[l] * sizeof(double));
            continue;
        }
        double *Gs[NTK_MAX_DEPTH + 2] = {NULL};
        for (size_t l = 1; l <= c->L; l++) Gs[l] = G[l] ? G[l] + i0 * k * c->m[l] : NULL;
        deep_tape_signals(&c->tape, c->cfg, c->theta, nb, c->seed, Gs);
    }
    memset(F, 0, sizeof *F);
    F->A[0] = X;
    for (size_t l = 1; l <= c->L; l++) F->A[l] = A[l], F->G[l] = G[l];
}

/* C (bI, bJ; ldc) = alpha·P Qᵀ + beta·C for P (bI, k), Q (bJ, k); diag: P = Q
 * and only the lower triangle (dsyrk). */
static void dk_gram(int diag, size_t bI, size_t bJ, size_t k, double alpha, const double *P,
                    const double *Q, double beta, double *C, size_t ldc)
{
    if (diag)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)bI, (int)k, alpha, P, (int)k, beta,
                    C, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bI, (int)bJ, (int)k, alpha, P,
                    (int)k, Q, (int)k, beta, C, (int)ldc);
}

/* The elementwise passes of a tile, over rows [i0, i1) (lower triangle only
 * when diag): Kt = [Kt +] T ⊙ (S + b2), or Kt += b2 (S NULL). */
typedef struct {
    double *Kt;
    const double *S, *T;
    size_t ldk, bJ;
    double b2;
    int diag, first;
} dk_rows_job;

static void dk_hadamard_chunk(void *ctx, size_t i0, size_t i1)
{
    const dk_rows_job *j = ctx;
    for (size_t i = i0; i < i1; i++) {
        size_t jn = j->diag ? i + 1 : j->bJ;
        double *k = j->Kt + i * j->ldk;
        if (!j->S) {
            for (size_t q = 0; q < jn; q++) k[q] += j->b2;
            continue;
        }
        const double *s = j->S + i * j->bJ, *t = j->T + i * j->bJ;
        if (j->first)
            for (size_t q = 0; q < jn; q++) k[q] = t[q] * (s[q] + j->b2);
        else
            for (size_t q = 0; q < jn; q++) k[q] += t[q] * (s[q] + j->b2);
    }
}

static void dk_rows(dk_rows_job *j, size_t bI)
{
    ntk_parallel_for_grain(bI, j->diag ? (j->bJ + 1) / 2 : j->bJ, dk_hadamard_chunk, j);
}

/* One tile Kt (bI, bJ; ldk) of K between the row block Fi and the column
 * block Fj; diag: the same points, lower triangle only. */
static void dk_tile(dk_ctx *c, const dk_feat *Fi, size_t bI, const dk_feat *Fj, size_t bJ, int diag,
                    double *Kt, size_t ldk)
{
    const size_t L = c->L;
    int first = 1;
    if (c->w[L + 1] != 0.0) {
        // Θ_{L+1} = α² (κ² A_L A_Lᵀ + β²): one Gram straight into the tile
        double wa = c->w[L + 1] * c->a2;
        dk_gram(diag, bI, bJ, c->m[L], wa * c->k2[L + 1], Fi->A[L], Fj->A[L], 0.0, Kt, ldk);
        if (c->b2 != 0.0) {
            dk_rows_job j = {.Kt = Kt, .ldk = ldk, .bJ = bJ, .b2 = wa * c->b2, .diag = diag};
            dk_rows(&j, bI);
        }
        first = 0;
    }
    for (size_t l = L; l >= 1; l--) {
        if (c->w[l] == 0.0) continue;
        // Θ_l = (G_l G_lᵀ) ⊙ (κ_l² A_{l−1} A_{l−1}ᵀ + β²), weight w_l
        dk_gram(diag, bI, bJ, c->m[l - 1], c->k2[l], Fi->A[l - 1], Fj->A[l - 1], 0.0, c->S, bJ);
        dk_gram(diag, bI, bJ, c->k * c->m[l], c->w[l] / (double)c->k, Fi->G[l], Fj->G[l], 0.0,
                c->T, bJ);
        dk_rows_job j = {.Kt = Kt, .S = c->S, .T = c->T, .ldk = ldk, .bJ = bJ, .b2 = c->b2,
                         .diag = diag, .first = first};
        dk_rows(&j, bI);
        first = 0;
    }
}

/* ---- Memory plan: ntk_tile_plan and ntk_tile_scratch (src/kernel_emp.c),
 * with the tape on top ---------------------------------------------------- */

static size_t dk_limit(size_t mem_limit)
{
    if (mem_limit) return mem_limit;
    size_t avail = ntk_mem_available(), limit = DK_DEFAULT_LIMIT;
    if (avail && avail / 10 * 9 < limit) limit = avail / 10 * 9;
    return limit;
}

/* The tape's rows: up to DK_TAPE_ROWS (and the points), halved while the
 * tape takes more than a quarter of the limit. */
static size_t dk_tape_rows(const dk_ctx *c, size_t npts, size_t limit)
{
    size_t t = npts < DK_TAPE_ROWS ? npts : DK_TAPE_ROWS;
    while (t > 1 && dk_tape_bytes(c, t) > limit / 4) t /= 2;
    return t ? t : 1;
}

/* The plan of K (n1, N2) under the limit: tape rows *tc, blocks *bI, *bJ and
 * the scratch doubles *total (the tape excluded), or NTK_ERR_NOMEM with the
 * estimate of the smallest tile. */
static ntk_status dk_layout(const dk_ctx *c, size_t n1, size_t N2, int sym, size_t mem_limit,
                            size_t *tc, size_t *bI, size_t *bJ, size_t *total)
{
    const size_t limit = dk_limit(mem_limit);
    size_t npts = n1 > N2 ? n1 : N2;
    *tc = dk_tape_rows(c, npts, limit);
    const size_t tape = dk_tape_bytes(c, *tc);
    const size_t pair = c->backward ? 2 : 0;
    *bI = *bJ = 0;
    if (tape < limit) ntk_tile_plan((limit - tape) / sizeof(double), n1, N2, c->feat, pair, sym, bI, bJ);
    if (*bI == 0) {
        const size_t bI_min = n1 < DK_MIN_BLOCK ? n1 : DK_MIN_BLOCK;
        const size_t bJ_min = N2 < DK_MIN_BLOCK ? N2 : DK_MIN_BLOCK;
        double need = (double)ntk_tile_scratch(bI_min, bJ_min, c->feat, pair, 1) * sizeof(double) +
                      (double)dk_tape_bytes(c, 1);
        return ntk_set_error(NTK_ERR_NOMEM,
                             "deep empirical NTK: the smallest tile (%zu x %zu points, %zu "
                             "feature values a point, P = %zu parameters) needs %.2f MiB of "
                             "scratch but the memory limit is %.2f MiB; raise mem_limit (0 = "
                             "default) or reduce the widths",
                             bI_min, bJ_min, c->feat, ntk_net_nparams(c->cfg), need / 1048576.0,
                             (double)limit / 1048576.0);
    }
    *total = ntk_tile_scratch(*bI, *bJ, c->feat, pair, !sym || *bJ < N2);
    return NTK_OK;
}

/* Bytes of scratch kernel_deep_empirical uses for K (n1, n2) (n2 = 0: the
 * symmetric block) under mem_limit (0: the default), the tape included and
 * the output excluded; SIZE_MAX when no tile fits (for callers that plan
 * around the kernel, as src/kernel_file.c does with the two-layer one; the
 * description's mem_limit is not read). */
size_t kernel_deep_empirical_scratch_bytes(const ntk_kernel_desc *k, size_t n1, size_t n2,
                                           size_t mem_limit)
{
    dk_ctx c;
    if (!k || !k->net || n1 == 0 || dk_setup(k, &c) != NTK_OK) return SIZE_MAX;
    if (!c.any) return 0;
    size_t tc, bI, bJ, total;
    int sym = n2 == 0;
    if (dk_layout(&c, n1, sym ? n1 : n2, sym, mem_limit, &tc, &bI, &bJ, &total) != NTK_OK)
        return SIZE_MAX;
    size_t bytes = ntk_size_mul(total, sizeof(double), 1, 1), tape = dk_tape_bytes(&c, tc);
    return bytes > SIZE_MAX - tape ? SIZE_MAX : bytes + tape;
}

/* ---- Arguments ---------------------------------------------------------- */

static ntk_status dk_check_args(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2, const double *K)
{
    if (!k || !k->net || !X1 || !K)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: the description, its network "
                             "settings, X1 and K must not be NULL");
    NTK_TRY(ntk_net_config_check(k->net));
    if (!k->theta)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: theta is NULL; set the "
                             "description's theta to the network's flat parameters "
                             "(ntk_net_nparams values; W and v are the two-layer weights)");
    if (n1 == 0)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: n1 = 0; pass at least one point");
    if (k->diagonal && X2)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: the diagonal is of a symmetric "
                             "kernel; pass X2 = NULL");
    if (X2 && n2 == 0)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: n2 = 0 with X2 given; pass X2 = "
                             "NULL for the symmetric block or at least one point");
    if (!X2 && n2 != 0 && n2 != n1)
        return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel: X2 = NULL asks for the (n1,n1) "
                             "block but n2 = %zu != n1 = %zu; pass n2 = 0 or n1", n2, n1);
    return NTK_OK;
}

static ntk_status dk_check_data(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2)
{
    const ntk_net_config *cfg = k->net;
    NTK_TRY(ntk_check_finite(k->theta, ntk_net_nparams(cfg), "theta"));
    NTK_TRY(ntk_check_finite(X1, ntk_size_mul(n1, cfg->d, 1, 1), "X1"));
    if (X2) NTK_TRY(ntk_check_finite(X2, ntk_size_mul(n2, cfg->d, 1, 1), "X2"));
    double s = ntk_net_config_s(cfg);
    NTK_TRY(ntk_check_input_scale(X1, n1, cfg->d, s, "X1"));
    if (X2) NTK_TRY(ntk_check_input_scale(X2, n2, cfg->d, s, "X2"));
    return NTK_OK;
}

/* ---- The diagonal ---------------------------------------------------------
 * K_ii = Σ_l w_l ‖δ_l(x_i)‖² (κ_l² ‖a_{l−1}(x_i)‖² + β²), ‖δ_{L+1}‖² = α²
 * (‖δ_l‖² the mean over the outputs):
 * one pass of the tape per row block, O(n·P) work, memory one tape. */
static ntk_status dk_diag(dk_ctx *c, const double *X, size_t n, size_t mem_limit, double *K)
{
    const size_t limit = dk_limit(mem_limit), L = c->L;
    size_t tc = n < DK_TAPE_ROWS ? n : DK_TAPE_ROWS;
    while (tc > 1 && dk_tape_bytes(c, tc) > limit) tc /= 2;
    if (dk_tape_bytes(c, tc) > limit)
        return ntk_set_error(NTK_ERR_NOMEM, "deep empirical NTK diagonal: one point's forward and "
                             "backward pass needs %.2f MiB but the memory limit is %.2f MiB; raise "
                             "mem_limit (0 = default) or reduce the widths",
                             (double)dk_tape_bytes(c, 1) / 1048576.0,
                             (double)limit / 1048576.0);
    NTK_TRY(dk_tape_init(c, tc));
    for (size_t i0 = 0; i0 < n; i0 += tc) {
        size_t nb = n - i0 < tc ? n - i0 : tc;
        const double *Xb = X + i0 * c->d;
        deep_tape_forward(&c->tape, c->cfg, c->theta, Xb, nb, NULL);
        /* the output layer's term, then the mean over outputs of the others */
        for (size_t i = 0; i < nb; i++) {
            const double *a = c->tape.A[L] + i * c->m[L];
            K[i0 + i] = c->w[L + 1] == 0.0 ? 0.0
                        : c->w[L + 1] * c->a2 * (c->k2[L + 1] * ntk_dot(c->m[L], a, a) + c->b2);
        }
        for (size_t o = 0; c->backward && o < c->k; o++) {
            dk_backward(c, nb, o);
            for (size_t i = 0; i < nb; i++) {
                double acc = 0.0;
                for (size_t l = 1; l <= L; l++) {
                    if (c->w[l] == 0.0) continue;
                    size_t ma = c->m[l - 1], mg = c->m[l];
                    const double *a = l == 1 ? Xb + i * c->d : c->tape.A[l - 1] + i * ma;
                    const double *g = c->tape.G[l] + i * mg;
                    acc += c->w[l] * ntk_dot(mg, g, g) * (c->k2[l] * ntk_dot(ma, a, a) + c->b2);
                }
                K[i0 + i] += acc / (double)c->k;
            }
        }
    }
    dk_tape_free(c);
    return ntk_check_result(K, n, 1, "the deep empirical NTK's diagonal",
                            "an entry overflows double precision; rescale the inputs, the "
                            "parameters or alpha");
}

/* ---- The kernel ---------------------------------------------------------- */

ntk_status kernel_deep_empirical(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                 const double *X2, size_t n2, double *K)
{
    NTK_TRY(dk_check_args(k, X1, n1, X2, n2, K));
    dk_ctx c;
    NTK_TRY(dk_setup(k, &c));
    const int sym = X2 == NULL;
    const size_t N2 = sym ? n1 : n2, d = c.d;
    if (k->diagonal) {
        NTK_TRY(dk_check_data(k, X1, n1, NULL, 0));
        if (!c.any) {
            memset(K, 0, n1 * sizeof *K);
            return NTK_OK;
        }
        return dk_diag(&c, X1, n1, k->mem_limit, K);
    }
    size_t tc = 0, bI = 0, bJ = 0, total = 0;
    if (c.any) NTK_TRY(dk_layout(&c, n1, N2, sym, k->mem_limit, &tc, &bI, &bJ, &total));
    NTK_TRY(dk_check_data(k, X1, n1, X2, n2));
    if (!c.any) {
        memset(K, 0, ntk_size_mul(n1, N2, sizeof *K, 1));
        return NTK_OK;
    }
    const int row_store = !sym || bJ < N2;
    double *buf = ntk_alloc(total ? total : 1, sizeof(double), "deep empirical NTK scratch");
    if (!buf) return NTK_ERR_NOMEM;
    ntk_status st = dk_tape_init(&c, tc);
    if (st != NTK_OK) {
        free(buf);
        return st;
    }
    // carve: column features (bJ rows), row features (bI rows), S, T (bI·bJ each)
    double *AJ[NTK_MAX_DEPTH + 2], *GJ[NTK_MAX_DEPTH + 2], *AR[NTK_MAX_DEPTH + 2],
        *GR[NTK_MAX_DEPTH + 2];
    double *p = dk_carve(&c, buf, bJ, AJ, GJ);
    if (row_store) p = dk_carve(&c, p, bI, AR, GR);
    if (c.backward) {
        c.S = p, p += bI * bJ;
        c.T = p;
    }
    const double *Xc = sym ? X1 : X2;
    for (size_t j0 = 0; j0 < N2; j0 += bJ) {
        size_t j1 = j0 + bJ < N2 ? j0 + bJ : N2, nJ = j1 - j0;
        dk_feat FJ, FI;
        dk_features(&c, Xc + j0 * d, nJ, AJ, GJ, &FJ);
        for (size_t i0 = sym ? j0 : 0, i1; i0 < n1; i0 = i1) {
            if (sym && i0 < j1) {
                // rows inside the column store: views; the lower triangle only
                i1 = i0 + bI < j1 ? i0 + bI : j1;
                FI = dk_view(&c, &FJ, i0 - j0);
                if (i0 > j0) dk_tile(&c, &FI, i1 - i0, &FJ, i0 - j0, 0, K + i0 * n1 + j0, n1);
                dk_tile(&c, &FI, i1 - i0, &FI, i1 - i0, 1, K + i0 * n1 + i0, n1);
            } else {
                i1 = i0 + bI < n1 ? i0 + bI : n1;
                dk_features(&c, X1 + i0 * d, i1 - i0, AR, GR, &FI);
                dk_tile(&c, &FI, i1 - i0, &FJ, nJ, 0, K + i0 * N2 + j0, N2);
            }
        }
    }
    dk_tape_free(&c);
    free(buf);
    if (sym) ntk_mirror(K, n1, 0);
    return ntk_check_result(K, n1, N2, "the deep empirical NTK",
                            "an entry overflows double precision; rescale the inputs, the "
                            "parameters or alpha");
}
