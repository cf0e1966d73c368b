/* Randomly pivoted Cholesky and kernel ridge regression by preconditioned
 * conjugate gradients, against dense references: the eigenvalues of
 * K − F Fᵀ (dsyevd) and the Cholesky solve of (K + μI) A = Y (dposv, through
 * ntk_kernel_ridge), for stored and matrix-free operators. */
#include "harness.h"
#include "internal.h"
#include "ntkit.h"

#include <cblas.h>
#include <float.h>

#define C_ROUND 4.0
static double R_n(size_t n) { return C_ROUND * (double)n * DBL_EPSILON; }

static double col_norm(const double *A, size_t n, size_t k, size_t j)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += A[i * k + j] * A[i * k + j];
    return sqrt(s);
}

typedef struct {
    size_t n, d, m;
    double *X, *K;
    ntk_net_config cfg;
    ntk_net *net;
    ntk_kernel_desc kd;
} problem;

/* in place: p->kd points into p->cfg */
static void make_problem(problem *pp, size_t n, size_t d, size_t m, ntk_kernel_source src,
                         uint64_t seed)
{
    problem p = {.n = n, .d = d, .m = m};
    p.X = malloc(n * d * sizeof(double)), p.K = malloc(n * n * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    ntk_rng_normal_fill(&rng, p.X, n * d);
    p.cfg = ntk_net_config_default(d, m);
    CHECK_OK(ntk_net_create(&p.cfg, &p.net));
    *pp = p;
    pp->kd = ntk_kernel_desc_default(src, &pp->cfg);
    if (p.net) pp->kd.W = ntk_net_W0(p.net), pp->kd.v = ntk_net_v0(p.net);
    CHECK_OK(ntk_kernel(&pp->kd, p.X, n, NULL, 0, p.K));
}

static void free_problem(problem *p) { free(p->X), free(p->K), ntk_net_free(p->net); }

/* K − F Fᵀ is positive semi-definite with trace *trace_err: its smallest
 * eigenvalue is ≥ −(rounding of the factorisation, R_n·λmax, and of the
 * product F Fᵀ, R_r·‖F‖²) and its trace equals the reported one up to the
 * rounding of n diagonal sums, R_r·trace K. With rank n the residual trace
 * falls below rtol·trace K (the early stop) up to the same rounding. */
static void test_rpcholesky(void)
{
    const size_t n = 150;
    problem p;
    make_problem(&p, n, 4, 30, NTK_KERNEL_INFINITE, 5);
    ntk_op_mode modes[2] = {NTK_OP_DENSE, NTK_OP_MATRIX_FREE};
    size_t ranks[3] = {10, 64, n};
    double *F = malloc(n * n * sizeof(double)), *E = malloc(n * n * sizeof(double));
    double *w = malloc(n * sizeof(double));
    double trace = 0.0, lmax;
    for (size_t i = 0; i < n; i++) trace += p.K[i * n + i];
    ntk_eigh(p.K, n, w, NULL);
    lmax = w[n - 1];
    for (size_t mi = 0; mi < 2; mi++) {
        ntk_op *op = NULL;
        CHECK_OK(ntk_op_create(&p.kd, p.X, n, modes[mi], mi ? 30000 : 0, &op));
        for (size_t ri = 0; op && ri < 3; ri++) {
            size_t r = ranks[ri], got = 0;
            double terr = -1.0, rtol = ri == 2 ? 1e-10 : 0.0;
            CHECK_OK(ntk_op_rpcholesky(op, r, rtol, 7, F, &got, &terr));
            CHECK(got >= 1 && got <= r, "%s rank %zu: got %zu", ntk_op_mode_name(modes[mi]), r, got);
            memcpy(E, p.K, n * n * sizeof(double));
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)r, -1.0, F,
                        (int)r, F, (int)r, 1.0, E, (int)n);
            double tr = 0.0;
            for (size_t i = 0; i < n; i++) tr += E[i * n + i];
            ntk_eigh(E, n, w, NULL);
            CHECK_LE(-w[0], R_n(n) * lmax + R_n(r) * trace, "%s rank %zu: λ_min(K − FFᵀ) = %g",
                     ntk_op_mode_name(modes[mi]), r, w[0]);
            CHECK_LE(fabs(tr - terr), R_n(n) * trace, "%s rank %zu: trace %g vs reported %g",
                     ntk_op_mode_name(modes[mi]), r, tr, terr);
            if (ri == 2)
                CHECK_LE(terr, rtol * trace + R_n(n) * trace, "%s: full rank leaves trace %g",
                         ntk_op_mode_name(modes[mi]), terr);
            else
                CHECK(got == r, "%s: rank %zu reached %zu", ntk_op_mode_name(modes[mi]), r, got);
        }
        /* more columns explain more: the trace error falls with the rank */
        double t10 = 0, t64 = 0;
        size_t g = 0;
        CHECK_OK(ntk_op_rpcholesky(op, 10, 0.0, 3, F, &g, &t10));
        CHECK_OK(ntk_op_rpcholesky(op, 64, 0.0, 3, F, &g, &t64));
        CHECK(t64 < t10, "trace error %g at rank 64 not below %g at rank 10", t64, t10);
        CHECK_ERR(ntk_op_rpcholesky(op, 0, 0.0, 3, F, &g, NULL), NTK_ERR_ARG);
        CHECK_ERR(ntk_op_rpcholesky(op, n + 1, 0.0, 3, F, &g, NULL), NTK_ERR_ARG);
        ntk_op_free(op);
    }
    free(F), free(E), free(w);
    free_problem(&p);
}

/* PCG against dposv. With the true residual r_j = y_j − (K + μI)a_j,
 * ‖a_j − a*_j‖₂ ≤ ‖r_j‖₂/(λ_min + μ); the CG stops at ‖r_j‖ ≤ rtol‖y_j‖ as
 * measured through the operator, whose product differs from the dense one
 * by R_len·‖K‖·‖a_j‖ (tests/test_operator.c's bound, len = n + m + d), and
 * dposv's solution carries R_n·κ·‖a*_j‖ (backward stable Cholesky).
 * Float32 storage adds its 2^-24 relative rounding of every entry. */
static void check_pcg(problem *p, ntk_op_mode mode, double mu, size_t rank, size_t k,
                      size_t *iters_out)
{
    size_t n = p->n, len = n + p->m + p->d;
    double *Y = malloc(n * k * sizeof(double)), *A = malloc(n * k * sizeof(double));
    double *B = malloc(n * k * sizeof(double)), *w = malloc(n * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 11);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            Y[i * k + j] = j == 0 ? sin(2.0 * p->X[i * p->d]) : ntk_rng_normal(&rng);
    ntk_eigh(p->K, n, w, NULL);
    double lmin = fmax(w[0], 0.0) + mu, lmax = w[n - 1] + mu;
    CHECK_OK(ntk_kernel_ridge(p->K, n, Y, k, mu, B));
    ntk_op *op = NULL;
    CHECK_OK(ntk_op_create(&p->kd, p->X, n, mode, mode == NTK_OP_MATRIX_FREE ? 200000 : 0, &op));
    ntk_cg_config c = ntk_cg_config_default();
    c.rtol = 1e-10, c.precond_rank = rank, c.max_iter = 5000;
    ntk_cg_info info;
    CHECK_OK(ntk_kernel_ridge_op(op, Y, k, mu, &c, A, &info));
    CHECK_LE(info.residual, c.rtol, "%s rank %zu: reported residual", ntk_op_mode_name(mode), rank);
    if (rank) CHECK(info.precond_rank >= 1, "no preconditioner built");
    for (size_t j = 0; j < k; j++) {
        double yn = col_norm(Y, n, k, j), an = col_norm(A, n, k, j), bn = col_norm(B, n, k, j);
        double e = 0.0;
        for (size_t i = 0; i < n; i++) e += (A[i * k + j] - B[i * k + j]) * (A[i * k + j] - B[i * k + j]);
        /* float32 storage perturbs K by at most 2^-24·‖|K|‖ = 2^-24·λmax
         * (nonnegative entries) */
        double op_err = R_n(len) + (mode == NTK_OP_DENSE_F32 ? 0x1p-24 : 0.0);
        double tol = (c.rtol * yn + op_err * lmax * an) / lmin + R_n(n) * (lmax / lmin) * bn;
        CHECK_LE(sqrt(e), tol, "%s mu=%g rank %zu column %zu: ‖A − A*‖ (%zu iterations)",
                 ntk_op_mode_name(mode), mu, rank, j, info.iterations);
    }
    printf("pcg %s mu=%g rank %zu k=%zu: %zu iterations, residual %.2g, precond rank %zu trace err %.3g\n", ntk_op_mode_name(mode), mu, rank, k, info.iterations, info.residual, info.precond_rank, info.precond_trace_err);
    *iters_out = info.iterations;
    ntk_op_free(op);
    free(Y), free(A), free(B), free(w);
}

static void test_pcg(void)
{
    problem pi, pe;
    make_problem(&pi, 300, 5, 40, NTK_KERNEL_INFINITE, 21);
    make_problem(&pe, 300, 5, 40, NTK_KERNEL_EMPIRICAL, 22);
    size_t it0 = 0, it1 = 0, it;
    double mu = 1e-3;
    check_pcg(&pi, NTK_OP_DENSE, mu, 0, 3, &it0);
    check_pcg(&pi, NTK_OP_DENSE, mu, 60, 3, &it1);
    /* the preconditioner's purpose: on this kernel (fast spectral decay,
     * κ ≈ λmax/μ ~ 1e4) rank 60 removes the top of the spectrum */
    CHECK(it1 < it0, "preconditioned %zu iterations, plain %zu", it1, it0);
    check_pcg(&pi, NTK_OP_MATRIX_FREE, mu, 60, 3, &it);
    check_pcg(&pi, NTK_OP_DENSE_F32, 1.0, 30, 1, &it);
    check_pcg(&pe, NTK_OP_MATRIX_FREE, mu, 60, 2, &it);
    check_pcg(&pe, NTK_OP_DENSE, 0.1, 0, 1, &it);
    free_problem(&pi), free_problem(&pe);
}

/* Bad arguments, a zero column, the iteration limit and the cancel flag. */
static void test_pcg_errors(void)
{
    problem p;
    make_problem(&p, 60, 3, 10, NTK_KERNEL_INFINITE, 31);
    size_t n = 60;
    double Y[120], A[120];
    for (size_t i = 0; i < n; i++) Y[2 * i] = sin(p.X[3 * i]), Y[2 * i + 1] = 0.0;
    ntk_op *op = NULL;
    CHECK_OK(ntk_op_create(&p.kd, p.X, n, NTK_OP_DENSE, 0, &op));
    ntk_cg_config c = ntk_cg_config_default();
    ntk_cg_info info;
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 2, -1.0, &c, A, &info), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 0, 1.0, &c, A, &info), NTK_ERR_ARG);
    c.rtol = 0.0;
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 2, 1.0, &c, A, &info), NTK_ERR_ARG);
    c = ntk_cg_config_default();
    CHECK_OK(ntk_kernel_ridge_op(op, Y, 2, 1e-2, &c, A, &info));
    double z = 0.0;
    for (size_t i = 0; i < n; i++) z = fmax(z, fabs(A[2 * i + 1]));
    CHECK(z == 0.0, "a zero target column gives zero coefficients, got %g", z);
    c.max_iter = 2;
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 2, 1e-6, &c, A, &info), NTK_ERR_NOCONV);
    CHECK(strstr(ntk_errmsg(), "iteration") != NULL, "%s", ntk_errmsg());
    CHECK(info.iterations == 2 && info.residual > c.rtol, "info %zu %g", info.iterations, info.residual);
    /* a preconditioner built once gives what the per-call one gives (same
     * seed, same operations: equal bit for bit) */
    double B[120];
    ntk_nystrom *pn = NULL;
    c = ntk_cg_config_default();
    c.precond_rank = 20;
    CHECK_OK(ntk_kernel_ridge_op(op, Y, 2, 1e-2, &c, A, &info));
    CHECK_OK(ntk_nystrom_create(op, 20, c.seed, &pn));
    CHECK(ntk_nystrom_rank(pn) == info.precond_rank, "rank %zu vs %zu", ntk_nystrom_rank(pn), info.precond_rank);
    c.precond = pn;
    CHECK_OK(ntk_kernel_ridge_op(op, Y, 2, 1e-2, &c, B, &info));
    CHECK(memcmp(A, B, sizeof A) == 0, "a reused preconditioner changed the solution");
    ntk_nystrom_free(pn);
    volatile int stop = 1;
    c = ntk_cg_config_default();
    c.cancel = &stop;
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 2, 1e-2, &c, A, &info), NTK_ERR_INTERRUPTED);
    Y[3] = NAN;
    c.cancel = NULL;
    CHECK_ERR(ntk_kernel_ridge_op(op, Y, 2, 1e-2, &c, A, &info), NTK_ERR_NONFINITE);
    ntk_op_free(op);
    free_problem(&p);
}

int main(void)
{
    test_rpcholesky();
    test_pcg();
    test_pcg_errors();
    return t_finish();
}
