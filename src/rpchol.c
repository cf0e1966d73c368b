/* Randomly pivoted Cholesky of a kernel operator (docs/theory.md §9): a
 * rank-r factor F (n, r) with K ≈ F Fᵀ, the basis of the preconditioner of
 * kernel ridge regression by conjugate gradients (src/ridge_cg.c).
 *
 * Method (Chen, Epperly, Tropp and Webber 2023, block form). The residual
 * kernel K − F Fᵀ stays positive semi-definite and its diagonal d says where
 * the approximation is poor. Each round samples b pivots i.i.d. with
 * probability d_i / Σd (duplicates merged), reads those columns of K from
 * the operator, subtracts what F already explains, and adds the block's
 * pivoted Cholesky factor (dpstrf, which stops at the block's numerical
 * rank):
 *     G = K(:, S) − F F(S, :)ᵀ,   Pᵀ G(S, S) P = L Lᵀ (rank q),
 *     F ← [F, G(:, P₁..q) L⁻ᵀ],    d_i ← d_i − ‖new row i‖².
 * Σd is the trace of K − F Fᵀ, the approximation's error in the trace norm;
 * rounds continue until the rank reaches r or Σd ≤ rtol·trace K. Only the
 * sampled columns of K are ever formed: O(n·r) memory, r columns of work. */
#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* pivots per round: large enough for BLAS-3 updates, small enough that
 * the sampling adapts to the residual (the block variant's trade-off) */
#define RPC_BLOCK 64

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* s draws from the distribution d / Σd (cumulative sums cum, length n),
 * sorted and merged; returns how many distinct indices remain in S. */
static size_t sample_pivots(ntk_rng *rng, const double *cum, size_t n, size_t s, size_t *S)
{
    double total = cum[n - 1];
    for (size_t j = 0; j < s; j++) {
        double u = ntk_rng_uniform(rng) * total;
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {   /* first i with cum[i] > u */
            size_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        S[j] = lo;
    }
    qsort(S, s, sizeof *S, cmp_size);
    size_t q = 0;
    for (size_t j = 0; j < s; j++)
        if (q == 0 || S[j] != S[q - 1]) S[q++] = S[j];
    return q;
}

typedef struct {
    size_t n, r, k;   /* points, capacity, columns so far */
    double *F;        /* (n, r), row-major, leading dimension r */
    double *d;        /* (n) residual diagonal */
    double *cum;      /* (n) its cumulative sums */
    double *G;        /* (n, RPC_BLOCK) the block's residual columns */
    double *Gs;       /* (RPC_BLOCK, r) F(S, :), then the (s, s) pivot block */
    size_t *S;        /* (RPC_BLOCK) pivots */
    lapack_int *piv;  /* (RPC_BLOCK) dpstrf's permutation */
} rpc_state;

/* One round: s pivots; the columns added (0: the sampled block has
 * numerical rank 0). */
static ntk_status rpc_round(ntk_op *op, rpc_state *w, ntk_rng *rng, size_t s, size_t *added)
{
    size_t n = w->n, r = w->r, k = w->k;
    *added = 0;
    s = sample_pivots(rng, w->cum, n, s, w->S);
    NTK_TRY(ntk_op_columns(op, w->S, s, w->G));
    if (k > 0) {   /* G −= F F(S, :)ᵀ */
        for (size_t j = 0; j < s; j++) memcpy(w->Gs + j * k, w->F + w->S[j] * r, k * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)s, (int)k, -1.0, w->F,
                    (int)r, w->Gs, (int)k, 1.0, w->G, (int)s);
    }
    for (size_t a = 0; a < s; a++)
        for (size_t b = 0; b < s; b++) w->Gs[a * s + b] = w->G[w->S[a] * s + b];
    lapack_int q = 0;
    /* tol −1: LAPACK's own, n·ε·max diagonal, the block's numerical rank */
    lapack_int info = LAPACKE_dpstrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)s, w->Gs, (lapack_int)s,
                                     w->piv, &q, -1.0);
    if (info < 0)
        return ntk_set_error(NTK_ERR_LAPACK, "randomly pivoted Cholesky: dpstrf failed (info = %d)",
                             (int)info);
    if (q <= 0) return NTK_OK;
    if ((size_t)q > r - k) q = (lapack_int)(r - k);
    /* new columns: G(:, P₁..q) L⁻ᵀ, written into F(:, k..k+q) */
    for (size_t i = 0; i < n; i++)
        for (lapack_int j = 0; j < q; j++) w->F[i * r + k + (size_t)j] = w->G[i * s + (size_t)(w->piv[j] - 1)];
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n, (int)q, 1.0,
                w->Gs, (int)s, w->F + k, (int)r);
    for (size_t i = 0; i < n; i++) {
        const double *row = w->F + i * r + k;
        double t = w->d[i] - cblas_ddot((int)q, row, 1, row, 1);
        w->d[i] = t > 0.0 ? t : 0.0;   /* rounding can push a finished point below 0 */
    }
    /* the q points pivoted in are now reproduced exactly */
    for (lapack_int j = 0; j < q; j++) w->d[w->S[w->piv[j] - 1]] = 0.0;
    w->k += (size_t)q;
    *added = (size_t)q;
    return NTK_OK;
}

/* Σd, and the cumulative sums for the next round's sampling */
static double rpc_cumsum(rpc_state *w)
{
    double s = 0.0;
    for (size_t i = 0; i < w->n; i++) w->cum[i] = (s += w->d[i]);
    return s;
}

static ntk_status rpc_run(ntk_op *op, rpc_state *w, double rtol, uint64_t seed, double *trace_err)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    NTK_TRY(ntk_op_diag(op, w->d));
    for (size_t i = 0; i < w->n; i++)
        if (!(w->d[i] >= 0.0))
            return ntk_set_error(NTK_ERR_ARG, "randomly pivoted Cholesky: K_ii = %g < 0 at point %zu; "
                                 "the kernel is not positive semi-definite", w->d[i], i);
    double trace = rpc_cumsum(w), err = trace;
    int stalled = 0;
    while (w->k < w->r && err > rtol * trace && stalled < 3) {
        size_t s = w->r - w->k < RPC_BLOCK ? w->r - w->k : RPC_BLOCK, added = 0;
        NTK_TRY(rpc_round(op, w, &rng, s, &added));
        stalled = added ? 0 : stalled + 1;   /* a rank-0 block: resample, then give up */
        err = rpc_cumsum(w);
    }
    *trace_err = err;
    return NTK_OK;
}

ntk_status ntk_op_rpcholesky(ntk_op *op, size_t rank, double rtol, uint64_t seed, double *F,
                             size_t *rank_out, double *trace_err)
{
    ntk_clear_error();
    if (!op || !F || !rank_out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_rpcholesky: op, F and rank_out must not be NULL");
    size_t n = ntk_op_size(op);
    if (rank == 0 || rank > n)
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_rpcholesky: rank %zu must be in 1..n = %zu", rank, n);
    if (!(rtol >= 0.0 && rtol < 1.0))
        return ntk_set_error(NTK_ERR_ARG, "ntk_op_rpcholesky: rtol %g must be in [0, 1)", rtol);
    *rank_out = 0;
    rpc_state w = {.n = n, .r = rank};
    size_t b = RPC_BLOCK;
    w.d = ntk_alloc(ntk_size_mul(n, 2 + b, 1, 1), sizeof(double), "randomly pivoted Cholesky");
    w.Gs = ntk_alloc(b * (rank > b ? rank : b), sizeof(double), "randomly pivoted Cholesky block");
    w.S = ntk_alloc(b, sizeof(size_t), "pivots");
    w.piv = ntk_alloc(b, sizeof(lapack_int), "pivots");
    ntk_status st = w.d && w.Gs && w.S && w.piv ? NTK_OK : NTK_ERR_NOMEM;
    if (st == NTK_OK) {
        w.cum = w.d + n, w.G = w.cum + n, w.F = F;
        memset(F, 0, ntk_size_mul(n, rank, sizeof(double), 1));
        double err = 0.0;
        st = rpc_run(op, &w, rtol, seed, &err);
        if (trace_err) *trace_err = err;
        *rank_out = w.k;
    }
    free(w.d), free(w.Gs), free(w.S), free(w.piv);
    return st;
}
