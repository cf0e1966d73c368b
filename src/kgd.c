/* Kernel gradient descent in closed form (docs/theory.md §6) and kernel ridge
 * regression.
 *
 * The kernel model is trained by GD on the loss L = c/2·Σ (u_i − y_i)²
 * (c = ntk_loss_scale: 1/n mean, 1 sum) with rate η, so each step moves
 *   u      ← u      − cη K      (u − y)                         (train, n)
 *   f_test ← f_test − cη K_test (u − y)                         (test, nt)
 * With e(t) = u(t) − y and K = QΛQᵀ, e(t) = Q diag(ρ_k^t) Qᵀ e(0),
 * ρ_k = 1 − cηλ_k. Summing the test updates over steps 0..t−1:
 *   f_test(t) = f_test(0) − cη K_test Q diag(Σ_{τ<t} ρ_k^τ) Qᵀ e(0)
 *             = f_test(0) + K_test Q diag(h_k) Qᵀ (y − u(0)),
 *   h_k = cη (1 − ρ_k^t)/(1 − ρ_k) = (1 − (1 − cηλ_k)^t)/λ_k,
 * so the factor cη cancels for λ_k ≠ 0 and reappears in the limit
 * h_k → t·cη as λ_k → 0. Gradient flow, de/dt = −cηK e, gives
 * e(t) = Q diag(e^{−cηλ_k t}) Qᵀ e(0) and, integrating the test update,
 *   h_k = cη ∫_0^t e^{−cηλ_k t'} dt' = (1 − e^{−cηλ_k t})/λ_k  (→ t·cη).
 * Setting K_test = K recovers the training formula, so test and training
 * predictions are the same kernel model.
 *
 * Both predictions are functions of K applied to the one vector
 * r0 = y − u(0):  u(t) = y − g_t(K) r0 and f_test(t) = f_test(0) +
 * K_test h_t(K) r0, with g_t(λ) = (1 − cηλ)^t or e^{−cηλt} and
 * h_t(λ) = (1 − g_t(λ))/λ. Two ways to apply them:
 *
 * EIG: K = QΛQᵀ once (dsyevd, O(n³), memory-bound beyond a few thousand),
 *   then f(K) r0 = Q (f(Λ) ⊙ Qᵀ r0), O(n²) per time.
 *
 * KRYLOV (Lanczos): an orthonormal basis V_k = [v_0 … v_{k−1}] (n,k) of
 *   span{r0, K r0, …, K^{k−1} r0}, v_0 = r0/‖r0‖, built by
 *     w = K v_j,  α_j = v_jᵀ w,  w ← (I − V_{j+1} V_{j+1}ᵀ) w  (twice),
 *     β_j = ‖w‖,  v_{j+1} = w/β_j,
 *   i.e. classical Gram–Schmidt against every earlier vector, repeated
 *   ("twice is enough"), so V_k stays orthonormal to rounding and
 *     K V_k = V_k T_k + β_{k−1} v_k e_kᵀ,   T_k = tridiag(β, α, β) = V_kᵀ K V_k.
 *   With T_k = S Θ Sᵀ (dstevd) the Lanczos approximation is
 *     f(K) r0 ≈ ‖r0‖ V_k f(T_k) e_1 = V_k S (f(Θ) ⊙ ‖r0‖ Sᵀe_1),
 *   exact for polynomials f of degree < k and, once K_{k}(K, r0) is an
 *   invariant subspace (β_{k−1} = 0), for every f. K is read once per
 *   iteration (dsymv) and is not needed afterwards; a prediction costs
 *   O(nk + k²). The Ritz values Θ lie in [λ_min, λ_max].
 *
 * Stopping rule (KRYLOV). Individual interior Ritz pairs of a kernel's bulk
 * spectrum do not converge until k ~ n, yet smooth functions of K applied
 * to r0 do, so the rule watches the functions themselves: every
 * KGD_CHECK_EVERY iterations the approximations of the whole family
 *   g_t, h_t  for t on a geometric grid t_j = 2^j/(cη θ_max), j ≥ −2 (GD:
 *   integers t ≥ 1), up to the caller's horizon t_max or to cη θ_min⁺ t ≥ 40
 *   where every nonzero Ritz mode has decayed (θ_min⁺: smallest Ritz value
 *   above the zero threshold), whichever comes first,
 *   for gradient flow and, when 0 ≤ cηθ ≤ 2 for all Ritz values, for GD,
 * are compared with those of the previous check, k' = k − KGD_CHECK_EVERY:
 *   err_g(t) = ‖g_t(T_k) e_1 − [g_t(T_k') e_1; 0]‖₂,
 *   err_h(t) = ‖h_t(T_k) e_1 − [h_t(T_k') e_1; 0]‖_{|T_k|} · √(max_i K_ii).
 * err_g is the train error relative to ‖r0‖ (V_k has orthonormal columns).
 * err_h uses the kernel norm ‖x‖_K = √(xᵀKx) = √(zᵀ T_k z) for x = V_k z:
 * a test prediction is k(x,·) evaluated at x, and |Σ_i a_i k(x_i,x)| ≤
 * ‖a‖_K √k(x,x) (Cauchy–Schwarz in the RKHS), so err_h bounds the change
 * of every test prediction with k(x,x) ≤ max K_ii, again relative to ‖r0‖.
 * The difference between successive approximations estimates the error of
 * the older one (a standard a posteriori estimate for Krylov
 * approximations of f(K)b), and the newer one is kept. Iteration stops when
 *   (i)  β_j ≤ 1e-14 ‖T‖ (invariant subspace: exact, err_est = 0), or
 *   (ii) max_t max(err_g, err_h) ≤ KGD_KRYLOV_RTOL and the top Ritz pair
 *        has converged, β_{k−1}|s_{k,k}| ≤ KGD_LMAX_RTOL θ_max (its Ritz
 *        value is then within min(ρ, ρ²/gap) of an eigenvalue), or
 *   (iii) k = k_max = min(n, KGD_KRYLOV_KMAX) (k = n: exact);
 * ntk_kgd_info reports k and the last estimate. Without a horizon the test
 * family tends to K⁺r0 (h_∞ = 1/λ), the conjugate-gradient solution, whose
 * K-norm error the estimate measures; for an ill-conditioned or
 * rank-deficient K (an empirical NTK with n > #parameters) that needs
 * k ~ √cond ≫ 600, whereas any finite horizon is cheap, hence t_max.
 * The estimate is pessimistic (it belongs to the older approximation): on
 * relu NTKs (n = 600…6000) and random spectra it met 1e-10 at k = 90…220
 * while the kept approximation agreed with EIG to 1e-12·max|y|. */
#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Eigenvalues with |λ| below this fraction of max |λ| count as 0. */
#define KGD_ZERO_RTOL 1e-12
/* AUTO picks EIG for n up to this size, KRYLOV above. */
#define KGD_EIG_MAX_N NTK_KGD_EIG_MAX_N
/* Krylov: dimension cap, target of the error estimate, top Ritz residual,
 * invariant-subspace threshold and the stride between convergence checks. */
#define KGD_KRYLOV_KMAX NTK_KGD_KRYLOV_KMAX
#define KGD_KRYLOV_RTOL 1e-10
#define KGD_LMAX_RTOL 1e-8
#define KGD_INVARIANT_RTOL 1e-14
#define KGD_CHECK_EVERY 10
/* Geometric time grid of the stopping rule: first exponent, last one, and
 * the decay cη θ_min⁺ t at which it ends. */
#define KGD_GRID_J0 (-2)
#define KGD_GRID_JMAX 60
#define KGD_GRID_DECAY 40.0

struct ntk_kgd {
    ntk_kgd_method method;   /* EIG or KRYLOV, never AUTO */
    size_t n, k;             /* k = n (EIG) or the Krylov dimension */
    double ceta;             /* c·η */
    double lam_tol;          /* |λ| <= lam_tol is treated as 0 */
    double err_est;          /* KRYLOV: last error estimate (0: exact) */
    double t_max;            /* KRYLOV: predictions allowed for t <= t_max */
    double *lam;             /* (k) ascending: eigenvalues or Ritz values */
    double *B;               /* EIG: Q (n,n), eigenvector j in column j;
                                KRYLOV: V_kᵀ (k,n), Lanczos vector j in row j */
    double *U;               /* KRYLOV: (k,k), row i = eigenvector i of T_k (column
                                i of S); NULL for EIG */
    double *c;               /* (k) Qᵀ r0, or ‖r0‖ Sᵀ e_1 */
    double *y;               /* (n) */
    double *mem;             /* the block holding lam, c (and U) */
    int allow_unstable;      /* GD predictions with cη λ_max > 2 allowed */
};

/* Argument checks shared by both methods; fn names the caller. */
static ntk_status kgd_check_args(const double *K, size_t n, const double *y, const double *u0,
                                 double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                 const char *fn)
{
    if (!K || !y || !u0)
        return ntk_set_error(NTK_ERR_ARG, "%s: K, y and u0 must not be NULL", fn);
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "%s: n = 0; pass training points", fn);
    if (n > (size_t)INT32_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "%s: n = %zu is too large for BLAS", fn, n);
    if (!isfinite(lr) || lr < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: learning rate %g must be finite and >= 0", fn,
                             lr);
    if (loss != NTK_LOSS_MEAN && loss != NTK_LOSS_SUM)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown loss %d; use mean or sum", fn,
                             (int)loss);
    if (method != NTK_KGD_AUTO && method != NTK_KGD_EIG && method != NTK_KGD_KRYLOV)
        return ntk_set_error(NTK_ERR_ARG, "%s: unknown method %d; use auto, eig or krylov", fn,
                             (int)method);
    NTK_TRY(ntk_check_finite(y, n, "y"));
    NTK_TRY(ntk_check_finite(u0, n, "u0"));
    return NTK_OK;
}

/* EIG: K = QΛQᵀ (dsyevd) and c = Qᵀ (y − u0); g->y holds y. */
static ntk_status kgd_create_eig(ntk_kgd *g, const double *K, const double *u0)
{
    size_t n = g->n;
    NTK_TRY(ntk_mem_check(ntk_size_mul(n, n + 3, 1, sizeof(double)), 0,
                          "kernel GD eigendecomposition"));
    g->mem = ntk_alloc(2 * n, sizeof(double), "kernel GD eigenvalues");
    g->B = ntk_alloc(n * n, sizeof(double), "kernel GD eigenvectors");
    double *r0 = ntk_alloc(n, sizeof(double), "kernel GD residual");
    if (!g->mem || !g->B || !r0) {
        free(r0);
        return NTK_ERR_NOMEM;
    }
    g->lam = g->mem;
    g->c = g->mem + n;
    g->k = n;
    ntk_status st = ntk_eigh(K, n, g->lam, g->B);
    if (st == NTK_OK) {
        // c = Qᵀ r0, r0 = y − u0
        memcpy(r0, g->y, n * sizeof(double));
        cblas_daxpy((int)n, -1.0, u0, 1, r0, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, g->B, (int)n, r0, 1, 0.0,
                    g->c, 1);
    }
    free(r0);
    return st;
}

/* Mode λ at time t -> *gk = residual factor (1 − cηλ)^t (or e^{−cηλt}) and
 * *hk = (1 − *gk)/λ, with the λ → 0 limit t·cη (|λ| <= lam_tol). expm1 and
 * log1p keep both accurate when cηλ is small. */
static ntk_status kgd_factor(double lam, double lam_tol, double ceta, double t, int flow,
                             double *gk, double *hk)
{
    double x = ceta * lam;
    if (fabs(lam) <= lam_tol) {
        *gk = 1.0;
        *hk = t * ceta;
        return NTK_OK;
    }
    if (flow || x < 1.0) {
        // docs/theory.md §6.1: ρ^t = exp(t·log(1 − cηλ)) for GD, exp(−cηλt) for flow
        double L = flow ? -x * t : t * log1p(-x);
        *gk = exp(L);
        *hk = -expm1(L) / lam;
        return NTK_OK;
    }
    if (t != floor(t))
        return ntk_set_error(NTK_ERR_ARG,
                             "kernel GD: non-integer t = %g with 1 - c*lr*lambda = %g <= 0 "
                             "(oscillating mode); pass an integer step count or a smaller lr",
                             t, 1.0 - x);
    *gk = pow(1.0 - x, t);
    *hk = (1.0 - *gk) / lam;
    return NTK_OK;
}

/* ---- Krylov (Lanczos) construction ------------------------------------ */

/* Eigendecomposition of a tridiagonal T_k: Ritz values theta (k) ascending
 * and U (k,k) with row i = eigenvector i (column i of S). */
typedef struct {
    size_t k;
    double *theta, *U;
} kgd_ritz;

/* alpha (k) diagonal, beta (k−1) off-diagonal of T_k -> r (dstevd);
 * e: k scratch. */
static ntk_status ritz_decompose(size_t k, const double *alpha, const double *beta, double *e,
                                 kgd_ritz *r)
{
    memcpy(r->theta, alpha, k * sizeof(double));
    if (k > 1) memcpy(e, beta, (k - 1) * sizeof(double));
    // column-major Z with ldz = k stores eigenvector i contiguously: row i of U
    lapack_int info = LAPACKE_dstevd(LAPACK_COL_MAJOR, 'V', (lapack_int)k, r->theta, e, r->U,
                                     (lapack_int)k);
    if (info != 0)
        return ntk_set_error(info == LAPACK_WORK_MEMORY_ERROR ? NTK_ERR_NOMEM : NTK_ERR_LAPACK,
                             "kernel GD (Krylov): dstevd failed (info = %d) on the %zu x %zu "
                             "Lanczos matrix; use the eig method",
                             (int)info, k, k);
    r->k = k;
    return NTK_OK;
}

/* Scratch of the error estimate: time grid and the (k, 2·npts) tables. */
typedef struct {
    size_t cap;                 /* grid points at most */
    double *t;                  /* (cap) times */
    int *flow;                  /* (cap) 1: flow, 0: GD */
    double *F, *Fp, *Cp;        /* (kmax, 2·cap) each */
} kgd_est_work;

/* The time grid of the stopping rule for the Ritz values of cur (see the
 * file comment), ending at t_max; returns the number of points. */
static size_t est_grid(const kgd_ritz *cur, double ceta, double lam_tol, double t_max,
                       kgd_est_work *ws)
{
    size_t k = cur->k;
    double th_lo = cur->theta[0], th_hi = cur->theta[k - 1];
    double th_abs = fmax(fabs(th_lo), fabs(th_hi)), th_pos = INFINITY;
    for (size_t i = 0; i < k; i++)
        if (cur->theta[i] > lam_tol) {
            th_pos = cur->theta[i];
            break;
        }
    // GD is in the family when every Ritz mode is stable, 0 <= cηθ <= 2
    int gd = th_lo >= -lam_tol && ceta * th_hi <= 2.0;
    size_t np = 0;
    double last_gd = 0.0;
    for (int j = KGD_GRID_J0; j <= KGD_GRID_JMAX && np + 2 <= ws->cap; j++) {
        double t = fmin(ldexp(1.0, j) / (ceta * th_abs), t_max);
        ws->t[np] = t;
        ws->flow[np++] = 1;
        double tg = fmax(1.0, floor(t));
        if (gd && tg != last_gd) {
            ws->t[np] = tg;
            ws->flow[np++] = 0;
            last_gd = tg;
        }
        if (t >= t_max || ceta * th_pos * t >= KGD_GRID_DECAY) break;
        // an indefinite K grows like e^{cη|θ_min|t}: stop before it matters
        if (th_lo < -lam_tol && ceta * -th_lo * t >= 1.0) break;
    }
    return np;
}

/* F (r.k, 2·np): column 2p = g_{t_p}(θ_i)·S_{1i}, column 2p+1 = h_{t_p}(θ_i)·S_{1i},
 * i.e. f(Θ) Sᵀ e_1 for the grid's functions. */
static void est_table(const kgd_ritz *r, const kgd_est_work *ws, size_t np, double ceta,
                      double lam_tol, double *F)
{
    size_t ng = 2 * np;
    for (size_t i = 0; i < r->k; i++) {
        double s1 = r->U[i * r->k];
        for (size_t p = 0; p < np; p++) {
            double gk, hk;
            // grid GD times are integers, so kgd_factor cannot fail here
            if (kgd_factor(r->theta[i], lam_tol, ceta, ws->t[p], ws->flow[p], &gk, &hk) !=
                NTK_OK)
                gk = hk = NAN;
            F[i * ng + 2 * p] = gk * s1;
            F[i * ng + 2 * p + 1] = hk * s1;
        }
    }
}

/* The stopping rule's estimate max_t max(err_g, err_h) between the
 * approximations of cur (k) and prev (k' < k); diag_scale = √(max K_ii). */
static double est_error(const kgd_ritz *cur, const kgd_ritz *prev, double ceta,
                        double lam_tol, double t_max, double diag_scale, kgd_est_work *ws)
{
    size_t k = cur->k, kp = prev->k;
    if (ceta == 0.0 || fmax(fabs(cur->theta[0]), fabs(cur->theta[k - 1])) <= lam_tol)
        return 0.0;   // g ≡ 1, h ≡ t·cη: exact in any Krylov space of r0
    size_t np = est_grid(cur, ceta, lam_tol, t_max, ws), ng = 2 * np;
    est_table(cur, ws, np, ceta, lam_tol, ws->F);
    est_table(prev, ws, np, ceta, lam_tol, ws->Fp);
    // Cp = S' F' (k',ng): the older approximations in the Lanczos basis;
    // F − Sᵀ [Cp; 0] (k,ng): their difference in the Ritz basis of T_k
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kp, (int)ng, (int)kp, 1.0,
                prev->U, (int)kp, ws->Fp, (int)ng, 0.0, ws->Cp, (int)ng);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)ng, (int)kp, -1.0,
                cur->U, (int)k, ws->Cp, (int)ng, 1.0, ws->F, (int)ng);
    double worst = 0.0;
    for (size_t col = 0; col < ng; col++) {
        int is_h = (int)(col & 1);
        double ss = 0.0;
        for (size_t i = 0; i < k; i++) {
            double d = ws->F[i * ng + col];
            // ‖·‖₂ for g; ‖·‖_{|T_k|} = √(Σ |θ_i| d_i²) for h
            ss += is_h ? fabs(cur->theta[i]) * d * d : d * d;
        }
        double e = sqrt(ss) * (is_h ? diag_scale : 1.0);
        if (!(e <= worst)) worst = e;   // NaN propagates
    }
    return worst;
}

/* KRYLOV: Lanczos with full reorthogonalisation from r0 = y − u0 (file
 * comment), stopped by the rule there. */
static ntk_status kgd_create_krylov(ntk_kgd *g, const double *K, const double *u0)
{
    size_t n = g->n, kmax = n < KGD_KRYLOV_KMAX ? n : KGD_KRYLOV_KMAX;
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    size_t cap = 2 * (size_t)(KGD_GRID_JMAX - KGD_GRID_J0 + 1);
    // V (kmax+1, n); α, β, h, e (kmax each); two Ritz sets (kmax + kmax²);
    // the estimate's F, Fp, Cp (kmax × 2cap each) and t (cap)
    size_t small = 4 * kmax + 2 * (kmax + kmax * kmax) + 3 * kmax * 2 * cap + cap;
    size_t vcount = ntk_size_mul(kmax + 1, n, 1, 1);
    size_t bytes = ntk_size_mul(vcount + small, sizeof(double), 1, 1);
    NTK_TRY(ntk_mem_check(bytes, 0, "the Krylov basis of kernel GD"));
    double *V = ntk_alloc(vcount, sizeof(double), "Krylov basis");
    double *s = ntk_alloc(small, sizeof(double), "Lanczos scratch");
    int *flw = ntk_alloc(cap, sizeof(int), "Lanczos scratch");
    if (!V || !s || !flw) {
        free(V), free(s), free(flw);
        return NTK_ERR_NOMEM;
    }
    double *alpha = s, *beta = alpha + kmax, *h = beta + kmax, *e = h + kmax;
    kgd_ritz cur = {0, e + kmax, e + 2 * kmax};
    kgd_ritz prev = {0, cur.U + kmax * kmax, cur.U + kmax * kmax + kmax};
    kgd_est_work ws = {cap, prev.U + kmax * kmax, flw, NULL, NULL, NULL};
    ws.F = ws.t + cap;
    ws.Fp = ws.F + kmax * 2 * cap;
    ws.Cp = ws.Fp + kmax * 2 * cap;

    double maxdiag = 0.0;
    for (size_t i = 0; i < n; i++) maxdiag = fmax(maxdiag, fabs(K[i * n + i]));
    // v_0 = r0/‖r0‖; r0 = 0 leaves nothing to approximate (c = 0), and a fixed
    // pseudo-random start still gives the extreme Ritz values
    memcpy(V, g->y, n * sizeof(double));
    cblas_daxpy((int)n, -1.0, u0, 1, V, 1);
    double rnorm = cblas_dnrm2((int)n, V, 1);
    if (rnorm == 0.0) {
        ntk_rng rng;
        ntk_rng_seed(&rng, 0x6b7279u);
        ntk_rng_normal_fill(&rng, V, n);
    }
    cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, V, 1), V, 1);

    ntk_status st = NTK_OK;
    double normest = 0.0, err = INFINITY;
    size_t k = 0;
    for (int done = 0; !done && st == NTK_OK;) {
        size_t j = k;
        double *vj = V + j * n, *w = vj + n;
        cblas_dsymv(CblasRowMajor, CblasLower, (int)n, 1.0, K, (int)n, vj, 1, 0.0, w, 1);
        // w ← (I − V Vᵀ) w twice (classical Gram–Schmidt); α_j = v_jᵀ K v_j
        double a = 0.0;
        for (int pass = 0; pass < 2; pass++) {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)n, 1.0, V, (int)n, w, 1,
                        0.0, h, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)(j + 1), (int)n, -1.0, V, (int)n, h, 1,
                        1.0, w, 1);
            a += h[j];
        }
        double b = cblas_dnrm2((int)n, w, 1);
        alpha[j] = a;
        beta[j] = b;
        k = j + 1;
        // ‖T‖ <= max_j (|α_j| + β_{j−1} + β_j) (Gershgorin)
        normest = fmax(normest, fabs(a) + b + (j ? beta[j - 1] : 0.0));
        int invariant = b <= KGD_INVARIANT_RTOL * normest;
        if (!invariant) cblas_dscal((int)n, 1.0 / b, w, 1);
        if (!invariant && k < kmax && k % KGD_CHECK_EVERY != 0) continue;
        kgd_ritz tmp = prev;
        prev = cur;
        cur = tmp;
        st = ritz_decompose(k, alpha, beta, e, &cur);
        if (st != NTK_OK) break;
        if (invariant || k == n) {
            err = 0.0;   // K_k(K, r0) is invariant (or all of R^n): exact
            break;
        }
        if (prev.k > 0) {
            double lam_tol = KGD_ZERO_RTOL * fmax(fabs(cur.theta[0]), fabs(cur.theta[k - 1]));
            err = est_error(&cur, &prev, g->ceta, lam_tol, g->t_max, sqrt(maxdiag), &ws);
            // residual of the top Ritz pair: ‖K y − θ y‖ = β_{k−1} |s_{k,k}|
            double rho = b * fabs(cur.U[(k - 1) * k + (k - 1)]);
            done = err <= KGD_KRYLOV_RTOL && rho <= KGD_LMAX_RTOL * fabs(cur.theta[k - 1]);
        }
        if (k == kmax) done = 1;
    }
    if (st == NTK_OK && !(isfinite(normest) && isfinite(err)))
        st = ntk_set_error(NTK_ERR_NONFINITE,
                           "kernel GD (Krylov): the Lanczos recurrence became non-finite; "
                           "check K for extreme values");
    if (st == NTK_OK) {
        // keep V_k (k,n), Θ (k), U (k,k) and c = ‖r0‖ Sᵀ e_1
        g->mem = ntk_alloc(2 * k + k * k, sizeof(double), "kernel GD Ritz values");
        if (!g->mem) st = NTK_ERR_NOMEM;
    }
    if (st == NTK_OK) {
        g->k = k;
        g->lam = g->mem;
        g->c = g->lam + k;
        g->U = g->c + k;
        memcpy(g->lam, cur.theta, k * sizeof(double));
        memcpy(g->U, cur.U, k * k * sizeof(double));
        for (size_t i = 0; i < k; i++) g->c[i] = rnorm * g->U[i * k];
        g->err_est = err;
        double *Vk = realloc(V, k * n * sizeof(double));   // shrink; keep V if refused
        g->B = Vk ? Vk : V;
        V = NULL;
    }
    free(V), free(s), free(flw);
    return st;
}

/* The refusal of GD with an unstable rate: the modes with cηλ > 2 grow as
 * |1 − cηλ|^t, so the predictions blow up instead of converging. */
static ntk_status kgd_unstable(const ntk_kgd *g)
{
    double lmax = g->lam[g->k - 1];
    return ntk_set_error(NTK_ERR_ARG,
                         "kernel GD with this rate is unstable: c*lr*lambda_max = %.4g > 2, so "
                         "the modes above lambda = 2/(c*lr) grow without bound; use a learning "
                         "rate below %.4g times the current one, or allow the unstable "
                         "dynamics explicitly",
                         g->ceta * lmax, 2.0 / (g->ceta * lmax));
}

ntk_kgd_config ntk_kgd_config_default(void)
{
    ntk_kgd_config c;
    memset(&c, 0, sizeof c);
    c.lr = 1.0;
    c.loss = NTK_LOSS_MEAN;
    c.method = NTK_KGD_AUTO;
    return c;
}

ntk_status ntk_kgd_create(const double *K, size_t n, const double *y, const double *u0,
                          const ntk_kgd_config *cfg, ntk_kgd **out)
{
    const char *fn = "ntk_kgd_create";
    ntk_clear_error();
    if (!out) return ntk_set_error(NTK_ERR_ARG, "%s: out must not be NULL", fn);
    *out = NULL;
    if (!cfg) return ntk_set_error(NTK_ERR_ARG, "%s: the configuration is NULL", fn);
    ntk_kgd_method method = cfg->method;
    double t_max = cfg->t_max;
    NTK_TRY(kgd_check_args(K, n, y, u0, cfg->lr, cfg->loss, method, fn));
    if (!(t_max >= 0.0))
        return ntk_set_error(NTK_ERR_ARG, "%s: t_max = %g must be >= 0 (0: every t)", fn, t_max);
    if (method == NTK_KGD_AUTO) method = n <= KGD_EIG_MAX_N ? NTK_KGD_EIG : NTK_KGD_KRYLOV;

    ntk_kgd *g = ntk_calloc(1, sizeof *g, "kernel GD");
    if (!g) return NTK_ERR_NOMEM;
    g->method = method;
    g->n = n;
    g->ceta = ntk_loss_scale(cfg->loss, n) * cfg->lr;
    g->allow_unstable = cfg->allow_unstable;
    g->t_max = t_max > 0.0 && method == NTK_KGD_KRYLOV ? t_max : INFINITY;
    g->y = ntk_alloc(n, sizeof(double), "kernel GD targets");
    ntk_status st = g->y ? NTK_OK : NTK_ERR_NOMEM;
    if (st == NTK_OK) {
        memcpy(g->y, y, n * sizeof(double));
        st = method == NTK_KGD_EIG ? kgd_create_eig(g, K, u0) : kgd_create_krylov(g, K, u0);
    }
    if (st == NTK_OK && !cfg->flow && !cfg->allow_unstable &&
        g->ceta * g->lam[g->k - 1] > 2.0)
        st = kgd_unstable(g);
    if (st != NTK_OK) {
        ntk_kgd_free(g);
        return st;
    }
    g->lam_tol = KGD_ZERO_RTOL * fmax(fabs(g->lam[0]), fabs(g->lam[g->k - 1]));
    *out = g;
    return NTK_OK;
}

ntk_status ntk_kgd_create_method(const double *K, size_t n, const double *y, const double *u0,
                                 double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                 double t_max, ntk_kgd **out)
{
    /* the dynamics are not known yet: an unstable GD rate is refused at the
     * first GD prediction instead */
    ntk_kgd_config c = ntk_kgd_config_default();
    c.lr = lr;
    c.loss = loss;
    c.method = method;
    c.t_max = t_max;
    c.flow = 1;
    return ntk_kgd_create(K, n, y, u0, &c, out);
}

void ntk_kgd_free(ntk_kgd *g)
{
    if (!g) return;
    free(g->mem);
    free(g->B);
    free(g->y);
    free(g);
}

const double *ntk_kgd_evals(const ntk_kgd *g)
{
    return g && g->method == NTK_KGD_EIG ? g->lam : NULL;
}

ntk_status ntk_kgd_extremes(const ntk_kgd *g, double *lmin, double *lmax, int *exact)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_extremes: g must not be NULL");
    if (lmin) *lmin = g->lam[0];
    if (lmax) *lmax = g->lam[g->k - 1];
    // k = n Lanczos vectors span R^n: the Ritz values are the eigenvalues
    if (exact) *exact = g->method == NTK_KGD_EIG || g->k == g->n;
    return NTK_OK;
}

ntk_status ntk_kgd_info(const ntk_kgd *g, ntk_kgd_method *method, size_t *k, double *err_est)
{
    ntk_clear_error();
    if (!g) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_info: g must not be NULL");
    if (method) *method = g->method;
    if (k) *k = g->k;
    if (err_est) *err_est = g->method == NTK_KGD_EIG ? 0.0 : g->err_est;
    return NTK_OK;
}

/* Shared validation of predict_train / predict_test. */
static ntk_status kgd_check_t(const ntk_kgd *g, double t, const char *fn)
{
    if (!g) return ntk_set_error(NTK_ERR_ARG, "%s: g must not be NULL", fn);
    if (!isfinite(t) || t < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "%s: t = %g must be finite and >= 0", fn, t);
    if (t > g->t_max)
        return ntk_set_error(NTK_ERR_ARG,
                             "%s: t = %g is beyond t_max = %g the Krylov basis was built for; "
                             "create it with a larger t_max (0: every t)",
                             fn, t, g->t_max);
    return NTK_OK;
}

/* a (n) ← alpha·f(K) r0 + beta·a with f = g_t (which = 0) or h_t (1):
 *   EIG     f(K) r0 = Q (f(Λ) ⊙ Qᵀr0),
 *   KRYLOV  f(K) r0 ≈ V_k S (f(Θ) ⊙ ‖r0‖ Sᵀe_1). */
static ntk_status kgd_apply(const ntk_kgd *g, double t, int flow, int which, double alpha,
                            double beta, double *a)
{
    size_t n = g->n, k = g->k;
    double *w = ntk_alloc(2 * k, sizeof(double), "kernel GD coefficients");
    if (!w) return NTK_ERR_NOMEM;
    double *z = w + k;
    ntk_status st = NTK_OK;
    if (!flow && !g->allow_unstable && g->ceta * g->lam[k - 1] > 2.0) st = kgd_unstable(g);
    for (size_t i = 0; i < k && st == NTK_OK; i++) {
        double gk, hk;
        st = kgd_factor(g->lam[i], g->lam_tol, g->ceta, t, flow, &gk, &hk);
        w[i] = (which ? hk : gk) * g->c[i];
    }
    if (st == NTK_OK && g->method == NTK_KGD_EIG) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, alpha, g->B, (int)n, w, 1,
                    beta, a, 1);
    } else if (st == NTK_OK) {
        // z = S w (S = Uᵀ), then V_k z with V_kᵀ stored (k,n)
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)k, 1.0, g->U, (int)k, w, 1, 0.0, z,
                    1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, g->B, (int)n, z, 1, beta,
                    a, 1);
    }
    free(w);
    return st;
}

static ntk_status kgd_diverged(const ntk_kgd *g, double t)
{
    return ntk_set_error(NTK_ERR_DIVERGED,
                         "kernel GD diverges at t = %g: c*lr*lambda_max = %g > 2; lower the "
                         "learning rate",
                         t, g->ceta * g->lam[g->k - 1]);
}

/* u (n) = y − g_t(K) r0  (docs/theory.md §6.1: u(t) − y = (I − cηK)^t (u(0) − y)). */
ntk_status ntk_kgd_predict_train(const ntk_kgd *g, double t, int flow, double *u)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_train"));
    if (!u) return ntk_set_error(NTK_ERR_ARG, "ntk_kgd_predict_train: u must not be NULL");
    size_t n = g->n;
    double *tmp = ntk_alloc(n, sizeof(double), "kernel GD predictions");
    if (!tmp) return NTK_ERR_NOMEM;
    memcpy(tmp, g->y, n * sizeof(double));
    ntk_status st = kgd_apply(g, t, flow, 0, -1.0, 1.0, tmp);
    if (st == NTK_OK && ntk_check_finite(tmp, n, "kernel GD predictions") != NTK_OK)
        st = kgd_diverged(g, t);
    if (st == NTK_OK) memcpy(u, tmp, n * sizeof(double));
    free(tmp);
    return st;
}

/* K_test (nt,n), f0_test (nt) or NULL (zeros) -> f_test (nt) =
 * f0_test + K_test h_t(K) r0. */
ntk_status ntk_kgd_predict_test(const ntk_kgd *g, double t, int flow, const double *K_test,
                                size_t nt, const double *f0_test, double *f_test)
{
    ntk_clear_error();
    NTK_TRY(kgd_check_t(g, t, "ntk_kgd_predict_test"));
    if (!K_test || !f_test)
        return ntk_set_error(NTK_ERR_ARG,
                             "ntk_kgd_predict_test: K_test and f_test must not be NULL");
    if (nt == 0) return NTK_OK;
    size_t n = g->n;
    NTK_TRY(ntk_check_finite(K_test, ntk_size_mul(nt, n, 1, 1), "K_test"));
    if (f0_test) NTK_TRY(ntk_check_finite(f0_test, nt, "f0_test"));
    double *a = ntk_alloc(n, sizeof(double), "kernel GD coefficients");
    if (!a) return NTK_ERR_NOMEM;
    // a = h_t(K) r0;  f_test = f0_test + K_test a
    ntk_status st = kgd_apply(g, t, flow, 1, 1.0, 0.0, a);
    if (st == NTK_OK) {
        if (f0_test) memmove(f_test, f0_test, nt * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nt, (int)n, 1.0, K_test, (int)n, a, 1,
                    f0_test ? 1.0 : 0.0, f_test, 1);
        if (ntk_check_finite(f_test, nt, "kernel GD test predictions") != NTK_OK)
            st = kgd_diverged(g, t);
    }
    free(a);
    return st;
}

/* K (n,n) symmetric, y (n) -> alpha_out (n) = (λI + K)^{-1} y (dposv). */
ntk_status ntk_kernel_ridge(const double *K, size_t n, const double *y, double ridge,
                            double *alpha_out)
{
    ntk_clear_error();
    if (!K || !y || !alpha_out)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: K, y and alpha_out must not be NULL");
    if (n == 0) return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: n = 0; pass training points");
    if (!isfinite(ridge) || ridge < 0.0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_kernel_ridge: ridge %g must be finite and >= 0",
                             ridge);
    NTK_TRY(ntk_check_symmetric(K, n, "K"));
    NTK_TRY(ntk_check_finite(y, n, "y"));
    double *A = ntk_alloc(n * n, sizeof(double), "kernel ridge matrix");
    if (!A) return NTK_ERR_NOMEM;
    // docs/theory.md §6.7: f(x) = K(x, X) (λI + K)^{-1} y
    memcpy(A, K, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) A[i * n + i] += ridge;
    memmove(alpha_out, y, n * sizeof(double));
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, 1, A, (lapack_int)n,
                                    alpha_out, 1);
    free(A);
    if (info > 0)
        return ntk_set_error(NTK_ERR_LAPACK,
                             "kernel ridge: ridge*I + K is not positive definite (leading minor "
                             "%d fails, ridge = %g); increase the ridge",
                             (int)info, ridge);
    if (info != 0)
        return ntk_set_error(info == LAPACK_TRANSPOSE_MEMORY_ERROR ? NTK_ERR_NOMEM
                                                                   : NTK_ERR_LAPACK,
                             "kernel ridge: dposv failed (info = %d) for n = %zu", (int)info, n);
    return NTK_OK;
}
