/* The empirical NTK of the two-layer network split by rows
 * (docs/scaling.md §3), through the library's Jacobian products on the
 * flat parameters θ = [W, v] (P = m·d + m numbers): for a column u of U,
 *   K u = J (C ⊙ Jᵀ u),   C = c1 on the W block, c2 on the v block,
 * since Θ1 = J_W J_Wᵀ and Θ2 = J_v J_vᵀ. Jᵀu = Σ_q J_qᵀ u_q is a sum over
 * the points: each process applies ntk_net_vjp to its own rows (the
 * transpose pass), one MPI_Allreduce of k·P numbers (k·m when c1 = 0: the
 * W block is not needed) adds them, and ntk_net_jvp applies J to any rows,
 * the process's own or its test points (the forward pass). Each pass
 * recomputes the rows' features (the library's passes keep none between
 * calls): about 8·rows·m·d flops a column, twice the single-process
 * operator's passes over cached features (src/operator_emp.c). */
#include "mpi_internal.h"

#include <string.h>

struct emp_part {
    size_t P, md;          /* parameters; the W block's length m·d */
    size_t len1, off;      /* numbers a column in the exchange, and where they start in θ */
    double *theta;         /* [W, v] (P) */
    double *g, *dth;       /* Jᵀu and C ⊙ Jᵀu (P each) */
    double *col;           /* a column of U, or of J·dθ (rcap) */
    size_t rcap;
};

size_t emp_part_len(const ntk_dop *op, size_t k)
{
    return op->emp->len1 * k;
}

/* the column scratch for rows points */
static ntk_status col_space(emp_part *e, size_t rows)
{
    if (rows <= e->rcap) return NTK_OK;
    free(e->col);
    e->col = ntk_alloc(rows, sizeof(double), "kernel product column");
    e->rcap = e->col ? rows : 0;
    return e->col ? NTK_OK : NTK_ERR_NOMEM;
}

ntk_status emp_part_create(ntk_dop *op, emp_part **out)
{
    size_t m = op->net.m, d = op->d;
    emp_part *e = ntk_calloc(1, sizeof *e, "empirical kernel operator");
    if (!e) return NTK_ERR_NOMEM;
    *out = e;
    op->emp = e;
    e->md = m * d, e->P = e->md + m;
    e->len1 = op->desc.c1 != 0.0 ? e->P : m;
    e->off = op->desc.c1 != 0.0 ? 0 : e->md;
    e->theta = ntk_alloc(ntk_size_mul(3, e->P, 1, 1), sizeof(double), "network parameters");
    if (!e->theta) return NTK_ERR_NOMEM;
    e->g = e->theta + e->P, e->dth = e->g + e->P;
    memcpy(e->theta, op->desc.W, e->md * sizeof(double));
    memcpy(e->theta + e->md, op->desc.v, m * sizeof(double));
    return col_space(e, op->nloc ? op->nloc : 1);
}

void emp_part_free(emp_part *e)
{
    if (!e) return;
    free(e->theta), free(e->col), free(e);
}

ntk_status emp_transpose(ntk_dop *op, const double *U_loc, size_t k, double *buf)
{
    emp_part *e = op->emp;
    memset(buf, 0, emp_part_len(op, k) * sizeof(double));
    if (!op->nloc) return NTK_OK;
    const double *X = op->Xloc;   /* this process's rows, replicated X or not */
    for (size_t c = 0; c < k; c++) {
        for (size_t i = 0; i < op->nloc; i++) e->col[i] = U_loc[i * k + c];
        NTK_TRY(ntk_net_vjp(&op->net, e->theta, X, op->nloc, e->col, e->g));
        memcpy(buf + c * e->len1, e->g + e->off, e->len1 * sizeof(double));
    }
    return NTK_OK;
}

ntk_status emp_forward(ntk_dop *op, const double *Xr, size_t rows, const double *buf, size_t k,
                       double *V)
{
    emp_part *e = op->emp;
    if (!rows) return NTK_OK;
    NTK_TRY(col_space(e, rows));
    double c1 = op->desc.c1, c2 = op->desc.c2;
    for (size_t c = 0; c < k; c++) {
        const double *b = buf + c * e->len1;
        for (size_t j = 0; j < e->md; j++) e->dth[j] = c1 != 0.0 ? c1 * b[j] : 0.0;
        b += e->md - e->off;
        for (size_t j = 0; j < e->P - e->md; j++) e->dth[e->md + j] = c2 * b[j];
        NTK_TRY(ntk_net_jvp(&op->net, e->theta, Xr, rows, e->dth, e->col));
        for (size_t i = 0; i < rows; i++) V[i * k + c] = e->col[i];
    }
    return NTK_OK;
}
