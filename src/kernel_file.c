/* A kernel larger than memory, written to one .npy row block by row block.
 *
 * Rows [r0, r1) of K are the cross block K(X1[r0:r1], X2) (X2 = X1 for the
 * symmetric kernel), computed by ntk_kernel into one buffer and appended to
 * the file through ntk_npy_writer (npy.c), which checks at the start that the
 * whole file fits on its file system and under the file-size limit, and
 * writes a temporary file that is put in place only when every row is there.
 *
 * What this costs against the in-memory kernel: a symmetric kernel is
 * computed as cross blocks, so every off-diagonal entry is evaluated for both
 * of its triangles (twice the work of the half-and-mirrored in-memory kernel),
 * and the empirical kernel forms the features of X2 again for every row
 * block (n2·m·d per block, small against the block's rows·n2·m once the
 * block has more rows than d). Entries agree with the in-memory kernel to
 * rounding: the Gram products x·x' of a row block come from a GEMM of another
 * shape than the in-memory SYRK or GEMM, and may be summed in another order
 * (tests/test_kernel_file.c bounds the difference). */
#include "internal.h"
#include "deep_internal.h"
#include "quadrature.h"

#include <string.h>

#define KF_DEFAULT_BUDGET ((size_t)1 << 30)   /* when the available memory is unknown */
#define KF_EMP_TILES ((size_t)1 << 30)        /* the empirical kernel's tiles: at most this */

/* x + y, or SIZE_MAX on overflow (either may be SIZE_MAX). */
static size_t add_sat(size_t x, size_t y)
{
    return x > SIZE_MAX - y ? SIZE_MAX : x + y;
}

/* The smallest tile budget (bytes, at most hi) with which the empirical
 * kernel of n1 x ncols points plans its tiles, by bisection on the kernel's
 * own planner (feasible from some budget on); SIZE_MAX when hi is too small,
 * with the kernel's message naming the smallest tile. */
static size_t emp_scratch(const ntk_kernel_desc *k, size_t n1, size_t ncols, size_t lim)
{
    if (ntk_net_is_deep(k->net)) return kernel_deep_empirical_scratch_bytes(k, n1, ncols, lim);
    return ntk_kernel_empirical_scratch_bytes(k->net->m, n1, ncols, k->c1, k->c2, lim);
}

static size_t emp_min_tiles(const ntk_kernel_desc *k, size_t n1, size_t ncols, size_t hi)
{
    if (hi == 0 || emp_scratch(k, n1, ncols, hi) == SIZE_MAX)
        return SIZE_MAX;
    size_t lo = 0;   /* a limit of 0 means the default: never tried */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (emp_scratch(k, n1, ncols, mid) == SIZE_MAX) lo = mid;
        else hi = mid;
    }
    return hi;
}

/* Rows per block under the budget, and the tile budget *tiles handed to the
 * empirical kernel. A block of r rows costs fixed + r·per_row bytes, the
 * output block included. */
static ntk_status plan_blocks(const ntk_kernel_desc *k, size_t n1, size_t ncols, size_t budget,
                              size_t *rows, size_t *tiles)
{
    const size_t d = k->net->d, m = k->net->m, D = sizeof(double);
    size_t fixed = 0, per_row = ntk_size_mul(ncols, D, 1, 1);
    *tiles = 0;
    if (k->diagonal) {
        // one value per row; the empirical diagonal's features: about 2^18 doubles twice, |v|;
        // at depth one tape of at most 256 rows (src/kernel_deep_emp.c, the diagonal)
        if (k->source == NTK_KERNEL_EMPIRICAL)
            fixed = ntk_net_is_deep(k->net) ? deep_tape_bytes(k->net, n1 < 256 ? n1 : 256)
                                            : ntk_size_mul(2 * ((size_t)1 << 18) + 3 * m, D, 1, 1);
    } else if (k->source == NTK_KERNEL_EMPIRICAL) {
        // the tiles get a quarter of the budget, at most 1 GiB (larger tiles
        // are no faster), at least what the smallest tile needs
        size_t tmin = emp_min_tiles(k, n1, ncols, budget);
        if (tmin == SIZE_MAX) return NTK_ERR_NOMEM;
        *tiles = budget / 4 < KF_EMP_TILES ? budget / 4 : KF_EMP_TILES;
        if (*tiles < tmin) *tiles = tmin;
        fixed = *tiles;
    } else if (k->source == NTK_KERNEL_INFINITE && ntk_net_is_deep(k->net)) {
        // the layer recursion's scratch, affine in the block's rows (src/kernel_deep_inf.c),
        // plus the 3 doubles a row of its diagonal recursion once rows > ncols
        size_t s1 = kernel_deep_infinite_scratch_bytes(k, 1, ncols);
        size_t s2 = kernel_deep_infinite_scratch_bytes(k, 2, ncols);
        fixed = s1;
        per_row = add_sat(per_row, add_sat(s2 > s1 ? s2 - s1 : 0, 3 * D));
    } else if (k->source == NTK_KERNEL_INFINITE) {
        // the norms q of both point sets
        fixed = ntk_size_mul(ncols, D, 1, 1);
        per_row = add_sat(per_row, D);
    } else {
        // the features ψ (d + 2 columns) of both sets, and the inputs rescaled to √d
        size_t w = ntk_size_mul(2 * d + 2, D, 1, 1);
        fixed = ntk_size_mul(ncols, w, 1, 1);
        per_row = add_sat(per_row, w);
    }
    *rows = budget > fixed && per_row != SIZE_MAX ? (budget - fixed) / per_row : 0;
    if (*rows > n1) *rows = n1;
    if (*rows == 0)
        return ntk_set_error(NTK_ERR_NOMEM,
                             "kernel file: one row of the %zu x %zu kernel needs %.3g MiB with the "
                             "kernel's scratch but the memory limit is %.3g MiB; raise the limit",
                             n1, ncols, (double)add_sat(fixed, per_row) / 1048576.0,
                             (double)budget / 1048576.0);
    return NTK_OK;
}

/* The description with what must not change from block to block resolved
 * once: Hu et al.'s constants with the trace factor of all of X1 (a block
 * would estimate its own), and the empirical tile budget. */
static ntk_status resolve_desc(const ntk_kernel_desc *k, const double *X1, size_t n1, size_t tiles,
                               ntk_kernel_desc *kd, ntk_constants *c)
{
    *kd = *k;
    if (k->source == NTK_KERNEL_EMPIRICAL && !k->diagonal) kd->mem_limit = tiles;
    if (k->source != NTK_KERNEL_LIN || k->consts) return NTK_OK;
    double tf = k->trace_factor;
    if (tf <= 0) NTK_TRY(ntk_trace_factor(X1, n1, k->net->d, &tf));
    NTK_TRY(ntk_constants_compute(k->net->act, tf, k->quad_order, c));
    kd->consts = c;
    return NTK_OK;
}

static ntk_status check_args(const ntk_kernel_desc *k, const double *X1, size_t n1,
                             const double *X2, size_t n2, const char *path)
{
    if (!k || !k->net)
        return ntk_set_error(NTK_ERR_ARG, "kernel file: the description or its network settings are NULL");
    NTK_TRY(ntk_net_config_check(k->net));
    if (!path || !*path) return ntk_set_error(NTK_ERR_ARG, "kernel file: the output path is empty");
    if (!X1 || n1 == 0)
        return ntk_set_error(NTK_ERR_ARG, "kernel file: X1 is NULL or has no points");
    if (X2 && n2 == 0)
        return ntk_set_error(NTK_ERR_ARG, "kernel file: X2 has no points; pass X2 = NULL for the "
                             "symmetric kernel");
    if (k->diagonal && X2)
        return ntk_set_error(NTK_ERR_ARG, "kernel file: the diagonal is of a symmetric kernel; "
                             "pass X2 = NULL");
    if (k->source == NTK_KERNEL_EMPIRICAL && ntk_net_is_deep(k->net) && !k->theta)
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel at depth: the parameters theta are NULL");
    if (k->source == NTK_KERNEL_EMPIRICAL && !ntk_net_is_deep(k->net) && (!k->W || !k->v))
        return ntk_set_error(NTK_ERR_ARG, "empirical kernel: the weights W and v are NULL");
    /* the inputs are checked whole now, not when the block holding a NaN comes */
    size_t d = k->net->d;
    NTK_TRY(ntk_check_finite(X1, ntk_size_mul(n1, d, 1, 1), "X1"));
    if (X2) NTK_TRY(ntk_check_finite(X2, ntk_size_mul(n2, d, 1, 1), "X2"));
    return NTK_OK;
}

ntk_status ntk_kernel_write_npy(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2, const char *path, size_t mem_limit,
                                int dtype_f32, const volatile int *cancel)
{
    ntk_clear_error();
    NTK_TRY(check_args(k, X1, n1, X2, n2, path));
    const size_t d = k->net->d;
    const size_t ncols = k->diagonal ? 1 : X2 ? n2 : n1;
    size_t budget = mem_limit;
    if (budget == 0) {
        size_t avail = ntk_mem_available();
        budget = avail ? avail / 2 : KF_DEFAULT_BUDGET;
    }
    size_t rows, tiles;
    NTK_TRY(plan_blocks(k, n1, ncols, budget, &rows, &tiles));
    ntk_kernel_desc kd;
    ntk_constants consts;
    NTK_TRY(resolve_desc(k, X1, n1, tiles, &kd, &consts));

    double *block = ntk_alloc(rows, ncols * sizeof(double), "kernel row block");
    if (!block) return NTK_ERR_NOMEM;
    ntk_npy_writer *w = NULL;
    ntk_status st = ntk_npy_writer_open(path, n1, ncols, k->diagonal ? 1 : 2, dtype_f32, &w);
    for (size_t r0 = 0; st == NTK_OK && r0 < n1; r0 += rows) {
        size_t nr = n1 - r0 < rows ? n1 - r0 : rows;
        if (cancel && *cancel) {
            st = ntk_set_error(NTK_ERR_INTERRUPTED, "kernel file %s: interrupted after %zu of %zu "
                               "rows; nothing was written", path, r0, n1);
            break;
        }
        const double *Xr = X1 + r0 * d;
        st = k->diagonal ? ntk_kernel(&kd, Xr, nr, NULL, 0, block)
                         : ntk_kernel(&kd, Xr, nr, X2 ? X2 : X1, ncols, block);
        if (st == NTK_OK) st = ntk_npy_writer_rows(w, block, nr);
    }
    free(block);
    if (st == NTK_OK) return ntk_npy_writer_commit(w);
    ntk_npy_writer_discard(w);
    return st;
}
