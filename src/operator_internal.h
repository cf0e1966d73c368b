/* Kernel operators (src/operator*.c): the state behind ntk_op and the
 * implementations' hooks. */
#ifndef NTK_OPERATOR_INTERNAL_H
#define NTK_OPERATOR_INTERNAL_H

#include "internal.h"

typedef struct {
    /* V (n,k) = K U (n,k) */
    ntk_status (*apply)(ntk_op *op, const double *U, size_t k, double *V);
    /* F (nt,k) = K(Xt, X) U; NULL: not available */
    ntk_status (*cross)(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                        double *F);
    void (*destroy)(ntk_op *op);
    /* C (n,s) = K(X, X[idx]) read from storage; NULL: from products or the
     * cross kernel (src/operator.c) */
    ntk_status (*columns)(ntk_op *op, const size_t *idx, size_t s, double *C);
} op_impl;

struct ntk_op {
    const op_impl *impl;
    ntk_op_mode mode;            /* DENSE, DENSE_F32 or MATRIX_FREE (never AUTO) */
    size_t n, d;
    int has_desc;                /* 0: a given matrix, no kernel behind it */
    ntk_net_config net;          /* copy; desc.net points here */
    ntk_kernel_desc desc;
    double layer_w[NTK_MAX_DEPTH + 1];   /* copy of desc.layer_weights (L+1), which points here */
    const double *X;             /* (n,d) borrowed */
    size_t mem_limit;            /* bytes for scratch (tiles, caches) */
    const double *K;             /* a stored float64 kernel (dense mode, given matrix), or NULL */
    void *state;                 /* the implementation's */
};

/* The implementations: each fills op->impl and op->state. */
ntk_status op_dense_init(ntk_op *op, int single);
ntk_status op_matrix_init(ntk_op *op, const double *K);
ntk_status op_empirical_init(ntk_op *op);   /* at depth: op_deep_empirical_init */
ntk_status op_deep_empirical_init(ntk_op *op);
/* Bytes of the deep empirical operator's smallest footprint: one tile of 16
 * rows (its tape and product scratch) and the layer blocks of a product
 * with two vectors (src/operator_emp.c). */
double op_deep_empirical_bytes(const ntk_kernel_desc *desc, size_t n, size_t limit);
ntk_status op_tiles_init(ntk_op *op);
ntk_status op_lin_init(ntk_op *op);

/* F (nt,k) = K(Xt, X) U by tiles of the cross kernel of the description:
 * memory O(tile·n), for any source (src/operator_tiles.c). */
ntk_status op_cross_by_tiles(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                             double *F);
/* Rows per tile so that `per_row` doubles a row fit in the memory limit
 * (at least 16, at most n). */
size_t op_tile_rows(const ntk_op *op, size_t per_row, size_t n);

#endif
