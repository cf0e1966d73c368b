/* Kernel operators that store K: in float64 (products by dgemm on both triangles), in float32
 * (half the memory; each row tile widened to float64 before its dgemm, so
 * the products accumulate in float64 and only the entries carry the 2^-24
 * relative rounding of their storage), or a matrix the caller gave. The
 * cross block is made tile by tile from the kernel's description. */
#include "operator_internal.h"

#include <cblas.h>
#include <string.h>

typedef struct {
    double *K;           /* (n,n) float64, or NULL */
    float *K32;          /* (n,n) float32, or NULL */
    const double *Kext;  /* a given matrix (borrowed) */
    double *tile;        /* float32 mode: one widened row tile (rows, n) */
    size_t rows;
} dense_state;

static ntk_status dense_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    dense_state *s = op->state;
    size_t n = op->n;
    const double *K = s->K ? s->K : s->Kext;
    if (K) {   /* both triangles are stored: dgemm, which packs only what it reads (dsymm
                  expands the triangle on every call, the larger cost for a few columns) */
        if (k == 1)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, K, (int)n, U, 1, 0.0, V, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)n, 1.0, K,
                        (int)n, U, (int)k, 0.0, V, (int)k);
        return NTK_OK;
    }
    for (size_t i0 = 0; i0 < n; i0 += s->rows) {
        size_t rows = n - i0 < s->rows ? n - i0 : s->rows;
        const float *src = s->K32 + i0 * n;
        for (size_t e = 0; e < rows * n; e++) s->tile[e] = (double)src[e];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)n, 1.0,
                    s->tile, (int)n, U, (int)k, 0.0, V + i0 * k, (int)k);
    }
    return NTK_OK;
}

static void dense_destroy(ntk_op *op)
{
    dense_state *s = op->state;
    if (!s) return;
    free(s->K);
    free(s->K32);
    free(s->tile);
    free(s);
}

/* K is symmetric: column j is row j, contiguous in storage */
static ntk_status dense_columns(ntk_op *op, const size_t *idx, size_t s, double *C)
{
    dense_state *st = op->state;
    size_t n = op->n;
    const double *K = st->K ? st->K : st->Kext;
    for (size_t j = 0; j < s; j++) {
        if (K) {
            cblas_dcopy((int)n, K + idx[j] * n, 1, C + j, (int)s);
            continue;
        }
        const float *row = st->K32 + idx[j] * n;
        for (size_t i = 0; i < n; i++) C[i * s + j] = (double)row[i];
    }
    return NTK_OK;
}

static const op_impl dense_impl = {dense_apply, op_cross_by_tiles, dense_destroy, dense_columns};
static const op_impl matrix_impl = {dense_apply, NULL, dense_destroy, dense_columns};

/* K computed once through ntk_kernel; float32 storage built tile by tile
 * so that the float64 kernel never exists whole. */
ntk_status op_dense_init(ntk_op *op, int single)
{
    size_t n = op->n;
    dense_state *s = ntk_calloc(1, sizeof *s, "dense kernel operator");
    if (!s) return NTK_ERR_NOMEM;
    op->state = s;
    op->impl = &dense_impl;
    /* what the limit leaves after the stored kernel: the kernel's scratch
     * and (float32) the widened row tile share it */
    size_t stored = ntk_size_mul(n, n, single ? sizeof(float) : sizeof(double), 1);
    size_t rest = op->mem_limit > stored ? op->mem_limit - stored : 0;
    ntk_kernel_desc k = op->desc;
    k.mem_limit = rest / 2 > ((size_t)1 << 20) ? rest / 2 : (size_t)1 << 20;
    if (!single) {
        s->K = ntk_alloc(ntk_size_mul(n, n, 1, 1), sizeof(double), "kernel matrix");
        if (!s->K) return NTK_ERR_NOMEM;
        op->K = s->K;
        return ntk_kernel(&k, op->X, n, NULL, 0, s->K);
    }
    s->K32 = ntk_alloc(ntk_size_mul(n, n, 1, 1), sizeof(float), "float32 kernel matrix");
    s->rows = rest / 2 / (n * sizeof(double));
    s->rows = s->rows < 16 ? 16 : s->rows > 4096 ? 4096 : s->rows;
    if (s->rows > n) s->rows = n;
    s->tile = ntk_alloc(ntk_size_mul(s->rows, n, 1, 1), sizeof(double), "kernel row tile");
    if (!s->K32 || !s->tile) return NTK_ERR_NOMEM;
    for (size_t i0 = 0; i0 < n; i0 += s->rows) {
        size_t rows = n - i0 < s->rows ? n - i0 : s->rows;
        NTK_TRY(ntk_kernel(&k, op->X + i0 * op->d, rows, op->X, n, s->tile));
        float *dst = s->K32 + i0 * n;
        for (size_t e = 0; e < rows * n; e++) dst[e] = (float)s->tile[e];
    }
    return NTK_OK;
}

ntk_status op_matrix_init(ntk_op *op, const double *K)
{
    dense_state *s = ntk_calloc(1, sizeof *s, "matrix operator");
    if (!s) return NTK_ERR_NOMEM;
    s->Kext = K;
    op->K = K;
    op->state = s;
    op->impl = &matrix_impl;
    return NTK_OK;
}
