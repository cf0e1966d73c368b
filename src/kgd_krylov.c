/* Kernel GD by Lanczos (docs/theory.md §6.5), the KRYLOV method of src/kgd.c:
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
 *   iteration (one product: dsymv, or a kernel operator's) and is not
 *   needed afterwards; a prediction costs
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
 *   (iii) k = k_max = min(n, the configured basis size, KGD_KRYLOV_KMAX)
 *        (k = n: exact);
 * ntk_kgd_info reports k and the last estimate. Without a horizon the test
 * family tends to K⁺r0 (h_∞ = 1/λ), the conjugate-gradient solution, whose
 * K-norm error the estimate measures; for an ill-conditioned or
 * rank-deficient K (an empirical NTK with n > #parameters) that needs
 * k ~ √cond ≫ 600, whereas any finite horizon is cheap, hence t_max.
 * The estimate is pessimistic (it belongs to the older approximation): on
 * relu NTKs (n = 600…6000) and random spectra it met 1e-10 at k = 90…220
 * while the kept approximation agreed with EIG to 1e-12·max|y|. */
#include "internal.h"

#include "kgd_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

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

/* The Lanczos state: the basis V (kmax+1, n), the tridiagonal's α, β, two
 * Ritz sets (the current and the previous check's) and the estimate's
 * scratch, in two allocations. */
typedef struct {
    size_t n, kmax;
    double *V, *s;
    int *flw;
    double *alpha, *beta, *h, *e;
    kgd_ritz cur, prev;
    kgd_est_work ws;
    double normest;          /* Gershgorin bound on ‖T‖ */
} lanczos;

static void lanczos_free(lanczos *L)
{
    free(L->V), free(L->s), free(L->flw);
    L->V = L->s = NULL;
    L->flw = NULL;
}

static ntk_status lanczos_alloc(lanczos *L, size_t n, size_t kmax)
{
    if (kmax == 0 || kmax > KGD_KRYLOV_KMAX) kmax = KGD_KRYLOV_KMAX;
    if (kmax > n) kmax = n;
    size_t cap = 2 * (size_t)(KGD_GRID_JMAX - KGD_GRID_J0 + 1);
    // α, β, h, e (kmax each); two Ritz sets (kmax + kmax²); the estimate's
    // F, Fp, Cp (kmax × 2cap each) and t (cap)
    size_t small = 4 * kmax + 2 * (kmax + kmax * kmax) + 3 * kmax * 2 * cap + cap;
    size_t vcount = ntk_size_mul(kmax + 1, n, 1, 1);
    NTK_TRY(ntk_mem_check(ntk_size_mul(vcount + small, sizeof(double), 1, 1), 0,
                          "the Krylov basis of kernel GD"));
    memset(L, 0, sizeof *L);
    L->n = n, L->kmax = kmax;
    L->V = ntk_alloc(vcount, sizeof(double), "Krylov basis");
    L->s = ntk_alloc(small, sizeof(double), "Lanczos scratch");
    L->flw = ntk_alloc(cap, sizeof(int), "Lanczos scratch");
    if (!L->V || !L->s || !L->flw) {
        lanczos_free(L);
        return NTK_ERR_NOMEM;
    }
    L->alpha = L->s, L->beta = L->alpha + kmax, L->h = L->beta + kmax, L->e = L->h + kmax;
    L->cur = (kgd_ritz){0, L->e + kmax, L->e + 2 * kmax};
    L->prev = (kgd_ritz){0, L->cur.U + kmax * kmax, L->cur.U + kmax * kmax + kmax};
    L->ws = (kgd_est_work){cap, L->prev.U + kmax * kmax, L->flw, NULL, NULL, NULL};
    L->ws.F = L->ws.t + cap;
    L->ws.Fp = L->ws.F + kmax * 2 * cap;
    L->ws.Cp = L->ws.Fp + kmax * 2 * cap;
    return NTK_OK;
}

/* v_0 = r0/‖r0‖; returns ‖r0‖. r0 = 0 leaves nothing to approximate (c = 0),
 * and a fixed pseudo-random start still gives the extreme Ritz values. */
static double lanczos_start(lanczos *L, const double *r0)
{
    size_t n = L->n;
    memcpy(L->V, r0, n * sizeof(double));
    double rnorm = ntk_nrm2(n, L->V);
    if (rnorm == 0.0) {
        ntk_rng rng;
        ntk_rng_seed(&rng, 0x6b7279u);
        ntk_rng_normal_fill(&rng, L->V, n);
    }
    ntk_scal(n, 1.0 / ntk_nrm2(n, L->V), L->V);
    return rnorm;
}

/* Step j: w = K v_j, reorthogonalised against v_0..v_j twice (classical
 * Gram–Schmidt), α_j = v_jᵀ K v_j, β_j = ‖w‖, v_{j+1} = w/β_j. *invariant
 * is 1 when β_j vanishes: the Krylov space is invariant. */
static ntk_status lanczos_step(lanczos *L, const kgd_product *K, size_t j, int *invariant)
{
    size_t n = L->n;
    double *vj = L->V + j * n, *w = vj + n;
    NTK_TRY(K->apply(K->ctx, vj, w));
    double a = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)n, 1.0, L->V, (int)n, w, 1,
                    0.0, L->h, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)(j + 1), (int)n, -1.0, L->V, (int)n, L->h, 1,
                    1.0, w, 1);
        a += L->h[j];
    }
    double b = ntk_nrm2(n, w);
    L->alpha[j] = a;
    L->beta[j] = b;
    // ‖T‖ <= max_j (|α_j| + β_{j−1} + β_j) (Gershgorin)
    L->normest = fmax(L->normest, fabs(a) + b + (j ? L->beta[j - 1] : 0.0));
    *invariant = b <= KGD_INVARIANT_RTOL * L->normest;
    if (!*invariant) ntk_scal(n, 1.0 / b, w);
    return NTK_OK;
}

/* Keep V_k (k,n), Θ (k), U (k,k) and c = ‖r0‖ Sᵀ e_1 in p; takes V. */
static ntk_status kgd_keep(kgd_part *p, lanczos *L, size_t k, double rnorm, double err)
{
    p->mem = ntk_alloc(2 * k + k * k, sizeof(double), "kernel GD Ritz values");
    if (!p->mem) return NTK_ERR_NOMEM;
    p->k = k;
    p->lam = p->mem;
    p->c = p->lam + k;
    p->U = p->c + k;
    memcpy(p->lam, L->cur.theta, k * sizeof(double));
    memcpy(p->U, L->cur.U, k * k * sizeof(double));
    for (size_t i = 0; i < k; i++) p->c[i] = rnorm * p->U[i * k];
    p->err_est = err;
    double *Vk = realloc(L->V, k * L->n * sizeof(double));   // shrink; keep V if refused
    p->B = Vk ? Vk : L->V;
    L->V = NULL;
    return NTK_OK;
}

/* Lanczos with full reorthogonalisation from r0 = y − u0 (file comment),
 * stopped by the rule there. */
ntk_status kgd_krylov_part(kgd_part *p, const kgd_product *K, size_t n, const double *r0,
                           double ceta, double t_max, size_t kmax)
{
    lanczos L;
    NTK_TRY(lanczos_alloc(&L, n, kmax));
    double maxdiag = K->maxdiag;
    double rnorm = lanczos_start(&L, r0), err = INFINITY;
    ntk_status st = NTK_OK;
    size_t k = 0;
    for (int done = 0; !done && st == NTK_OK;) {
        int invariant = 0;
        st = lanczos_step(&L, K, k, &invariant);
        if (st != NTK_OK) break;
        k++;
        if (!invariant && k < L.kmax && k % KGD_CHECK_EVERY != 0) continue;
        kgd_ritz tmp = L.prev;
        L.prev = L.cur;
        L.cur = tmp;
        st = ritz_decompose(k, L.alpha, L.beta, L.e, &L.cur);
        if (st != NTK_OK) break;
        if (invariant || k == n) {
            err = 0.0;   // K_k(K, r0) is invariant (or all of R^n): exact
            break;
        }
        if (L.prev.k > 0) {
            double lam_tol = KGD_ZERO_RTOL * fmax(fabs(L.cur.theta[0]), fabs(L.cur.theta[k - 1]));
            err = est_error(&L.cur, &L.prev, ceta, lam_tol, t_max, sqrt(maxdiag), &L.ws);
            // residual of the top Ritz pair: ‖K y − θ y‖ = β_{k−1} |s_{k,k}|
            double rho = L.beta[k - 1] * fabs(L.cur.U[(k - 1) * k + (k - 1)]);
            done = err <= KGD_KRYLOV_RTOL && rho <= KGD_LMAX_RTOL * fabs(L.cur.theta[k - 1]);
        }
        if (k == L.kmax) done = 1;
    }
    /* err stays +Inf when the basis cap came before a second estimate */
    if (st == NTK_OK && !(isfinite(L.normest) && !isnan(err)))
        st = ntk_set_error(NTK_ERR_NONFINITE,
                           "kernel GD (Krylov): the Lanczos recurrence became non-finite; "
                           "check K for extreme values");
    if (st == NTK_OK) st = kgd_keep(p, &L, k, rnorm, err);
    lanczos_free(&L);
    return st;
}
