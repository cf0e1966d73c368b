/* Hu et al. (2020)'s kernels as operators: Θ_lin = c1 Ψ1Ψ1ᵀ + c2 Ψ2Ψ2ᵀ has
 * rank at most 2d + 3, so a product is Ψ(ΨᵀU) at O(n·d·k) with the features
 * of the n points kept (docs/theory.md §4.3, §9.4). */
#include "operator_internal.h"

#include <cblas.h>
#include <string.h>

typedef struct {
    ntk_constants c;
    double *Psi[2];          /* (n, d+1), (n, d+2), or NULL when its weight is 0 */
} lin_op_state;

/* Ψ_layer of rows X (rows, d) into P (rows, d + layer), on x·√d/s */
static ntk_status lin_feats(const ntk_op *op, const lin_op_state *s, int layer, const double *X,
                            size_t rows, double *P)
{
    double *Xr = ntk_alloc(ntk_size_mul(rows, op->d, 1, 1), sizeof(double), "rescaled inputs");
    if (!Xr) return NTK_ERR_NOMEM;
    ntk_lin_inputs(&op->net, X, rows, Xr);
    ntk_status st = ntk_lin_features(&s->c, op->net.alpha, layer, Xr, rows, op->d, P);
    free(Xr);
    return st;
}

/* V (rows, k) = Σ_layer c_layer Pr_layer (Ψ_layerᵀ U): rows' features Pr */
static ntk_status lin_product(ntk_op *op, double *const Pr[2], size_t rows, const double *U,
                              size_t k, double *V)
{
    lin_op_state *s = op->state;
    size_t n = op->n, d = op->d;
    double *T = ntk_alloc((d + 2) * k, sizeof(double), "projection");
    if (!T) return NTK_ERR_NOMEM;
    memset(V, 0, rows * k * sizeof(double));
    for (int l = 0; l < 2; l++) {
        double w = l == 0 ? op->desc.c1 : op->desc.c2;
        if (!s->Psi[l]) continue;
        size_t p = d + 1 + (size_t)l;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)k, (int)n, 1.0, s->Psi[l],
                    (int)p, U, (int)k, 0.0, T, (int)k);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)p, w, Pr[l],
                    (int)p, T, (int)k, 1.0, V, (int)k);
    }
    free(T);
    return NTK_OK;
}

static ntk_status lin_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    lin_op_state *s = op->state;
    return lin_product(op, s->Psi, op->n, U, k, V);
}

static ntk_status lin_cross(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                            double *F)
{
    lin_op_state *s = op->state;
    size_t d = op->d;
    double *Pt[2] = {NULL, NULL};
    ntk_status st = NTK_OK;
    for (int l = 0; l < 2 && st == NTK_OK; l++) {
        if (!s->Psi[l]) continue;
        Pt[l] = ntk_alloc(ntk_size_mul(nt, d + 1 + (size_t)l, 1, 1), sizeof(double), "features");
        st = Pt[l] ? lin_feats(op, s, l + 1, Xt, nt, Pt[l]) : NTK_ERR_NOMEM;
    }
    if (st == NTK_OK) st = lin_product(op, Pt, nt, U, k, F);
    free(Pt[0]);
    free(Pt[1]);
    return st;
}

static void lin_destroy(ntk_op *op)
{
    lin_op_state *s = op->state;
    if (!s) return;
    free(s->Psi[0]);
    free(s->Psi[1]);
    free(s);
}

static const op_impl lin_impl = {lin_apply, lin_cross, lin_destroy, NULL};

ntk_status op_lin_init(ntk_op *op)
{
    lin_op_state *s = ntk_calloc(1, sizeof *s, "linear-model operator");
    if (!s) return NTK_ERR_NOMEM;
    op->state = s;
    op->impl = &lin_impl;
    if (op->desc.consts) {
        s->c = *op->desc.consts;
        op->desc.consts = NULL;   /* the copy here is what the operator uses */
    } else {
        double tf = op->desc.trace_factor;
        if (tf <= 0) NTK_TRY(ntk_trace_factor(op->X, op->n, op->d, &tf));
        NTK_TRY(ntk_constants_compute(op->net.act, tf, op->desc.quad_order, &s->c));
    }
    /* the cross blocks of op_cross_by_tiles use the same constants */
    op->desc.trace_factor = s->c.trace_factor;
    for (int l = 0; l < 2; l++) {
        double w = l == 0 ? op->desc.c1 : op->desc.c2;
        if (w == 0.0) continue;
        s->Psi[l] = ntk_alloc(ntk_size_mul(op->n, op->d + 1 + (size_t)l, 1, 1), sizeof(double),
                              "linear-model features");
        if (!s->Psi[l]) return NTK_ERR_NOMEM;
        NTK_TRY(lin_feats(op, s, l + 1, op->X, op->n, s->Psi[l]));
    }
    return NTK_OK;
}
