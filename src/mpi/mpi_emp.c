/* The empirical NTK of the two-layer network split by rows
 * (docs/scaling.md §3): with Z = X Wᵀ/s, Φ = φ(Z), A = φ'(Z) diag|v| and
 * a2m = α²/m, for U (n, k),
 *   Θ2 U = a2m · Φ (Φᵀ U),
 *   (Θ1 U)_ic = a2m/s² · Σ_r A_ir (X M_cᵀ)_ir,   M_c = Aᵀ diag(u_c) X  (m, d).
 * Φᵀ U and the M_c are sums over the points, Σ_q Φ_qᵀ U_q and
 * Σ_q A_qᵀ diag(u_c,q) X_q: each process forms its part from its own rows
 * (the transpose pass), one MPI_Allreduce of m·k·(d + 1) numbers adds them,
 * and the forward pass on any rows (the process's own, or its test points)
 * needs nothing more. The single-process operator (src/operator_emp.c)
 * does the same two passes in one call; the library does not expose them
 * separately, so they are written out here for the local rows. The
 * features of the local rows are kept when they fit a quarter of the
 * memory limit. */
#include "mpi_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct emp_part {
    size_t B;              /* rows per tile */
    double *absv;          /* |v| (m) */
    double *Phi, *A;       /* cached features of the local rows (nloc, m) each, or NULL */
    double *P, *Af, *Pc, *Y;  /* tile scratch (B,m) x3 and (B, kcap·d) */
    size_t kcap;
};

/* Φ and A of rows X (rows, d) into P, A (rows, m); either may be NULL. */
static void features(const ntk_dop *op, const double *X, size_t rows, double *P, double *A)
{
    const emp_part *e = op->emp;
    size_t m = op->net.m, d = op->d;
    double *Z = P ? P : A;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d,
                1.0 / ntk_net_config_s(&op->net), X, (int)d, op->desc.W, (int)d, 0.0, Z, (int)m);
    ntk_act_apply(op->net.act, rows * m, Z, P, A);
    if (!A) return;
    for (size_t i = 0; i < rows; i++)
        for (size_t r = 0; r < m; r++) A[i * m + r] *= e->absv[r];
}

/* Φᵀ U (m·k), then the M_c (m·k·d) when Θ1 is in the kernel (c1 ≠ 0) */
size_t emp_part_len(const ntk_dop *op, size_t k)
{
    return op->net.m * k * (1 + (op->desc.c1 != 0.0 ? op->d : 0));
}

static ntk_status scratch(ntk_dop *op, size_t k)
{
    emp_part *e = op->emp;
    if (k <= e->kcap) return NTK_OK;
    size_t B = e->B, m = op->net.m, d = op->d;
    free(e->P);
    e->P = ntk_alloc(ntk_size_mul(B, 3 * m + k * d, 1, 1), sizeof(double), "kernel product scratch");
    if (!e->P) {
        e->kcap = 0;
        return NTK_ERR_NOMEM;
    }
    e->Af = e->P + B * m, e->Pc = e->Af + B * m, e->Y = e->Pc + B * m;
    e->kcap = k;
    return NTK_OK;
}

ntk_status emp_part_create(ntk_dop *op, emp_part **out)
{
    size_t m = op->net.m, d = op->d, nloc = op->nloc;
    emp_part *e = ntk_calloc(1, sizeof *e, "empirical kernel operator");
    if (!e) return NTK_ERR_NOMEM;
    *out = e;
    op->emp = e;
    e->absv = ntk_alloc(m, sizeof(double), "|v|");
    if (!e->absv) return NTK_ERR_NOMEM;
    for (size_t r = 0; r < m; r++) e->absv[r] = fabs(op->desc.v[r]);
    /* rows per tile: 3 (B, m) blocks and one (B, d) per column in an eighth of the limit */
    size_t per_row = 4 * (m + d), B = op->mem_limit / 8 / 8 / per_row;
    B = B < 16 ? 16 : B > 4096 ? 4096 : B;
    e->B = nloc && B > nloc ? nloc : B;
    if (!e->B) e->B = 1;
    NTK_TRY(scratch(op, 1));
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    if (nloc && 2.0 * (double)nloc * (double)m * 8.0 <= (double)op->mem_limit / 4) {
        e->Phi = ntk_alloc(ntk_size_mul(2 * nloc, m, 1, 1), sizeof(double), "cached features");
        if (!e->Phi) return NTK_ERR_NOMEM;
        e->A = e->Phi + nloc * m;
        const double *X = op->X + op->r0 * d;
        for (size_t i0 = 0; i0 < nloc; i0 += e->B) {
            size_t rows = nloc - i0 < e->B ? nloc - i0 : e->B;
            features(op, X + i0 * d, rows, need_phi ? e->Phi + i0 * m : NULL,
                     need_dphi ? e->A + i0 * m : NULL);
        }
    }
    return NTK_OK;
}

void emp_part_free(emp_part *e)
{
    if (!e) return;
    free(e->absv), free(e->Phi), free(e->P), free(e);
}

/* features of local rows [i0, i0 + rows): cached or made in the scratch */
static void local_features(ntk_dop *op, size_t i0, size_t rows, const double **P, const double **A)
{
    emp_part *e = op->emp;
    size_t m = op->net.m;
    if (e->Phi) {
        *P = e->Phi + i0 * m, *A = e->A + i0 * m;
        return;
    }
    features(op, op->X + (op->r0 + i0) * op->d, rows, op->desc.c2 != 0.0 ? e->P : NULL,
             op->desc.c1 != 0.0 ? e->Af : NULL);
    *P = e->P, *A = e->Af;
}

ntk_status emp_transpose(ntk_dop *op, const double *U_loc, size_t k, double *buf)
{
    emp_part *e = op->emp;
    size_t m = op->net.m, d = op->d;
    double *G = buf, *M = buf + m * k;
    memset(buf, 0, emp_part_len(op, k) * sizeof(double));
    NTK_TRY(scratch(op, k));
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    for (size_t i0 = 0; i0 < op->nloc; i0 += e->B) {
        size_t rows = op->nloc - i0 < e->B ? op->nloc - i0 : e->B;
        const double *P, *A, *X = op->X + (op->r0 + i0) * d, *Ui = U_loc + i0 * k;
        local_features(op, i0, rows, &P, &A);
        if (need_phi)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)k, (int)rows, 1.0, P,
                        (int)m, Ui, (int)k, 1.0, G, (int)k);
        if (!need_dphi) continue;
        // Y[i, c·d + l] = u_ic x_il, then M += Aᵀ Y
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < k; c++)
                for (size_t l = 0; l < d; l++) e->Y[(i * k + c) * d + l] = Ui[i * k + c] * X[i * d + l];
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)(k * d), (int)rows, 1.0, A,
                    (int)m, e->Y, (int)(k * d), 1.0, M, (int)(k * d));
    }
    return NTK_OK;
}

/* rows of V (rows, k) from features P, A of rows Xr and the summed buf */
static void forward_tile(ntk_dop *op, const double *Xr, size_t rows, const double *P,
                         const double *A, const double *buf, size_t k, double *V)
{
    emp_part *e = op->emp;
    size_t m = op->net.m, d = op->d;
    const double *G = buf, *M = buf + m * k;
    double s_in = ntk_net_config_s(&op->net), a2m = op->net.alpha * op->net.alpha / (double)m;
    double c1 = op->desc.c1 * a2m / (s_in * s_in), c2 = op->desc.c2 * a2m;
    if (c2 != 0.0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)m, c2, P,
                    (int)m, G, (int)k, 0.0, V, (int)k);
    else
        memset(V, 0, rows * k * sizeof(double));
    if (c1 == 0.0) return;
    for (size_t c = 0; c < k; c++) {
        // Pc = Xr M_cᵀ (rows, m); V[:, c] += c1 · rowsum(A ⊙ Pc)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)d, 1.0, Xr,
                    (int)d, M + c * d, (int)(k * d), 0.0, e->Pc, (int)m);
        for (size_t i = 0; i < rows; i++)
            V[i * k + c] += c1 * cblas_ddot((int)m, A + i * m, 1, e->Pc + i * m, 1);
    }
}

ntk_status emp_forward(ntk_dop *op, const double *Xr, size_t rows, int cached, const double *buf,
                       size_t k, double *V)
{
    emp_part *e = op->emp;
    size_t d = op->d;
    NTK_TRY(scratch(op, k));
    int need_phi = op->desc.c2 != 0.0, need_dphi = op->desc.c1 != 0.0;
    for (size_t i0 = 0; i0 < rows; i0 += e->B) {
        size_t b = rows - i0 < e->B ? rows - i0 : e->B;
        const double *P, *A;
        if (cached) {
            local_features(op, i0, b, &P, &A);
        } else {
            features(op, Xr + i0 * d, b, need_phi ? e->P : NULL, need_dphi ? e->Af : NULL);
            P = e->P, A = e->Af;
        }
        forward_tile(op, Xr + i0 * d, b, P, A, buf, k, V + i0 * k);
    }
    return NTK_OK;
}
