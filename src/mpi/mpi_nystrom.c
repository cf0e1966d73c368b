/* The Nyström preconditioner on distributed rows (src/mpi/ntk_mpi.h): a
 * randomly pivoted Cholesky factor built round by round as in src/rpchol.c,
 * with the pivots drawn identically on every process from the gathered
 * residual diagonal, then an orthonormal basis of its range by the Gram
 * matrix and CholeskyQR2. */
#include "mpi_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#define RPC_BLOCK 64   /* pivots per round, as src/rpchol.c */

struct ntk_dnystrom {
    MPI_Comm comm;
    size_t nloc, q;
    double *U;         /* (nloc, q) local rows of the orthonormal basis */
    double *lam;       /* (q) Λ̂, descending */
    double *w;         /* (q) scratch of the apply */
    double trace_err;
};

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* s draws from d / Σd (cumulative sums cum), sorted and merged. */
static size_t sample_pivots(ntk_rng *rng, const double *cum, size_t n, size_t s, size_t *S)
{
    double total = cum[n - 1];
    for (size_t j = 0; j < s; j++) {
        double u = ntk_rng_uniform(rng) * total;
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
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
    ntk_dop *op;
    size_t n, nloc, r0, r, k;
    double *F;        /* (nloc, r) */
    double *d;        /* (nloc) residual diagonal of the local rows */
    double *dall;     /* (n) gathered, then its cumulative sums */
    double *G;        /* (nloc, RPC_BLOCK) */
    double *Fs;       /* (RPC_BLOCK, r) F(S, :) summed to every process */
    double *Gs;       /* (RPC_BLOCK, RPC_BLOCK) the pivot block */
    size_t *S;
    lapack_int *piv;
} rpc_state;

static ntk_status rpc_round(rpc_state *w, ntk_rng *rng, size_t s, size_t *added)
{
    ntk_dop *op = w->op;
    size_t nloc = w->nloc, r = w->r, k = w->k, r0 = w->r0;
    *added = 0;
    s = sample_pivots(rng, w->dall, w->n, s, w->S);
    NTK_TRY(ntk_dop_columns(op, w->S, s, w->G));
    /* F(S, :) from the processes that own the pivots */
    memset(w->Fs, 0, s * (k ? k : 1) * sizeof(double));
    for (size_t j = 0; j < s; j++)
        if (w->S[j] >= r0 && w->S[j] < r0 + nloc)
            memcpy(w->Fs + j * k, w->F + (w->S[j] - r0) * r, k * sizeof(double));
    if (k) {
        MPI_Allreduce(MPI_IN_PLACE, w->Fs, (int)(s * k), MPI_DOUBLE, MPI_SUM, op->comm);
        if (nloc)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nloc, (int)s, (int)k, -1.0,
                        w->F, (int)r, w->Fs, (int)k, 1.0, w->G, (int)s);
    }
    /* the pivot block G(S, S), factored on process 0 */
    memset(w->Gs, 0, s * s * sizeof(double));
    for (size_t a = 0; a < s; a++)
        if (w->S[a] >= r0 && w->S[a] < r0 + nloc)
            memcpy(w->Gs + a * s, w->G + (w->S[a] - r0) * s, s * sizeof(double));
    MPI_Allreduce(MPI_IN_PLACE, w->Gs, (int)(s * s), MPI_DOUBLE, MPI_SUM, op->comm);
    lapack_int q = 0, info = 0;
    if (op->rank == 0)
        info = LAPACKE_dpstrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)s, w->Gs, (lapack_int)s, w->piv,
                              &q, -1.0);
    int hdr[2] = {(int)info, (int)q};
    MPI_Bcast(hdr, 2, MPI_INT, 0, op->comm);
    if (hdr[0] < 0)
        return ntk_set_error(NTK_ERR_LAPACK, "randomly pivoted Cholesky: dpstrf failed (info = %d)",
                             hdr[0]);
    q = hdr[1];
    if (q <= 0) return NTK_OK;
    MPI_Bcast(w->Gs, (int)(s * s), MPI_DOUBLE, 0, op->comm);
    MPI_Bcast(w->piv, (int)(s * sizeof(lapack_int)), MPI_BYTE, 0, op->comm);
    if ((size_t)q > r - k) q = (lapack_int)(r - k);
    for (size_t i = 0; i < nloc; i++)
        for (lapack_int j = 0; j < q; j++) w->F[i * r + k + (size_t)j] = w->G[i * s + (size_t)(w->piv[j] - 1)];
    if (nloc)
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)nloc,
                    (int)q, 1.0, w->Gs, (int)s, w->F + k, (int)r);
    for (size_t i = 0; i < nloc; i++) {
        const double *row = w->F + i * r + k;
        double t = w->d[i] - cblas_ddot((int)q, row, 1, row, 1);
        w->d[i] = t > 0.0 ? t : 0.0;
    }
    for (lapack_int j = 0; j < q; j++) {
        size_t p = w->S[w->piv[j] - 1];
        if (p >= r0 && p < r0 + nloc) w->d[p - r0] = 0.0;
    }
    w->k += (size_t)q;
    *added = (size_t)q;
    return NTK_OK;
}

/* the residual diagonal gathered to every process, its cumulative sums in
 * dall, and their total (the same number on every process) */
static double gather_cumsum(rpc_state *w)
{
    ntk_dop *op = w->op;
    MPI_Allgatherv(w->d, (int)w->nloc, MPI_DOUBLE, w->dall, op->cnt, op->dsp, MPI_DOUBLE, op->comm);
    double s = 0.0;
    for (size_t i = 0; i < w->n; i++) w->dall[i] = (s += w->dall[i]);
    return s;
}

static ntk_status rpc_run(rpc_state *w, uint64_t seed, double *trace_err)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    NTK_TRY(ntk_dop_diag(w->op, w->d));
    ntk_status st = NTK_OK;
    for (size_t i = 0; i < w->nloc && st == NTK_OK; i++)
        if (!(w->d[i] >= 0.0))
            st = ntk_set_error(NTK_ERR_ARG, "randomly pivoted Cholesky: K_ii = %g < 0 at point %zu; "
                               "the kernel is not positive semi-definite", w->d[i], w->r0 + i);
    NTK_TRY(ntk_mpi_agree(w->op->comm, st));
    double err = gather_cumsum(w);
    int stalled = 0;
    while (w->k < w->r && err > 0.0 && stalled < 3) {
        size_t s = w->r - w->k < RPC_BLOCK ? w->r - w->k : RPC_BLOCK, added = 0;
        NTK_TRY(rpc_round(w, &rng, s, &added));
        stalled = added ? 0 : stalled + 1;
        err = gather_cumsum(w);
    }
    *trace_err = err;
    return NTK_OK;
}

/* U (nloc, r) ← U R⁻¹ with RᵀR = UᵀU summed over the processes; NTK_ERR_LAPACK
 * when the Gram matrix is not numerically positive definite. */
static ntk_status chol_orth(MPI_Comm comm, double *U, size_t nloc, size_t q, size_t ld, double *Gm)
{
    memset(Gm, 0, q * q * sizeof(double));
    if (nloc)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)q, (int)nloc, 1.0, U, (int)ld, 0.0,
                    Gm, (int)q);
    MPI_Allreduce(MPI_IN_PLACE, Gm, (int)(q * q), MPI_DOUBLE, MPI_SUM, comm);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)q, Gm, (lapack_int)q);
    if (info != 0)
        return ntk_set_error(NTK_ERR_LAPACK, "preconditioner: the basis's Gram matrix is not "
                             "positive definite (dpotrf info = %d)", (int)info);
    if (nloc)
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)nloc,
                    (int)q, 1.0, Gm, (int)q, U, (int)ld);
    return NTK_OK;
}

/* From F (nloc, got; leading dimension r): FᵀF = V Σ² Vᵀ (on process 0,
 * broadcast), kept where σ² > 100·r·ε·σ²_max (the Gram matrix's rounding is
 * about r·ε·σ²_max, so a kept σ² is accurate to about 1%), U = F V Σ⁻¹, then
 * U orthonormalised once more (CholeskyQR2) so that P stays symmetric
 * positive definite whatever the kept σ² are. */
static ntk_status basis(ntk_dnystrom *p, MPI_Comm comm, int rank, double *F, size_t nloc, size_t got,
                        size_t r)
{
    double *Gm = ntk_alloc(ntk_size_mul(got, got, 1, 1), sizeof(double), "preconditioner Gram matrix");
    double *ev = ntk_alloc(got, sizeof(double), "preconditioner");
    p->U = ntk_alloc(ntk_size_mul(nloc ? nloc : 1, got, 1, 1), sizeof(double), "preconditioner basis");
    p->lam = ntk_alloc(2 * got, sizeof(double), "preconditioner");
    ntk_status st = Gm && ev && p->U && p->lam ? NTK_OK : NTK_ERR_NOMEM;
    st = ntk_mpi_agree(comm, st);
    if (st == NTK_OK) {
        memset(Gm, 0, got * got * sizeof(double));
        if (nloc)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)got, (int)nloc, 1.0, F, (int)r,
                        0.0, Gm, (int)got);
        MPI_Allreduce(MPI_IN_PLACE, Gm, (int)(got * got), MPI_DOUBLE, MPI_SUM, comm);
        int info = 0;
        if (rank == 0) info = (int)LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)got, Gm,
                                                 (lapack_int)got, ev);
        MPI_Bcast(&info, 1, MPI_INT, 0, comm);
        if (info != 0)
            st = ntk_set_error(NTK_ERR_LAPACK, "preconditioner: eigendecomposition of the %zu x %zu "
                               "Gram matrix failed (info = %d)", got, got, info);
    }
    if (st == NTK_OK) {
        MPI_Bcast(Gm, (int)(got * got), MPI_DOUBLE, 0, comm);
        MPI_Bcast(ev, (int)got, MPI_DOUBLE, 0, comm);
        /* dsyevd: ascending; keep the largest, descending */
        double top = ev[got - 1];
        size_t q = 0;
        while (q < got && ev[got - 1 - q] > 100.0 * (double)got * DBL_EPSILON * top && top > 0.0) q++;
        for (size_t i = 0; i < q; i++) p->lam[i] = ev[got - 1 - i];
        /* U = F V_q Σ_q⁻¹: scale the kept columns of V, then one product */
        double *Vq = ntk_alloc(ntk_size_mul(got, q ? q : 1, 1, 1), sizeof(double), "preconditioner");
        if (!Vq) st = NTK_ERR_NOMEM;
        st = ntk_mpi_agree(comm, st);
        if (st == NTK_OK && q) {
            for (size_t j = 0; j < got; j++)
                for (size_t i = 0; i < q; i++)
                    Vq[j * q + i] = Gm[j * got + (got - 1 - i)] / sqrt(p->lam[i]);
            if (nloc)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nloc, (int)q, (int)got,
                            1.0, F, (int)r, Vq, (int)q, 0.0, p->U, (int)q);
            st = ntk_mpi_agree(comm, chol_orth(comm, p->U, nloc, q, q, Gm));
        }
        free(Vq);
        p->q = st == NTK_OK ? q : 0;
    }
    free(Gm), free(ev);
    return st;
}

ntk_status ntk_dnystrom_create(ntk_dop *op, size_t rank, uint64_t seed, ntk_dnystrom **out)
{
    ntk_clear_error();
    *out = NULL;
    size_t n = op->n, nloc = op->nloc;
    if (rank == 0 || rank > n)
        return ntk_set_error(NTK_ERR_ARG, "ntk_dnystrom_create: rank %zu must be in 1..n = %zu", rank, n);
    ntk_dnystrom *p = ntk_calloc(1, sizeof *p, "preconditioner");
    rpc_state w = {.op = op, .n = n, .nloc = nloc, .r0 = op->r0, .r = rank};
    size_t b = RPC_BLOCK;
    w.F = ntk_alloc(ntk_size_mul(nloc ? nloc : 1, rank, 1, 1), sizeof(double), "preconditioner factor");
    w.d = ntk_alloc(ntk_size_mul(nloc + n + 1, 1, 1, 1) + ntk_size_mul(nloc ? nloc : 1, b, 1, 1),
                    sizeof(double), "randomly pivoted Cholesky");
    w.Fs = ntk_alloc(ntk_size_mul(b, rank + b, 1, 1), sizeof(double), "randomly pivoted Cholesky block");
    w.S = ntk_alloc(b, sizeof(size_t), "pivots");
    w.piv = ntk_alloc(b, sizeof(lapack_int), "pivots");
    ntk_status st = p && w.F && w.d && w.Fs && w.S && w.piv ? NTK_OK : NTK_ERR_NOMEM;
    st = ntk_mpi_agree(op->comm, st);
    if (st == NTK_OK) {
        p->comm = op->comm, p->nloc = nloc;
        w.dall = w.d + nloc, w.G = w.dall + n + 1, w.Gs = w.Fs + b * rank;
        memset(w.F, 0, ntk_size_mul(nloc ? nloc : 1, rank, sizeof(double), 1));
        st = rpc_run(&w, seed, &p->trace_err);
    }
    if (st == NTK_OK && w.k == 0) p->q = 0;   /* K = 0: no directions, P = I */
    else if (st == NTK_OK) st = basis(p, op->comm, op->rank, w.F, nloc, w.k, rank);
    if (st == NTK_OK) {
        p->w = ntk_alloc(p->q ? p->q : 1, sizeof(double), "preconditioner");
        st = ntk_mpi_agree(op->comm, p->w ? NTK_OK : NTK_ERR_NOMEM);
    }
    free(w.F), free(w.d), free(w.Fs), free(w.S), free(w.piv);
    if (st != NTK_OK) {
        ntk_dnystrom_free(p);
        return st;
    }
    *out = p;
    return NTK_OK;
}

void ntk_dnystrom_free(ntk_dnystrom *p)
{
    if (!p) return;
    free(p->U), free(p->lam), free(p->w), free(p);
}

size_t ntk_dnystrom_rank(const ntk_dnystrom *p) { return p ? p->q : 0; }
double ntk_dnystrom_trace_err(const ntk_dnystrom *p) { return p ? p->trace_err : 0.0; }

/* v ← v + U diag(c) Uᵀ v, c_i = (λ̂_q + μ)/(λ̂_i + μ) − 1 (src/ridge_cg.c) */
ntk_status ntk_dnystrom_apply(const ntk_dnystrom *p, double mu, double *v_loc)
{
    if (!p || p->q == 0 || !(p->lam[p->q - 1] + mu > 0.0)) return NTK_OK;
    size_t q = p->q, nloc = p->nloc;
    if (nloc)
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)nloc, (int)q, 1.0, p->U, (int)q, v_loc, 1, 0.0,
                    p->w, 1);
    else
        memset(p->w, 0, q * sizeof(double));
    MPI_Allreduce(MPI_IN_PLACE, p->w, (int)q, MPI_DOUBLE, MPI_SUM, p->comm);
    double low = p->lam[q - 1];
    for (size_t i = 0; i < q; i++) p->w[i] *= (low + mu) / (p->lam[i] + mu) - 1.0;
    if (nloc)
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nloc, (int)q, 1.0, p->U, (int)q, p->w, 1, 1.0,
                    v_loc, 1);
    return NTK_OK;
}
