/* The empirical NTK as an operator that never stores K or J
 * (docs/theory.md §9.2). With Z = X Wᵀ/s, Φ = φ(Z), A = φ'(Z) diag|v| and
 * a2m = α²/m, for U (n,k):
 *   Θ2 U = a2m · Φ (Φᵀ U),
 *   (Θ1 U)_ic = a2m/s² · Σ_r A_ir (X M_cᵀ)_ir,   M_c = Aᵀ diag(u_c) X  (m, d),
 * since ((A Aᵀ) ⊙ (X Xᵀ)) u = rowsum(A ⊙ (X Mᵀ)) with M = Aᵀ diag(u) X.
 * Φᵀ U and the k blocks M_c are the Jacobian's transpose applied to U (one
 * pass over row tiles of X, one GEMM each); the second pass applies J: the
 * same tiles, or tiles of other points for the cross block. Each pass costs
 * about 2(k + 1)·n·m·d flops; memory O(tile·(m + k·d) + k·m·d). When the
 * features of all n points fit in a quarter of the memory limit they are
 * kept, and the passes skip the X Wᵀ product. */
#include "deep_internal.h"
#include "operator_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

typedef struct {
    size_t B;                /* rows per tile */
    double *absv;            /* |v| (m) */
    double *Phi, *A;         /* cached features (n, m) each, or NULL */
} emp_op_state;

/* Φ and A of rows X (rows, d) into P, A (rows, m); either may be skipped. */
static void features(const ntk_op *op, const double *X, size_t rows, double *P, double *A)
{
    const emp_op_state *s = op->state;
    size_t m = op->net.m, d = op->d;
    double *Z = P ? P : A;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(&op->net), X, (int)d, op->desc.W, (int)d, 0.0, Z, (int)m);
    ntk_act_apply(op->net.act, rows * m, Z, P, A);
    if (!A) return;
    for (size_t i = 0; i < rows; i++)
        for (size_t r = 0; r < m; r++) A[i * m + r] *= s->absv[r];
}

typedef struct {
    double *P, *A, *Y, *Pc;  /* tile scratch: (B,m), (B,m), (B, k·d), (B,m) */
    double *G, *M;           /* Φᵀ U (m,k), the M_c side by side (m, k·d) */
} emp_work;

static ntk_status work_alloc(const ntk_op *op, size_t k, emp_work *w)
{
    const emp_op_state *s = op->state;
    size_t B = s->B, m = op->net.m, d = op->d;
    size_t count = 3 * B * m + B * k * d + m * k + m * k * d;
    w->P = ntk_alloc(count, sizeof(double), "kernel product scratch");
    if (!w->P) return NTK_ERR_NOMEM;
    w->A = w->P + B * m;
    w->Pc = w->A + B * m;
    w->Y = w->Pc + B * m;
    w->G = w->Y + B * k * d;
    w->M = w->G + m * k;
    return NTK_OK;
}

/* Features of rows [i0, i0+rows) of the operator's points: cached or made. */
static void tile_features(const ntk_op *op, size_t i0, size_t rows, emp_work *w, const double **P,
                          const double **A)
{
    const emp_op_state *s = op->state;
    size_t m = op->net.m;
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    if (s->Phi) {
        *P = s->Phi + i0 * m, *A = s->A + i0 * m;
        return;
    }
    features(op, op->X + i0 * op->d, rows, need_phi ? w->P : NULL, need_dphi ? w->A : NULL);
    *P = w->P, *A = w->A;
}

/* Pass 1: G = Φᵀ U, M = [Aᵀ diag(u_c) X]_c over every row tile. */
static void transpose_pass(const ntk_op *op, const double *U, size_t k, emp_work *w)
{
    const emp_op_state *s = op->state;
    size_t n = op->n, m = op->net.m, d = op->d;
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    memset(w->G, 0, m * k * sizeof(double));
    memset(w->M, 0, m * k * d * sizeof(double));
    for (size_t i0 = 0; i0 < n; i0 += s->B) {
        size_t rows = n - i0 < s->B ? n - i0 : s->B;
        const double *P, *A, *X = op->X + i0 * d, *Ui = U + i0 * k;
        tile_features(op, i0, rows, w, &P, &A);
        if (need_phi)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)k, (int)rows, 1.0, P,
                        (int)m, Ui, (int)k, 1.0, w->G, (int)k);
        if (!need_dphi) continue;
        // Y[i, c·d + l] = u_ic x_il, then M += Aᵀ Y
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < k; c++)
                for (size_t l = 0; l < d; l++) w->Y[(i * k + c) * d + l] = Ui[i * k + c] * X[i * d + l];
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)(k * d), (int)rows, 1.0, A,
                    (int)m, w->Y, (int)(k * d), 1.0, w->M, (int)(k * d));
    }
}

/* Pass 2 on rows Xr (rows, d) with features P, A: V (rows, k). */
static void forward_tile(const ntk_op *op, const double *Xr, size_t rows, const double *P,
                         const double *A, size_t k, emp_work *w, double *V)
{
    size_t m = op->net.m, d = op->d;
    double s_in = ntk_net_config_s(&op->net), a2m = op->net.alpha * op->net.alpha / (double)m;
    double c1 = op->desc.c1 * a2m / (s_in * s_in), c2 = op->desc.c2 * a2m;
    if (c2 != 0.0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)m, c2, P,
                    (int)m, w->G, (int)k, 0.0, V, (int)k);
    else
        memset(V, 0, rows * k * sizeof(double));
    if (c1 == 0.0) return;
    for (size_t c = 0; c < k; c++) {
        // Pc = Xr M_cᵀ (rows, m); V[:, c] += c1 · rowsum(A ⊙ Pc)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d, 1.0, Xr,
                    (int)d, w->M + c * d, (int)(k * d), 0.0, w->Pc, (int)m);
        for (size_t i = 0; i < rows; i++)
            V[i * k + c] += c1 * ntk_dot(m, A + i * m, w->Pc + i * m);
    }
}

static ntk_status emp_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    const emp_op_state *s = op->state;
    emp_work w;
    NTK_TRY(work_alloc(op, k, &w));
    transpose_pass(op, U, k, &w);
    for (size_t i0 = 0; i0 < op->n; i0 += s->B) {
        size_t rows = op->n - i0 < s->B ? op->n - i0 : s->B;
        const double *P, *A;
        tile_features(op, i0, rows, &w, &P, &A);
        forward_tile(op, op->X + i0 * op->d, rows, P, A, k, &w, V + i0 * k);
    }
    free(w.P);
    return NTK_OK;
}

static ntk_status emp_cross(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                            double *F)
{
    const emp_op_state *s = op->state;
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    emp_work w;
    NTK_TRY(work_alloc(op, k, &w));
    transpose_pass(op, U, k, &w);
    for (size_t i0 = 0; i0 < nt; i0 += s->B) {
        size_t rows = nt - i0 < s->B ? nt - i0 : s->B;
        const double *Xr = Xt + i0 * op->d;
        features(op, Xr, rows, need_phi ? w.P : NULL, need_dphi ? w.A : NULL);
        forward_tile(op, Xr, rows, w.P, w.A, k, &w, F + i0 * k);
    }
    free(w.P);
    return NTK_OK;
}

static void emp_destroy(ntk_op *op)
{
    emp_op_state *s = op->state;
    if (!s) return;
    free(s->absv);
    free(s->Phi);
    free(s);
}

static const op_impl emp_impl = {emp_apply, emp_cross, emp_destroy, NULL};

ntk_status op_empirical_init(ntk_op *op)
{
    if (ntk_net_is_deep(&op->net)) return op_deep_empirical_init(op);
    size_t n = op->n, m = op->net.m;
    emp_op_state *s = ntk_calloc(1, sizeof *s, "empirical kernel operator");
    if (!s) return NTK_ERR_NOMEM;
    op->state = s;
    op->impl = &emp_impl;
    s->absv = ntk_alloc(m, sizeof(double), "|v|");
    if (!s->absv) return NTK_ERR_NOMEM;
    for (size_t r = 0; r < m; r++) s->absv[r] = fabs(op->desc.v[r]);
    /* a tile: 3 (B,m) blocks and one (B, k·d) for small k */
    s->B = op_tile_rows(op, 4 * (m + op->d), n);
    double cache = 2.0 * (double)n * (double)m * 8.0;
    if (cache <= (double)op->mem_limit / 4) {
        s->Phi = ntk_alloc(2 * n * m, sizeof(double), "cached features");
        if (!s->Phi) return NTK_ERR_NOMEM;
        s->A = s->Phi + n * m;
        int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
        for (size_t i0 = 0; i0 < n; i0 += s->B) {
            size_t rows = n - i0 < s->B ? n - i0 : s->B;
            features(op, op->X + i0 * op->d, rows, need_phi ? s->Phi + i0 * m : NULL,
                     need_dphi ? s->A + i0 * m : NULL);
        }
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * Deep networks (docs/depth.md). With the per-row signals G_l (seed 1) and
 * activations A_{l−1} (A_0 = X) of the tape of src/deep.c,
 *   Θ_l = (G_l G_lᵀ) ⊙ (κ_l² A_{l−1}A_{l−1}ᵀ + β²),
 * and for a column u of U:
 *   (Θ_l u)_i = κ_l² Σ_r G_ir (A_{l−1} M_lᵀ)_ir + β² (G_l g_l)_i,
 *   M_l = G_lᵀ diag(u) A_{l−1} (m_l, m_{l−1}),  g_l = G_lᵀ u (m_l),
 * M_l and g_l being the Jacobian's transpose applied to u (layer l's block
 * of Jᵀu up to κ_l and β), and the second line the Jacobian applied back.
 * The output layer's signal is the constant α: Θ_{L+1} u = α²(κ² A_L (A_Lᵀu)
 * + β² Σ_j u_j). Pass 1 accumulates M_l for the k columns side by side
 * (one GEMM per layer and tile, Y = [u_c ⊙ A_{l−1}]_c), pass 2 applies them
 * to the same tiles or to tiles of other points (the cross block). A pass
 * costs about 2k·n·P flops, plus a forward and backward pass of the tape
 * per tile unless the features of all n points are kept (when they fit in
 * a quarter of the memory limit). Memory: O(tile·Σm_l + k·P).
 * ------------------------------------------------------------------- */

#define DEEP_OP_ROWS 512

typedef struct {
    size_t B;                          /* rows per tile (the tape's capacity) */
    size_t L, d, m[NTK_MAX_DEPTH + 2];
    /* k outputs (docs/depth.md §1.7): the signals of all of them side by
     * side, G_l (rows, mG_l = k·m_l), and K = (1/k) Σ_c Θ_cc */
    size_t ko, mG[NTK_MAX_DEPTH + 2];
    double *seed, *sG[NTK_MAX_DEPTH + 2];   /* k > 1: a tile's seeds and signals */
    double w[NTK_MAX_DEPTH + 2];       /* w_l, l = 1..L+1 */
    double k2[NTK_MAX_DEPTH + 2];      /* κ_l² */
    double b2, a2;                     /* β² (0 without biases), α² */
    int keepA[NTK_MAX_DEPTH + 2];      /* A_l read: w_{l+1} ≠ 0 */
    int keepG[NTK_MAX_DEPTH + 2];      /* G_l read: w_l ≠ 0 */
    int backward;
    size_t nM, maxm;                   /* Σ_{w_l≠0, l≤L} mG_l m_{l−1}; max mG_l (l ≤ L) */
    deep_tape tape;
    double *cache;                     /* the n points' kept features, or NULL */
    double *cA[NTK_MAX_DEPTH + 2], *cG[NTK_MAX_DEPTH + 2];   /* (n, m_l), (n, mG_l) in cache */
} deep_op_state;

/* The features of one tile: A[0] the tile's inputs, A[l], G[l] (rows, m_l). */
typedef struct {
    const double *A[NTK_MAX_DEPTH + 2], *G[NTK_MAX_DEPTH + 2];
} deep_op_feat;

/* Features of rows X (rows ≤ B) by a pass of the tape (row i0 of the
 * operator's points when cached: views). */
static void deep_op_features(ntk_op *op, const double *X, size_t rows, size_t i0, int cached,
                             deep_op_feat *F)
{
    deep_op_state *s = op->state;
    memset(F, 0, sizeof *F);
    F->A[0] = X;
    if (cached) {
        for (size_t l = 1; l <= s->L; l++) {
            if (s->cA[l]) F->A[l] = s->cA[l] + i0 * s->m[l];
            if (s->cG[l]) F->G[l] = s->cG[l] + i0 * s->mG[l];
        }
        return;
    }
    deep_tape_forward(&s->tape, &op->net, op->desc.theta, X, rows, NULL);
    for (size_t l = 1; l <= s->L; l++) F->A[l] = s->tape.A[l], F->G[l] = s->tape.G[l];
    if (!s->backward) return;
    if (s->ko == 1) {
        deep_tape_backward(&s->tape, &op->net, op->desc.theta, rows, NULL);
        return;
    }
    deep_tape_signals(&s->tape, &op->net, op->desc.theta, rows, s->seed, s->sG);
    for (size_t l = 1; l <= s->L; l++) F->G[l] = s->sG[l];
}

typedef struct {
    double *M[NTK_MAX_DEPTH + 2];      /* M_l (m_l, k·m_{l−1}), the k columns side by side */
    double *g[NTK_MAX_DEPTH + 2];      /* g_l (m_l, k) with biases */
    double *h;                         /* A_Lᵀ U (m_L, k) */
    double *usum;                      /* Σ_j U_jc (k) */
    double *Y, *Pc;                    /* (B, k·max m_{l−1}), (B, max m_l) */
    double *mem;
} deep_op_work;

static ntk_status deep_op_work_alloc(const ntk_op *op, size_t k, deep_op_work *w)
{
    const deep_op_state *s = op->state;
    size_t L = s->L, maxa = s->d, count = 0;
    for (size_t l = 1; l <= L; l++) maxa = s->m[l] > maxa ? s->m[l] : maxa;
    size_t nb = 0;
    for (size_t l = 1; l <= L; l++) nb += s->w[l] != 0.0 && s->b2 != 0.0 ? s->mG[l] : 0;
    count = k * s->nM + k * nb + s->m[L] * k + k + s->B * k * maxa + s->B * s->maxm;
    memset(w, 0, sizeof *w);
    w->mem = ntk_alloc(count, sizeof(double), "kernel product scratch");
    if (!w->mem) return NTK_ERR_NOMEM;
    double *p = w->mem;
    for (size_t l = 1; l <= L; l++) {
        if (s->w[l] == 0.0) continue;
        w->M[l] = p, p += k * s->mG[l] * s->m[l - 1];
        if (s->b2 != 0.0) w->g[l] = p, p += k * s->mG[l];
    }
    w->h = p, p += s->m[L] * k;
    w->usum = p, p += k;
    w->Y = p, p += s->B * k * maxa;
    w->Pc = p;
    return NTK_OK;
}

/* Pass 1 over the operator's points: M_l, g_l, h and the column sums of U. */
static void deep_op_transpose(ntk_op *op, const double *U, size_t k, deep_op_work *w)
{
    deep_op_state *s = op->state;
    const size_t L = s->L, n = op->n, d = s->d;
    for (size_t l = 1; l <= L; l++) {
        if (w->M[l]) memset(w->M[l], 0, k * s->mG[l] * s->m[l - 1] * sizeof(double));
        if (w->g[l]) memset(w->g[l], 0, k * s->mG[l] * sizeof(double));
    }
    memset(w->h, 0, s->m[L] * k * sizeof(double));
    memset(w->usum, 0, k * sizeof(double));
    for (size_t i0 = 0; i0 < n; i0 += s->B) {
        size_t rows = n - i0 < s->B ? n - i0 : s->B;
        const double *Ui = U + i0 * k;
        deep_op_feat F;
        deep_op_features(op, op->X + i0 * d, rows, i0, s->cache != NULL, &F);
        for (size_t l = 1; l <= L; l++) {
            if (s->w[l] == 0.0) continue;
            const size_t ma = s->m[l - 1], mg = s->mG[l];
            const double *A = F.A[l - 1];
            // Y[i, c·ma + q] = u_ic a_iq, then M_l += G_lᵀ Y
            for (size_t i = 0; i < rows; i++)
                for (size_t c = 0; c < k; c++) {
                    double u = Ui[i * k + c];
                    double *y = w->Y + (i * k + c) * ma;
                    for (size_t q = 0; q < ma; q++) y[q] = u * A[i * ma + q];
                }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mg, (int)(k * ma), (int)rows,
                        1.0, F.G[l], (int)mg, w->Y, (int)(k * ma), 1.0, w->M[l], (int)(k * ma));
            if (w->g[l])
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mg, (int)k, (int)rows, 1.0,
                            F.G[l], (int)mg, Ui, (int)k, 1.0, w->g[l], (int)k);
        }
        if (s->w[L + 1] != 0.0) {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)s->m[L], (int)k, (int)rows, 1.0,
                        F.A[L], (int)s->m[L], Ui, (int)k, 1.0, w->h, (int)k);
            for (size_t i = 0; i < rows; i++)
                for (size_t c = 0; c < k; c++) w->usum[c] += Ui[i * k + c];
        }
    }
}

/* Pass 2 on one tile with features F: V (rows, k). */
static void deep_op_forward(const ntk_op *op, const deep_op_feat *F, size_t rows, size_t k,
                            deep_op_work *w, double *V)
{
    const deep_op_state *s = op->state;
    const size_t L = s->L;
    memset(V, 0, rows * k * sizeof(double));
    if (s->w[L + 1] != 0.0) {
        // Θ_{L+1} U = α² (κ² A_L (A_Lᵀ U) + β² 1 (1ᵀU)), weight w_{L+1}
        double wa = s->w[L + 1] * s->a2;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)s->m[L],
                    wa * s->k2[L + 1], F->A[L], (int)s->m[L], w->h, (int)k, 0.0, V, (int)k);
        if (s->b2 != 0.0)
            for (size_t i = 0; i < rows; i++)
                for (size_t c = 0; c < k; c++) V[i * k + c] += wa * s->b2 * w->usum[c];
    }
    for (size_t l = 1; l <= L; l++) {
        if (s->w[l] == 0.0) continue;
        const size_t ma = s->m[l - 1], mg = s->mG[l];
        const double *A = F->A[l - 1], *G = F->G[l], wk = s->w[l] * s->k2[l] / (double)s->ko;
        for (size_t c = 0; c < k; c++) {
            // Pc = A_{l−1} M_{l,c}ᵀ (rows, m_l); V[:, c] += w κ² rowsum(G_l ⊙ Pc)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)mg, (int)ma, 1.0, A,
                        (int)ma, w->M[l] + c * ma, (int)(k * ma), 0.0, w->Pc, (int)mg);
            for (size_t i = 0; i < rows; i++)
                V[i * k + c] += wk * ntk_dot(mg, G + i * mg, w->Pc + i * mg);
        }
        if (w->g[l])   // V += w β² G_l g_l
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)mg,
                        s->w[l] * s->b2 / (double)s->ko, G, (int)mg, w->g[l], (int)k, 1.0, V, (int)k);
    }
}

static ntk_status deep_op_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    deep_op_state *s = op->state;
    deep_op_work w;
    NTK_TRY(deep_op_work_alloc(op, k, &w));
    deep_op_transpose(op, U, k, &w);
    for (size_t i0 = 0; i0 < op->n; i0 += s->B) {
        size_t rows = op->n - i0 < s->B ? op->n - i0 : s->B;
        deep_op_feat F;
        deep_op_features(op, op->X + i0 * s->d, rows, i0, s->cache != NULL, &F);
        deep_op_forward(op, &F, rows, k, &w, V + i0 * k);
    }
    free(w.mem);
    return NTK_OK;
}

static ntk_status deep_op_cross(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                                double *F)
{
    deep_op_state *s = op->state;
    deep_op_work w;
    NTK_TRY(deep_op_work_alloc(op, k, &w));
    deep_op_transpose(op, U, k, &w);
    for (size_t i0 = 0; i0 < nt; i0 += s->B) {
        size_t rows = nt - i0 < s->B ? nt - i0 : s->B;
        deep_op_feat Ft;
        deep_op_features(op, Xt + i0 * s->d, rows, 0, 0, &Ft);
        deep_op_forward(op, &Ft, rows, k, &w, F + i0 * k);
    }
    free(w.mem);
    return NTK_OK;
}

static void deep_op_destroy(ntk_op *op)
{
    deep_op_state *s = op->state;
    if (!s) return;
    deep_tape_free(&s->tape);
    free(s->cache);
    free(s->seed);
    free(s);
}

static const op_impl deep_emp_impl = {deep_op_apply, deep_op_cross, deep_op_destroy, NULL};

/* The smallest footprint of the operator for n points: op_deep_empirical_init's
 * tape at its smallest tile (16 rows) and the product scratch of
 * deep_op_work_alloc at k = 1 (the M_l, g_l, h and the tile's Y and P). A
 * larger limit buys larger tiles and a feature cache, each sized to at most a
 * quarter of the limit, so the operator stays within any limit this fits. */
double op_deep_empirical_bytes(const ntk_kernel_desc *desc, size_t n, size_t limit)
{
    (void)limit;
    const ntk_net_config *cfg = desc->net;
    const size_t L = ntk_net_depth(cfg), B = n < 16 ? n : 16;
    const double ko = (double)ntk_net_outputs(cfg);
    double nM = 0.0, nb = 0.0, maxm = 0.0, maxa = (double)cfg->d, sig = ko > 1 ? ko : 0.0;
    int bias = cfg->bias_std > 0.0;
    for (size_t l = 1; l <= L; l++) {
        double ml = ko * (double)ntk_net_width(cfg, l);
        if (ko > 1) sig += ml;
        if (kernel_layer_weight(desc, l) != 0.0)
            nM += ml * (double)ntk_net_width(cfg, l - 1), nb += bias ? ml : 0.0;
        maxm = fmax(maxm, ml), maxa = fmax(maxa, ml);
    }
    double work = nM + nb + (double)ntk_net_width(cfg, L) + 1.0 + (double)B * (maxa + maxm + sig);
    return (double)deep_tape_bytes(cfg, B) + work * sizeof(double);
}

ntk_status op_deep_empirical_init(ntk_op *op)
{
    const ntk_net_config *cfg = &op->net;
    const size_t n = op->n;
    deep_op_state *s = ntk_calloc(1, sizeof *s, "deep empirical kernel operator");
    if (!s) return NTK_ERR_NOMEM;
    op->state = s;
    op->impl = &deep_emp_impl;
    NTK_TRY(ntk_check_finite(op->desc.theta, ntk_net_nparams(cfg), "theta"));
    s->L = ntk_net_depth(cfg);
    s->d = cfg->d;
    s->ko = ntk_net_outputs(cfg);
    const size_t L = s->L;
    for (size_t l = 0; l <= L + 1; l++) s->m[l] = ntk_net_width(cfg, l), s->mG[l] = s->ko * s->m[l];
    for (size_t l = 1; l <= L + 1; l++) {
        s->w[l] = kernel_layer_weight(&op->desc, l);
        if (!isfinite(s->w[l]))
            return ntk_set_error(NTK_ERR_ARG, "deep empirical kernel operator: layer %zu's weight "
                                 "%g is not finite", l, s->w[l]);
        double kap = ntk_net_weight_factor(cfg, l);
        s->k2[l] = kap * kap;
    }
    s->b2 = cfg->bias_std > 0.0 ? ntk_net_bias_factor(cfg) * ntk_net_bias_factor(cfg) : 0.0;
    s->a2 = cfg->alpha * cfg->alpha;
    size_t feat = 0;
    for (size_t l = 1; l <= L; l++) {
        s->keepA[l] = s->w[l + 1] != 0.0;
        s->keepG[l] = s->w[l] != 0.0;
        s->backward |= s->keepG[l];
        feat += (size_t)s->keepA[l] * s->m[l] + (size_t)s->keepG[l] * s->mG[l];
        if (s->keepG[l]) s->nM += s->mG[l] * s->m[l - 1];
        s->maxm = s->mG[l] > s->maxm ? s->mG[l] : s->maxm;
    }
    /* a tile: its tape and a few (rows, max m) blocks, in a quarter of the
     * limit, and at most DEEP_OP_ROWS rows: the GEMMs of the passes run at
     * full speed from a few hundred rows on, and the product scratch Y
     * (rows, k·max m) grows with the tile */
    size_t sig = 0;   /* k > 1: a tile's seeds and side-by-side signals, per row */
    for (size_t l = 1; l <= L && s->ko > 1; l++) sig += s->mG[l];
    if (s->ko > 1) sig += s->ko;
    size_t per_row = deep_tape_bytes(cfg, 1) / sizeof(double) + 4 * (s->maxm + s->d) + sig;
    s->B = op_tile_rows(op, 4 * per_row, n);
    if (s->B > DEEP_OP_ROWS) s->B = DEEP_OP_ROWS;
    NTK_TRY(deep_tape_init(&s->tape, cfg, s->B));
    if (s->ko > 1) {
        s->seed = ntk_alloc(ntk_size_mul(s->B, sig, 1, 1), sizeof(double), "output signals");
        if (!s->seed) return NTK_ERR_NOMEM;
        double *p = s->seed + s->B * s->ko;
        for (size_t l = 1; l <= L; l++) s->sG[l] = p, p += s->B * s->mG[l];
    }
    double cache = (double)n * (double)feat * sizeof(double);
    if (feat && cache <= (double)op->mem_limit / 4) {
        s->cache = ntk_alloc(ntk_size_mul(n, feat, 1, 1), sizeof(double), "cached features");
        if (!s->cache) return NTK_ERR_NOMEM;
        double *p = s->cache;
        for (size_t l = 1; l <= L; l++) {
            if (s->keepA[l]) s->cA[l] = p, p += n * s->m[l];
            if (s->keepG[l]) s->cG[l] = p, p += n * s->mG[l];
        }
        for (size_t i0 = 0; i0 < n; i0 += s->B) {
            size_t rows = n - i0 < s->B ? n - i0 : s->B;
            deep_op_feat F;
            deep_op_features(op, op->X + i0 * s->d, rows, 0, 0, &F);
            for (size_t l = 1; l <= L; l++) {
                if (s->cA[l]) memcpy(s->cA[l] + i0 * s->m[l], F.A[l], rows * s->m[l] * sizeof(double));
                if (s->cG[l]) memcpy(s->cG[l] + i0 * s->mG[l], F.G[l], rows * s->mG[l] * sizeof(double));
            }
        }
    }
    return NTK_OK;
}
