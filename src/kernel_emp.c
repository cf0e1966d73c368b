/* The empirical NTK of the two-layer net in its structured form, docs/theory.md §2:
 *   Θ1 = α²/m (φ'(Z1) diag(v²) φ'(Z2)ᵀ) ⊙ (X1 X2ᵀ/s²),  Θ2 = α²/m φ(Z1) φ(Z2)ᵀ,
 *   Z = X Wᵀ/s,  K = c1·Θ1 + c2·Θ2.
 * The n×(md+m) Jacobian is never formed: per row block we keep the features
 * P = φ(Z) and A = φ'(Z)·diag|v| (so that A1 A2ᵀ = φ'(Z1) diag(v²) φ'(Z2)ᵀ),
 * and every product is one BLAS-3 call. The centred model f(x;θ) − f(x;θ0)
 * has the same gradient in θ, so cfg->centered does not change the kernel. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define EMP_ROW_BLOCK 1024           /* rows of X1 per tile when memory allows */
#define EMP_MIN_BLOCK 64             /* the smallest tile we accept */
#define EMP_DEFAULT_LIMIT ((size_t)1 << 30)

typedef struct {
    ntk_act act;
    size_t m, d;
    double s;
    const double *W;       /* (m,d) */
    const double *absv;    /* |v| (m) */
    double scale2;         /* c2·α²/m, the factor of φ(Z1)φ(Z2)ᵀ */
    double scale1;         /* c1·α²/(m s²), the factor of (A1A2ᵀ) ⊙ (X1X2ᵀ) */
    int need_phi, need_dphi;
    double *G;             /* (bI,bJ) scratch: X1X2ᵀ of one tile */
} emp_ctx;

/* Rows [i0,i1) of one elementwise pass: A ← A diag|v| (A set), or
 * Kt ← Kt ⊙ G (lower triangle only when diag), or the mirroring. */
typedef struct {
    const emp_ctx *c;
    double *A;
    double *Kt;
    size_t ldk, bJ;
    int diag;
} emp_rows_job;

static void emp_scale_chunk(void *ctx, size_t i0, size_t i1)
{
    const emp_rows_job *j = ctx;
    const size_t m = j->c->m;
    const double *absv = j->c->absv;
    for (size_t i = i0; i < i1; i++) {
        double *a = j->A + i * m;
        for (size_t r = 0; r < m; r++) a[r] *= absv[r];
    }
}

static void emp_hadamard_chunk(void *ctx, size_t i0, size_t i1)
{
    const emp_rows_job *j = ctx;
    const size_t bJ = j->bJ;
    for (size_t i = i0; i < i1; i++) {
        size_t jn = j->diag ? i + 1 : bJ;
        const double *g = j->c->G + i * bJ;
        double *k = j->Kt + i * j->ldk;
        for (size_t q = 0; q < jn; q++) k[q] *= g[q];
    }
}

/* X (rows,d) -> P = φ(Z) (rows,m), A = φ'(Z)·diag|v| (rows,m), Z = X Wᵀ/s.
 * Z is formed in place of whichever output is kept. */
static void emp_features(const emp_ctx *c, const double *X, size_t rows, double *P, double *A)
{
    size_t m = c->m;
    double *Z = c->need_phi ? P : A;
    // docs/theory.md §2: Z = X Wᵀ / s
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)c->d,
                1.0 / c->s, X, (int)c->d, c->W, (int)c->d, 0.0, Z, (int)m);
    ntk_act_apply(c->act, rows * m, Z, c->need_phi ? P : NULL, c->need_dphi ? A : NULL);
    if (!c->need_dphi) return;
    // A = φ'(Z) diag|v|, so that A1 A2ᵀ = φ'(Z1) diag(v²) φ'(Z2)ᵀ
    emp_rows_job j = {.c = c, .A = A};
    ntk_parallel_for_grain(rows, m, emp_scale_chunk, &j);
}

/* One tile Kt (bI,bJ) with leading dimension ldk from row features
 * (PI, AI, XI) of bI points and column features (PJ, AJ, XJ) of bJ points.
 * diag: the two sets coincide (bI = bJ) and only the lower triangle is
 * written, with dsyrk. Θ1 is formed in Kt itself and multiplied by the
 * X1X2ᵀ tile in place; Θ2 is then added with beta = 1. */
static void emp_tile(const emp_ctx *c, const double *PI, const double *AI, const double *XI,
                     size_t bI, const double *PJ, const double *AJ, const double *XJ, size_t bJ,
                     int diag, double *Kt, size_t ldk)
{
    const int m = (int)c->m, d = (int)c->d, ld = (int)ldk;
    if (c->need_dphi) {
        // docs/theory.md §2.2: Θ1 = α²/m (φ'(Z1) diag(v²) φ'(Z2)ᵀ) ⊙ (X1 X2ᵀ / s²), weight c1
        if (diag) {
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)bI, m, c->scale1, AI, m,
                        0.0, Kt, ld);
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)bI, d, 1.0, XI, d, 0.0,
                        c->G, (int)bJ);
        } else {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bI, (int)bJ, m, c->scale1,
                        AI, m, AJ, m, 0.0, Kt, ld);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bI, (int)bJ, d, 1.0, XI, d,
                        XJ, d, 0.0, c->G, (int)bJ);
        }
        // the Hadamard product has no BLAS form: one (threaded) pass over the tile
        emp_rows_job j = {.c = c, .Kt = Kt, .ldk = ldk, .bJ = bJ, .diag = diag};
        ntk_parallel_for_grain(bI, diag ? (bJ + 1) / 2 : bJ, emp_hadamard_chunk, &j);
    }
    if (c->need_phi) {
        // docs/theory.md §2.2: Θ2 = α²/m φ(Z1) φ(Z2)ᵀ, weight c2, added onto c1·Θ1
        double beta = c->need_dphi ? 1.0 : 0.0;
        if (diag)
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)bI, m, c->scale2, PI, m,
                        beta, Kt, ld);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bI, (int)bJ, m, c->scale2,
                        PI, m, PJ, m, beta, Kt, ld);
    }
}

typedef struct {
    double *K;
    size_t n;
    int from_upper;
} mirror_job;

/* Block rows k and nb−1−k of the mirroring (pairs balance the triangle). */
static void mirror_chunk(void *ctx, size_t k0, size_t k1)
{
    const mirror_job *j = ctx;
    const size_t n = j->n, B = 64, nb = (n + B - 1) / B;
    double *K = j->K;
    for (size_t k = k0; k < k1; k++) {
        size_t blocks[2] = {k, nb - 1 - k};
        for (int h = 0; h < (blocks[0] == blocks[1] ? 1 : 2); h++) {
            size_t i0 = blocks[h] * B, i1 = i0 + B < n ? i0 + B : n;
            // rows [i0,i1) of the lower triangle <-> columns [i0,i1) of the upper one
            for (size_t j0 = 0; j0 <= i0; j0 += B)
                for (size_t i = i0; i < i1; i++)
                    for (size_t q = j0; q < j0 + B && q < i; q++) {
                        if (j->from_upper) K[i * n + q] = K[q * n + i];
                        else K[q * n + i] = K[i * n + q];
                    }
        }
    }
}

/* K (n,n): one triangle copied onto the other in 64×64 blocks (src/internal.h);
 * block rows touch disjoint parts, so they run in parallel. */
void ntk_mirror(double *K, size_t n, int from_upper)
{
    const size_t nb = (n + 63) / 64;
    mirror_job j = {K, n, from_upper};
    ntk_parallel_for_grain((nb + 1) / 2, 64 * n, mirror_chunk, &j);
}

/* Scratch doubles of a plan with row blocks of bI and column blocks of bJ:
 * column features, row features (unless they are views into the column
 * cache), and the pair tiles (src/internal.h; also the deep kernel's). */
size_t ntk_tile_scratch(size_t bI, size_t bJ, size_t feat, size_t pair, int row_scratch)
{
    size_t cache = ntk_size_mul(bJ, feat, 1, 1);
    size_t rows = row_scratch ? ntk_size_mul(bI, feat, 1, 1) : 0;
    size_t tiles = ntk_size_mul(bI, bJ, pair, 1);
    if (cache == SIZE_MAX || rows == SIZE_MAX || tiles == SIZE_MAX) return SIZE_MAX;
    if (cache > SIZE_MAX - rows || cache + rows > SIZE_MAX - tiles) return SIZE_MAX;
    return cache + rows + tiles;
}

/* Memory plan: budget (doubles) -> row block *bI and column block *bJ, or
 * *bI = 0 when not even a 64-point tile fits. feat: doubles of features
 * per point; pair: doubles of tiles per kernel entry (0: none).
 * Plan A caches the features of all N2 column points once (for the
 * symmetric block the row features are then views into that cache) and
 * is preferred even with small row blocks. Plan B caches as many column
 * points as fit and recomputes the row features once per column block; it
 * prefers row blocks no longer than the column blocks. */
void ntk_tile_plan(size_t budget, size_t n1, size_t N2, size_t feat, size_t pair, int sym,
                   size_t *bI, size_t *bJ)
{
    const size_t cand[] = {EMP_ROW_BLOCK, EMP_ROW_BLOCK / 2, EMP_ROW_BLOCK / 4, EMP_ROW_BLOCK / 8,
                           EMP_MIN_BLOCK};
    const size_t ncand = sizeof cand / sizeof cand[0];
    const size_t bJ_min = N2 < EMP_MIN_BLOCK ? N2 : EMP_MIN_BLOCK;
    *bI = *bJ = 0;
    for (size_t k = 0; k < ncand; k++) {   // plan A
        size_t b = cand[k] < n1 ? cand[k] : n1;
        if (ntk_tile_scratch(b, N2, feat, pair, !sym) <= budget) {
            *bI = b;
            *bJ = N2;
            return;
        }
    }
    for (size_t k = 0; k < ncand; k++) {   // plan B
        size_t b = cand[k] < n1 ? cand[k] : n1;
        size_t fixed = ntk_size_mul(b, feat, 1, 1), per_col = feat + pair * b;
        size_t cols = budget > fixed && per_col ? (budget - fixed) / per_col : 0;
        size_t want = k + 1 < ncand ? (b < N2 ? b : N2) : bJ_min;
        if (per_col == 0) cols = N2;
        if (cols >= want) {
            *bI = b;
            *bJ = cols < N2 ? cols : N2;
            return;
        }
    }
}

/* Validation of ntk_kernel_empirical's arguments. */
static ntk_status emp_check(const ntk_net_config *cfg, const double *W, const double *v,
                            const double *X1, size_t n1, const double *X2, size_t n2, double c1,
                            double c2, const double *K)
{
    if (!cfg || !W || !v || !X1 || !K)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kernel_empirical: cfg, W, v, X1 and K must not be NULL");
    NTK_TRY(ntk_net_config_check(cfg));
    if (n1 == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_empirical: n1 = 0; pass at least one point");
    if (X2 && n2 == 0)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kernel_empirical: n2 = 0 with X2 given; pass X2 = NULL for "
                             "the symmetric block or at least one point");
    if (!X2 && n2 != 0 && n2 != n1)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kernel_empirical: X2 = NULL asks for the (n1,n1) block but "
                             "n2 = %zu != n1 = %zu; pass n2 = 0 or n1",
                             n2, n1);
    if (!isfinite(c1) || !isfinite(c2))
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_empirical: weights c1 = %g, c2 = %g must "
                             "be finite", c1, c2);
    NTK_TRY(ntk_check_finite(W, ntk_size_mul(cfg->m, cfg->d, 1, 1), "W"));
    NTK_TRY(ntk_check_finite(v, cfg->m, "v"));
    NTK_TRY(ntk_check_finite(X1, ntk_size_mul(n1, cfg->d, 1, 1), "X1"));
    if (X2) NTK_TRY(ntk_check_finite(X2, ntk_size_mul(n2, cfg->d, 1, 1), "X2"));
    double s = ntk_net_config_s(cfg);
    NTK_TRY(ntk_check_input_scale(X1, n1, cfg->d, s, "X1"));
    if (X2) NTK_TRY(ntk_check_input_scale(X2, n2, cfg->d, s, "X2"));
    return NTK_OK;
}

/* The tiling of a kernel under the memory limit (0: 1 GiB capped by 90% of
 * what is available): row and column blocks *bI, *bJ and the scratch doubles
 * *total they need (emp_plan), or NTK_ERR_NOMEM if no tile fits. */
static ntk_status emp_layout(size_t m, size_t n1, size_t N2, int sym, double c1, double c2,
                             size_t mem_limit, size_t *bI, size_t *bJ, size_t *total)
{
    size_t limit = mem_limit;
    if (limit == 0) {
        size_t avail = ntk_mem_available();
        limit = EMP_DEFAULT_LIMIT;
        if (avail && avail / 10 * 9 < limit) limit = avail / 10 * 9;
    }
    const size_t budget = limit / sizeof(double) > m ? limit / sizeof(double) - m : 0;   // |v|
    const size_t feat = ntk_size_mul((size_t)((c2 != 0.0) + (c1 != 0.0)), m, 1, 1);
    const size_t pair = c1 != 0.0 ? 1 : 0;
    ntk_tile_plan(budget, n1, N2, feat, pair, sym, bI, bJ);
    if (*bI == 0) {
        const size_t bI_min = n1 < EMP_MIN_BLOCK ? n1 : EMP_MIN_BLOCK;
        const size_t bJ_min = N2 < EMP_MIN_BLOCK ? N2 : EMP_MIN_BLOCK;
        size_t need = ntk_tile_scratch(bI_min, bJ_min, feat, pair, 1);
        return ntk_set_error(NTK_ERR_NOMEM,
                             "empirical NTK: the smallest tile (%zu x %zu points, m = %zu) "
                             "needs %.2f MiB of scratch but the memory limit is %.2f MiB; "
                             "raise mem_limit (0 = default) or reduce the width",
                             bI_min, bJ_min, m, (double)need * sizeof(double) / 1048576.0,
                             (double)limit / 1048576.0);
    }
    *total = ntk_tile_scratch(*bI, *bJ, feat, pair, !sym || *bJ < N2) + m;
    return NTK_OK;
}

size_t ntk_kernel_empirical_scratch_bytes(size_t m, size_t n1, size_t n2, double c1, double c2,
                                          size_t mem_limit)
{
    size_t bI, bJ, total;
    int sym = n2 == 0;
    if (emp_layout(m, n1, sym ? n1 : n2, sym, c1, c2, mem_limit, &bI, &bJ, &total) != NTK_OK)
        return SIZE_MAX;
    return ntk_size_mul(total, sizeof(double), 1, 1);
}

/* W (m,d), v (m), X1 (n1,d), X2 (n2,d) or NULL -> K (n1,n2) or (n1,n1). */
ntk_status ntk_kernel_empirical(const ntk_net_config *cfg, const double *W, const double *v,
                                const double *X1, size_t n1, const double *X2, size_t n2,
                                double c1, double c2, size_t mem_limit, double *K)
{
    NTK_TRY(emp_check(cfg, W, v, X1, n1, X2, n2, c1, c2, K));
    const int sym = X2 == NULL;
    const size_t N2 = sym ? n1 : n2, m = cfg->m, d = cfg->d;
    if (c1 == 0.0 && c2 == 0.0) {
        memset(K, 0, n1 * N2 * sizeof *K);
        return NTK_OK;
    }
    const double s = ntk_net_config_s(cfg), a2m = cfg->alpha * cfg->alpha / (double)m;
    emp_ctx c = {.act = cfg->act, .m = m, .d = d, .s = s, .W = W,
                 .scale2 = c2 * a2m, .scale1 = c1 * a2m / (s * s),
                 .need_phi = c2 != 0.0, .need_dphi = c1 != 0.0};
    size_t bI, bJ, total;
    NTK_TRY(emp_layout(m, n1, N2, sym, c1, c2, mem_limit, &bI, &bJ, &total));
    const size_t feat = ntk_size_mul((size_t)(c.need_phi + c.need_dphi), m, 1, 1);
    const int row_scratch = !sym || bJ < N2;
    double *buf = ntk_alloc(total, sizeof(double), "empirical NTK scratch");
    if (!buf) return NTK_ERR_NOMEM;
    // carve: |v| (m), column features (bJ,feat), row features (bI,feat), G (bI,bJ);
    // an array that is not needed points at its neighbour and is never read
    double *absv = buf, *p = buf + m;
    const int both = c.need_phi && c.need_dphi;
    double *PJ = p, *AJ = p + (both ? bJ * m : 0);
    p += bJ * feat;
    double *PR = PJ, *AR = AJ;
    if (row_scratch) {
        PR = p;
        AR = p + (both ? bI * m : 0);
        p += bI * feat;
    }
    if (c.need_dphi) c.G = p;
    for (size_t r = 0; r < m; r++) absv[r] = fabs(v[r]);
    c.absv = absv;

    const double *Xc = sym ? X1 : X2;
    for (size_t j0 = 0; j0 < N2; j0 += bJ) {
        size_t j1 = j0 + bJ < N2 ? j0 + bJ : N2, nJ = j1 - j0;
        const double *XJ = Xc + j0 * d;
        emp_features(&c, XJ, nJ, PJ, AJ);
        for (size_t i0 = sym ? j0 : 0, i1; i0 < n1; i0 = i1) {
            if (sym && i0 < j1) {
                // rows inside the column cache: features are views; lower triangle only
                i1 = i0 + bI < j1 ? i0 + bI : j1;
                size_t off = (i0 - j0) * m;
                const double *PI = PJ + off, *AI = AJ + off, *XI = X1 + i0 * d;
                if (i0 > j0)
                    emp_tile(&c, PI, AI, XI, i1 - i0, PJ, AJ, XJ, i0 - j0, 0, K + i0 * n1 + j0,
                             n1);
                emp_tile(&c, PI, AI, XI, i1 - i0, PI, AI, XI, i1 - i0, 1, K + i0 * n1 + i0, n1);
            } else {
                i1 = i0 + bI < n1 ? i0 + bI : n1;
                const double *XI = X1 + i0 * d;
                emp_features(&c, XI, i1 - i0, PR, AR);
                emp_tile(&c, PR, AR, XI, i1 - i0, PJ, AJ, XJ, nJ, 0, K + i0 * N2 + j0, N2);
            }
        }
    }
    free(buf);
    if (sym) ntk_mirror(K, n1, 0);
    return ntk_check_result(K, n1, N2, "the empirical NTK",
                            "an entry overflows double precision; rescale the inputs, the "
                            "weights or alpha");
}

/* K_ii (n) only: Θ1_ii = α²/m Σ_r v_r² φ'(z_ir)² ‖x_i‖²/s², Θ2_ii = α²/m Σ_r
 * φ(z_ir)², in row blocks: O(n·m·d), memory O(block·m). */
ntk_status ntk_kernel_empirical_diag(const ntk_net_config *cfg, const double *W, const double *v,
                                     const double *X, size_t n, double c1, double c2, double *K)
{
    NTK_TRY(emp_check(cfg, W, v, X, n, NULL, 0, c1, c2, K));
    const size_t m = cfg->m, d = cfg->d;
    const double s = ntk_net_config_s(cfg), a2m = cfg->alpha * cfg->alpha / (double)m;
    size_t B = (size_t)(1u << 18) / m + 1;
    if (B > n) B = n;
    double *buf = ntk_alloc(ntk_size_mul(2 * B + 1, m, 1, 1), sizeof(double), "kernel diagonal");
    if (!buf) return NTK_ERR_NOMEM;
    double *P = buf, *A = buf + B * m, *absv = A + B * m;
    for (size_t r = 0; r < m; r++) absv[r] = fabs(v[r]);
    emp_ctx c = {.act = cfg->act, .m = m, .d = d, .s = s, .W = W, .absv = absv,
                 .need_phi = 1, .need_dphi = 1};
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t rows = n - i0 < B ? n - i0 : B;
        emp_features(&c, X + i0 * d, rows, P, A);
        for (size_t i = 0; i < rows; i++) {
            double q = ntk_dot(d, X + (i0 + i) * d, X + (i0 + i) * d) / (s * s);
            double a2 = ntk_dot(m, A + i * m, A + i * m), p2 = ntk_dot(m, P + i * m, P + i * m);
            K[i0 + i] = a2m * (c1 * a2 * q + c2 * p2);
        }
    }
    free(buf);
    return ntk_check_result(K, n, 1, "the empirical NTK's diagonal",
                            "an entry overflows double precision; rescale the inputs, the "
                            "weights or alpha");
}
