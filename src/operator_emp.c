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
