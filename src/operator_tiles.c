/* Kernel operators that compute K tile by tile and discard it (the
 * infinite-width kernels, docs/theory.md §9.3): a product costs one pass over
 * the n² entries, O(tile²) memory. The diagonal tiles are symmetric blocks,
 * so a point meets itself exactly as in the stored kernel; the tiles above
 * the diagonal serve both triangles. The same tiling gives any operator's
 * cross block to other points. */
#include "operator_internal.h"

#include <cblas.h>
#include <math.h>

typedef struct {
    size_t b;        /* tile side */
    double *T;       /* (b, b) one tile */
} tiles_state;

/* tile side for b² doubles in a quarter of the memory limit */
static size_t tile_side(const ntk_op *op, size_t n)
{
    double b = sqrt((double)op->mem_limit / 4.0 / 8.0);
    size_t s = b < 64 ? 64 : b > 2048 ? 2048 : (size_t)b;
    return s < n ? s : n;
}

static ntk_status tiles_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    tiles_state *s = op->state;
    size_t n = op->n, d = op->d, b = s->b;
    ntk_kernel_desc kd = op->desc;
    kd.mem_limit = op->mem_limit / 4;
    for (size_t e = 0; e < n * k; e++) V[e] = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += b) {
        size_t bi = n - i0 < b ? n - i0 : b;
        const double *XI = op->X + i0 * d;
        for (size_t j0 = i0; j0 < n; j0 += b) {
            size_t bj = n - j0 < b ? n - j0 : b;
            int diag = j0 == i0;
            NTK_TRY(ntk_kernel(&kd, XI, bi, diag ? NULL : op->X + j0 * d, diag ? 0 : bj, s->T));
            // V_I += K_IJ U_J; above the diagonal also V_J += K_IJᵀ U_I
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bi, (int)k, (int)bj, 1.0,
                        s->T, (int)bj, U + j0 * k, (int)k, 1.0, V + i0 * k, (int)k);
            if (!diag)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)bj, (int)k, (int)bi, 1.0,
                            s->T, (int)bj, U + i0 * k, (int)k, 1.0, V + j0 * k, (int)k);
        }
    }
    return NTK_OK;
}

ntk_status op_cross_by_tiles(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                             double *F)
{
    size_t n = op->n, d = op->d, b = tile_side(op, n > nt ? n : nt);
    double *T = ntk_alloc(ntk_size_mul(b, b, 1, 1), sizeof(double), "cross-kernel tile");
    if (!T) return NTK_ERR_NOMEM;
    ntk_kernel_desc kd = op->desc;
    kd.mem_limit = op->mem_limit / 4;
    ntk_status st = NTK_OK;
    for (size_t e = 0; e < nt * k; e++) F[e] = 0.0;
    for (size_t i0 = 0; i0 < nt && st == NTK_OK; i0 += b) {
        size_t bi = nt - i0 < b ? nt - i0 : b;
        for (size_t j0 = 0; j0 < n && st == NTK_OK; j0 += b) {
            size_t bj = n - j0 < b ? n - j0 : b;
            st = ntk_kernel(&kd, Xt + i0 * d, bi, op->X + j0 * d, bj, T);
            if (st == NTK_OK)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bi, (int)k, (int)bj,
                            1.0, T, (int)bj, U + j0 * k, (int)k, 1.0, F + i0 * k, (int)k);
        }
    }
    free(T);
    return st;
}

static void tiles_destroy(ntk_op *op)
{
    tiles_state *s = op->state;
    if (!s) return;
    free(s->T);
    free(s);
}

static const op_impl tiles_impl = {tiles_apply, op_cross_by_tiles, tiles_destroy, NULL};

ntk_status op_tiles_init(ntk_op *op)
{
    tiles_state *s = ntk_calloc(1, sizeof *s, "tiled kernel operator");
    if (!s) return NTK_ERR_NOMEM;
    op->state = s;
    op->impl = &tiles_impl;
    s->b = tile_side(op, op->n);
    s->T = ntk_alloc(ntk_size_mul(s->b, s->b, 1, 1), sizeof(double), "kernel tile");
    return s->T ? NTK_OK : NTK_ERR_NOMEM;
}
