/* Kernel operators: creation, the choice of mode, and what every mode shares
 * (docs/theory.md §9). The modes are in src/operator_dense.c (the stored
 * kernel, float64 or float32, and a given matrix), src/operator_emp.c (the
 * empirical NTK as J(JᵀU)), src/operator_tiles.c (infinite-width kernels
 * tile by tile) and src/operator_lin.c (Hu et al.'s kernels as Ψ(ΨᵀU)). */
#include "operator_internal.h"

#include <math.h>
#include <string.h>

/* unit vectors per product when columns are read through products */
#define OP_COLUMN_BATCH 16

static const char *const mode_names[] = {"auto", "dense", "dense-f32", "matrix-free"};

const char *ntk_op_mode_name(ntk_op_mode mode)
{
    return (unsigned)mode < 4 ? mode_names[mode] : "unknown";
}

ntk_status ntk_op_mode_parse(const char *name, ntk_op_mode *out)
{
    ntk_clear_error();
    for (int k = 0; k < 4; k++)
        if (name && strcmp(name, mode_names[k]) == 0) {
            *out = (ntk_op_mode)k;
            return NTK_OK;
        }
    return ntk_set_error(NTK_ERR_ARG, "unknown operator mode '%s'; choose auto, dense, dense-f32 "
                         "or matrix-free", name ? name : "(null)");
}

static size_t default_limit(size_t mem_limit)
{
    if (mem_limit) return mem_limit;
    size_t avail = ntk_mem_available();
    return avail ? avail / 2 : (size_t)4 << 30;
}

size_t op_tile_rows(const ntk_op *op, size_t per_row, size_t n)
{
    size_t rows = op->mem_limit / 8 / (per_row ? per_row : 1);
    if (rows < 16) rows = 16;
    if (rows > 4096) rows = 4096;   /* beyond this, tiles gain nothing in BLAS speed */
    return rows < n ? rows : n;
}

size_t ntk_op_mem_bytes(const ntk_kernel_desc *desc, size_t n, ntk_op_mode mode, size_t mem_limit)
{
    double dn = (double)n, d = desc && desc->net ? (double)desc->net->d : 0.0;
    double m = desc && desc->net ? (double)desc->net->m : 0.0;
    double b;
    switch (mode) {
    case NTK_OP_DENSE: b = dn * dn * 8.0; break;
    case NTK_OP_DENSE_F32: b = dn * dn * 4.0 + 16.0 * dn * 8.0; break;
    default:
        /* one tile of 16 rows at least; the empirical kernel's JᵀU (m·d per column;
         * at depth P per column and the tile's tape) */
        b = desc && desc->source == NTK_KERNEL_EMPIRICAL && desc->net && ntk_net_is_deep(desc->net)
                ? op_deep_empirical_bytes(desc, n, default_limit(mem_limit))
            : desc && desc->source == NTK_KERNEL_EMPIRICAL ? (16.0 * 3.0 * m + 2.0 * m * d) * 8.0
            : desc && desc->source == NTK_KERNEL_LIN ? dn * (2.0 * d + 3.0) * 8.0
                                                      : 16.0 * dn * 8.0;
    }
    return b >= 4e18 ? SIZE_MAX : (size_t)b;
}

static ntk_status check_desc(const ntk_kernel_desc *desc, const double *X, size_t n)
{
    if (!desc || !desc->net || !X)
        return ntk_set_error(NTK_ERR_ARG, "kernel operator: the description, its network "
                             "settings or X is NULL");
    NTK_TRY(ntk_net_config_check(desc->net));
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "kernel operator: n = 0; pass points");
    if (desc->diagonal)
        return ntk_set_error(NTK_ERR_ARG, "kernel operator: diagonal = 1 asks for K_ii alone; an "
                             "operator is the whole kernel (ntk_op_diag gives its diagonal)");
    if (desc->source == NTK_KERNEL_EMPIRICAL && ntk_net_is_deep(desc->net) && !desc->theta)
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel operator at depth: theta is NULL; set "
                             "the description's theta to the network's flat parameters");
    if (desc->source == NTK_KERNEL_EMPIRICAL && !ntk_net_is_deep(desc->net) && (!desc->W || !desc->v))
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel operator: the weights W and v are NULL");
    if (desc->source == NTK_KERNEL_LIN && ntk_net_is_deep(desc->net))
        return ntk_set_error(NTK_ERR_ARG, "Hu et al.'s linear models are two-layer only; use "
                             "--depth 1 (and sigma_w = 1, sigma_b = 0, the ntk parameterisation)");
    NTK_TRY(ntk_check_finite(X, ntk_size_mul(n, desc->net->d, 1, 1), "X"));
    return ntk_check_input_scale(X, n, desc->net->d, ntk_net_config_s(desc->net), "X");
}

/* AUTO: the stored kernel when it fits in the limit, else matrix-free. */
static ntk_op_mode resolve_mode(const ntk_kernel_desc *desc, size_t n, ntk_op_mode mode,
                                size_t limit)
{
    if (mode != NTK_OP_AUTO) return mode;
    return ntk_op_mem_bytes(desc, n, NTK_OP_DENSE, limit) <= limit ? NTK_OP_DENSE
                                                                   : NTK_OP_MATRIX_FREE;
}

ntk_status ntk_op_create(const ntk_kernel_desc *desc, const double *X, size_t n,
                         ntk_op_mode mode, size_t mem_limit, ntk_op **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_op_create: out is NULL");
    *out = NULL;
    NTK_TRY(check_desc(desc, X, n));
    if ((unsigned)mode > NTK_OP_MATRIX_FREE)
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_create: unknown mode %d", (int)mode);
    size_t limit = default_limit(mem_limit);
    mode = resolve_mode(desc, n, mode, limit);
    size_t need = ntk_op_mem_bytes(desc, n, mode, limit);
    if (need > limit) {
        return ntk_set_error(NTK_ERR_NOMEM,
                             "a %s kernel operator on n = %zu points needs about %.2f GiB but the "
                             "limit is %.2f GiB; use the matrix-free mode, fewer points or a "
                             "larger memory limit", ntk_op_mode_name(mode), n,
                             (double)need / 1073741824.0, (double)limit / 1073741824.0);
    }
    ntk_op *op = ntk_calloc(1, sizeof *op, "kernel operator");
    if (!op) return NTK_ERR_NOMEM;
    op->mode = mode;
    op->n = n;
    op->d = desc->net->d;
    op->has_desc = 1;
    op->net = *desc->net;
    op->desc = *desc;
    op->desc.net = &op->net;
    if (desc->layer_weights) {   /* copied, like the description */
        memcpy(op->layer_w, desc->layer_weights, (ntk_net_depth(desc->net) + 1) * sizeof(double));
        op->desc.layer_weights = op->layer_w;
    }
    op->X = X;
    op->mem_limit = limit;
    ntk_status st;
    if (mode == NTK_OP_DENSE || mode == NTK_OP_DENSE_F32)
        st = op_dense_init(op, mode == NTK_OP_DENSE_F32);
    else if (desc->source == NTK_KERNEL_EMPIRICAL)
        st = op_empirical_init(op);
    else if (desc->source == NTK_KERNEL_LIN)
        st = op_lin_init(op);
    else
        st = op_tiles_init(op);
    if (st != NTK_OK) {
        ntk_op_free(op);
        return st;
    }
    *out = op;
    return NTK_OK;
}

ntk_status ntk_op_from_matrix(const double *K, size_t n, ntk_op **out)
{
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_op_from_matrix: out is NULL");
    *out = NULL;
    if (!K || n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_op_from_matrix: K is NULL or n = 0");
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    ntk_op *op = ntk_calloc(1, sizeof *op, "kernel operator");
    if (!op) return NTK_ERR_NOMEM;
    op->mode = NTK_OP_DENSE;
    op->n = n;
    op->mem_limit = default_limit(0);
    ntk_status st = op_matrix_init(op, K);
    if (st != NTK_OK) {
        ntk_op_free(op);
        return st;
    }
    *out = op;
    return NTK_OK;
}

void ntk_op_free(ntk_op *op)
{
    if (!op) return;
    if (op->impl && op->impl->destroy) op->impl->destroy(op);
    free(op);
}

size_t ntk_op_size(const ntk_op *op) { return op ? op->n : 0; }
ntk_op_mode ntk_op_get_mode(const ntk_op *op) { return op ? op->mode : NTK_OP_AUTO; }

ntk_status ntk_op_apply(ntk_op *op, const double *U, size_t k, double *V)
{
    ntk_clear_error();
    if (!op || !U || !V || k == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_apply: NULL argument or k = 0");
    int saved = ntk_threads_enter(op->has_desc ? op->desc.threads : 0);
    ntk_status st = op->impl->apply(op, U, k, V);
    ntk_threads_leave(saved);
    if (st != NTK_OK) return st;
    return ntk_check_result(V, op->n, k, "a kernel product",
                            "the kernel or the vectors overflow double precision");
}

ntk_status ntk_op_cross_apply(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                              double *F)
{
    ntk_clear_error();
    if (!op || !Xt || !U || !F || k == 0 || nt == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_cross_apply: NULL argument, nt = 0 or k = 0");
    if (!op->has_desc || !op->impl->cross)
        return ntk_set_error(NTK_ERR_ARG, "this kernel operator is a given matrix: it has no "
                             "cross block to other points; pass the cross kernel instead");
    NTK_TRY(ntk_check_finite(Xt, ntk_size_mul(nt, op->d, 1, 1), "Xt"));
    NTK_TRY(ntk_check_input_scale(Xt, nt, op->d, ntk_net_config_s(&op->net), "Xt"));
    int saved = ntk_threads_enter(op->desc.threads);
    ntk_status st = op->impl->cross(op, Xt, nt, U, k, F);
    ntk_threads_leave(saved);
    if (st != NTK_OK) return st;
    return ntk_check_result(F, nt, k, "a cross-kernel product",
                            "the kernel or the vectors overflow double precision");
}

ntk_status ntk_op_diag(ntk_op *op, double *D)
{
    ntk_clear_error();
    if (!op || !D) return ntk_set_error(NTK_ERR_ARG, "ntk_op_diag: NULL argument");
    if (op->K) {
        /* a stored kernel: read it off */
        for (size_t i = 0; i < op->n; i++) D[i] = op->K[i * op->n + i];
        return NTK_OK;
    }
    ntk_kernel_desc k = op->desc;
    k.diagonal = 1;
    return ntk_kernel(&k, op->X, op->n, NULL, 0, D);
}

ntk_status ntk_op_columns(ntk_op *op, const size_t *idx, size_t s, double *C)
{
    ntk_clear_error();
    if (!op || !idx || !C || s == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_op_columns: NULL argument or s = 0");
    size_t n = op->n;
    for (size_t j = 0; j < s; j++)
        if (idx[j] >= n) return ntk_set_error(NTK_ERR_ARG, "ntk_op_columns: index %zu >= n = %zu", idx[j], n);
    if (op->impl->columns) return op->impl->columns(op, idx, s, C);
    if (!op->has_desc || op->mode != NTK_OP_MATRIX_FREE ||
        op->desc.source == NTK_KERNEL_EMPIRICAL) {
        /* products with unit vectors, OP_COLUMN_BATCH at a time (stored K:
         * cheap; the empirical operator: each batch is two passes over X,
         * the cost of the cross kernel against those points, in the
         * operator's own memory) */
        size_t b = s < OP_COLUMN_BATCH ? s : OP_COLUMN_BATCH;
        double *E = ntk_alloc(ntk_size_mul(n, 2 * b, 1, 1), sizeof(double), "unit vectors");
        if (!E) return NTK_ERR_NOMEM;
        double *P = E + n * b;
        ntk_status st = NTK_OK;
        for (size_t j0 = 0; j0 < s && st == NTK_OK; j0 += b) {
            size_t nb = s - j0 < b ? s - j0 : b;
            memset(E, 0, n * nb * sizeof(double));
            for (size_t j = 0; j < nb; j++) E[idx[j0 + j] * nb + j] = 1.0;
            st = ntk_op_apply(op, E, nb, P);
            for (size_t i = 0; st == NTK_OK && i < n; i++)
                memcpy(C + i * s + j0, P + i * nb, nb * sizeof(double));
        }
        free(E);
        return st;
    }
    /* the kernel against the chosen points: K(X, X_S) */
    double *XS = ntk_alloc(ntk_size_mul(s, op->d, 1, 1), sizeof(double), "selected points");
    if (!XS) return NTK_ERR_NOMEM;
    for (size_t j = 0; j < s; j++) memcpy(XS + j * op->d, op->X + idx[j] * op->d, op->d * sizeof(double));
    ntk_kernel_desc k = op->desc;
    k.mem_limit = op->mem_limit / 2;
    ntk_status st = ntk_kernel(&k, op->X, n, XS, s, C);
    free(XS);
    return st;
}
