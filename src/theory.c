/* The theory a run reports at t = 0 (docs/theory.md §7): the spectra of the
 * trained layers' kernels, the largest stable rate and the loss envelope,
 * Du et al. (2019)'s movement and flip bounds, Chizat, Oyallon and Bach
 * (2019)'s α condition and weight bound with the Lipschitz constant of the
 * Jacobian, and Hu et al. (2020)'s horizon. */
#include "run_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* λ_min, λ_max of K = c1Θ1 + c2Θ2 (empirical at θ0 or ∞) on the first
 * min(n, NTK_THEORY_MAX_POINTS) training points; exact when that is all of
 * them, else an upper bound on λ_min and a lower bound on λ_max (Cauchy
 * interlacing). Cached per (inf, c1, c2). */
static int same_weights(const ntk_run *r, const double *a, const double *b)
{
    for (size_t l = 0; l <= r->L; l++)
        if (a[l] != b[l]) return 0;
    return 1;
}

static ntk_status spectrum_on_points(ntk_run *r, int inf, const double *w, double *lmin,
                                     double *lmax, int *exact)
{
    for (int k = 0; k < r->nspec; k++)
        if (r->spec[k].inf == inf && same_weights(r, r->spec[k].w, w)) {
            *lmin = r->spec[k].lmin, *lmax = r->spec[k].lmax, *exact = r->spec[k].exact;
            return NTK_OK;
        }
    size_t N = r->n_all < NTK_THEORY_MAX_POINTS ? r->n_all : NTK_THEORY_MAX_POINTS;
    /* the kernel, its copy and LAPACKE's transposed copy, and the tiles (at
     * depth the passes' row blocks; the kernel bounds its Grams by
     * mem_limit) */
    size_t need = ntk_size_mul(3 * N, N, 1, sizeof(double));
    size_t tiles = r->deep ? run_deep_pass_bytes(&r->cfg.net, N)
                           : ntk_kernel_empirical_scratch_bytes(r->m, N, 0, 1, 1, r->cfg.mem_limit);
    NTK_TRY(ntk_mem_check(need == SIZE_MAX || tiles == SIZE_MAX ? SIZE_MAX : need + tiles, 0,
                          "the theory's spectra"));
    double *K = ntk_alloc(N * N, sizeof(double), "theory kernel");
    if (!K) return NTK_ERR_NOMEM;
    ntk_spectrum_summary sp;
    ntk_status st = run_kernel(r, inf, r->Xall, N, NULL, 0, w, K);
    if (st == NTK_OK) st = ntk_spectrum_summary_of(K, N, &sp);
    free(K);
    NTK_TRY(st);
    *lmin = sp.lmin;
    *lmax = sp.lmax;
    *exact = N == r->n_all;
    if (r->nspec < RUN_SPEC_MAX) {
        run_spectrum *c = &r->spec[r->nspec++];
        memset(c, 0, sizeof *c);
        c->inf = inf, c->exact = *exact, c->lmin = sp.lmin, c->lmax = sp.lmax;
        memcpy(c->w, w, (r->L + 1) * sizeof(double));
    }
    return NTK_OK;
}

/* Extremes of c1Θ1 + c2Θ2 on the training set: from the kernel model's
 * solver when that kernel is a multiple of its η1Θ1 + η2Θ2 (exact with an
 * eigendecomposition; Ritz values with Krylov), else from the points; with
 * two upper bounds on λ_min the smaller is kept. */
ntk_status run_weighted_extremes(ntk_run *r, int inf, const double *w, double *lmin,
                                 double *lmax, int *exact)
{
    /* w = f·η? (f from the first trained layer) */
    size_t l0 = 0;
    while (l0 < r->L && !(r->eta[l0] > 0)) l0++;
    double f = w[l0] / r->eta[l0];
    int prop = f > 0;
    for (size_t l = 0; l <= r->L; l++) prop = prop && fabs(w[l] - f * r->eta[l]) <= 1e-15 * fabs(w[l]);
    if (!run_model_on(r, 3 + inf) || run_model_kernel_stepped(&r->model[3 + inf]) || !prop)
        return spectrum_on_points(r, inf, w, lmin, lmax, exact);
    double a, b;
    NTK_TRY(run_model_kernel_extremes(&r->model[3 + inf], &a, &b, exact));
    *lmin = a * f;
    *lmax = b * f;
    if (*exact) return NTK_OK;
    double pa, pb;
    int pe;
    NTK_TRY(spectrum_on_points(r, inf, w, &pa, &pb, &pe));
    *lmin = fmin(*lmin, pa);
    *lmax = fmax(*lmax, pb);
    return NTK_OK;
}

/* Geometry of the data and the weights: Σq_i, Σq_i², max q_i with
 * q_i = ‖x_i‖²/s², and V = max_r |v_r0|. */
typedef struct {
    double sumq, sumq2, qmax, V;
} run_geometry;

static run_geometry geometry(const ntk_run *r)
{
    run_geometry g = {0, 0, 0, 0};
    double s = ntk_net_config_s(&r->cfg.net);
    for (size_t i = 0; i < r->n_all; i++) {
        const double *x = r->Xall + i * r->d;
        double q = ntk_dot(r->d, x, x) / (s * s);
        g.sumq += q, g.sumq2 += q * q;
        if (q > g.qmax) g.qmax = q;
    }
    const double *v0 = ntk_net_v0(r->net);
    for (size_t k = 0; k < r->m; k++) g.V = fmax(g.V, fabs(v0[k]));
    return g;
}

/* docs/theory.md §7.4: an upper bound on Lip(J_h) for smooth φ over the
 * trained layers, with V' >= max|v_r| on the path (max|v0|, plus the weight
 * bound when v is trained):
 *   both layers   √((3L1²Σq_i + 2V'²L2²Σq_i²)/m)
 *   W only        √(V²L2²Σq_i²/m)       (v stays v0: the L1|Δv| terms vanish)
 *   v only        0                      (h is linear in v: J_h is constant) */
static double beta_bound(const ntk_run *r, const run_geometry *g, double L1, double L2,
                         double weight_bound)
{
    double m = (double)r->m;
    if (r->cfg.gd.lr1 == 0) return 0.0;
    if (r->cfg.gd.lr2 == 0) return sqrt(g->V * g->V * L2 * L2 * g->sumq2 / m);
    double Vp = g->V + weight_bound;
    return sqrt((3.0 * L1 * L1 * g->sumq + 2.0 * Vp * Vp * L2 * L2 * g->sumq2) / m);
}

/* Spectra: Θ(0) and Θ∞ of the trained layers, σ(J0), the stable rate, and
 * the envelope rate c·λ_min(η1Θ1 + η2Θ2), which the metrics then use. */
static ntk_status theory_spectra(ntk_run *r, ntk_run_theory *o, int ex[3])
{
    NTK_TRY(run_weighted_extremes(r, 0, r->tw, &o->ntk_lmin, &o->ntk_lmax, &ex[0]));
    NTK_TRY(run_weighted_extremes(r, 1, r->tw, &o->inf_lmin, &o->inf_lmax, &ex[1]));
    if (r->k == 1) {   /* k outputs: not the singular values of J (theory_deep) */
        o->jac_smin = sqrt(fmax(o->ntk_lmin, 0.0));
        o->jac_smax = sqrt(fmax(o->ntk_lmax, 0.0));
    }
    o->lr_max_stable = 2.0 / (r->c * o->ntk_lmax);
    double wmin, wmax;
    NTK_TRY(run_weighted_extremes(r, 0, r->eta, &wmin, &wmax, &ex[2]));
    o->stability = r->c * wmax;
    r->env_rate = wmin > 0 ? r->c * wmin : 0.0;
    o->envelope_rate = r->env_rate;
    o->loss0 = r->loss0;
    return NTK_OK;
}

/* At depth: the spectra, σ(J0), the stable rate and the envelope (above),
 * and Chizat et al.'s weight bound 3√(8σ_max²L0)/(α σ_min²), which holds for
 * any model with σ_min(J_h) > 0 (docs/theory.md §7.3); Du et al.'s bounds,
 * the bound on Lip(J) and Hu et al.'s horizon are the two-layer network's
 * and stay NaN. */
static ntk_status theory_deep(ntk_run *r, ntk_run_theory *o, const int ex[3])
{
    o->spectra_exact = ex[0] && ex[1] && ex[2];
    /* k outputs: the spectra are of the mean per-output kernel, not of J Jᵀ
     * (n·k × n·k), so σ(J) and the bound built on it are not known */
    if (r->k > 1) return NTK_OK;
    double alpha = r->cfg.net.alpha, res0 = sqrt(2.0 * r->loss0 / r->c);
    double smin = o->jac_smin / alpha, smax = o->jac_smax / alpha, L0 = 0.5 * res0 * res0;
    o->weight_bound = 3.0 * sqrt(8.0 * smax * smax * L0) / (alpha * smin * smin);
    return NTK_OK;
}

/* A data-parallel run's theory and Lipschitz estimate are of the first
 * points of the whole training set (and of its geometry): the first
 * process computes them from the whole set it holds, the others add 0, so
 * that after the sum every process has the first one's numbers exactly
 * (x + 0 = x) and the same status. */
static ntk_status need_whole(const ntk_run *r, const char *what)
{
    if (r->Xall) return NTK_OK;
    return ntk_set_error(NTK_ERR_ARG, "%s needs the whole training set, which this run does not "
                         "hold (it was given its own rows alone): make it with "
                         "ntk_run_create_part", what);
}

static ntk_status theory_here(ntk_run *r, ntk_run_theory *o);

ntk_status ntk_run_theory_get(ntk_run *r, ntk_run_theory *o)
{
    ntk_clear_error();
    if (!r || !o) return ntk_set_error(NTK_ERR_ARG, "ntk_run_theory_get: NULL argument");
    NTK_TRY(need_whole(r, "the theory"));
    for (double *p = (double *)o; p < (double *)(o + 1); p++) *p = NAN;
    ntk_status st = r->first ? theory_here(r, o) : NTK_OK;
    if (!r->reduce) return st;
    enum { NV = sizeof *o / sizeof(double) };
    double v[NV + 1];
    if (r->first && st == NTK_OK)
        memcpy(v, o, sizeof *o);
    else
        memset(v, 0, sizeof v);
    NTK_TRY(run_reduce(r, st, v, NV));
    memcpy(o, v, sizeof *o);
    r->env_rate = o->envelope_rate;
    return NTK_OK;
}

static ntk_status theory_here(ntk_run *r, ntk_run_theory *o)
{
    int ex[4];
    NTK_TRY(theory_spectra(r, o, ex));
    if (r->deep) return theory_deep(r, o, ex);
    run_geometry g = geometry(r);
    double L1, L2;
    ntk_act_sup(r->cfg.net.act, &L1, &L2);
    double alpha = r->cfg.net.alpha;
    double res0 = sqrt(2.0 * r->loss0 / r->c);   /* ‖y − u(0)‖ */

    /* docs/theory.md §7.1 (Du et al. 2019), generalised to α, s, |v_r| <= V
     * and sup|φ'| = L1: ‖w_r(t) − w_r(0)‖ <= 4 α V L1 √q_max √n ‖y − u(0)‖ /
     * (√m λ), λ = λ_min(Θ1∞) */
    double l1inf, l1max;
    const double w1[2] = {1.0, 0.0};
    NTK_TRY(run_weighted_extremes(r, 1, w1, &l1inf, &l1max, &ex[3]));
    o->spectra_exact = ex[0] && ex[1] && ex[2] && ex[3];
    if (l1inf > 0) {
        o->D_bound = 4.0 * alpha * g.V * L1 * sqrt(g.qmax) * sqrt((double)r->n_all) * res0 /
                     (sqrt((double)r->m) * l1inf);
        o->flip_bound_D = fmin(1.0, 2.0 * o->D_bound / sqrt(2.0 * M_PI));
    }
    /* docs/theory.md §7.3 (Chizat et al. 2019) for h = f/α with the sum
     * loss: σ(J_h) = σ(J_f)/α and L0 = ½‖y − u(0)‖² */
    double smin = o->jac_smin / alpha, smax = o->jac_smax / alpha;
    double L0 = 0.5 * res0 * res0;
    o->weight_bound = 3.0 * sqrt(8.0 * smax * smax * L0) / (alpha * smin * smin);
    if (isfinite(L2)) {
        o->beta_bound = beta_bound(r, &g, L1, L2, o->weight_bound);
        o->alpha_condition = 6.0 * o->beta_bound * sqrt(8.0 * smax * smax * L0) / (smin * smin * smin);
    }
    /* docs/theory.md §7.5 (Hu et al. 2020): T = d·log d / η in the mean
     * loss's units (the sum loss at rate η is the mean loss at rate n·η),
     * η = η1, or η2 for the second-layer theorem when only v trains */
    double eta = r->cfg.gd.lr1 > 0 ? r->cfg.gd.lr1 : r->cfg.gd.lr2;
    o->horizon_T = (double)r->d * log((double)r->d) / (r->c * (double)r->n_all * eta);
    return NTK_OK;
}

double ntk_run_alpha_condition(const ntk_run *r, const ntk_run_theory *th, double beta)
{
    /* k outputs: σ(J) is not known (theory_deep) */
    if (!(th->jac_smin > 0) || !isfinite(beta) || r->k > 1) return NAN;
    double alpha = r->cfg.net.alpha, smin = th->jac_smin / alpha, smax = th->jac_smax / alpha;
    double L0 = th->loss0 / r->c;   /* ½‖y − u(0)‖² */
    return 6.0 * beta * sqrt(8.0 * smax * smax * L0) / (smin * smin * smin);
}

/* At depth: ‖ΔJ‖_op² = λ_max(ΔJ ΔJᵀ) on the subsample, ΔJ = J(θ) − J(θ0)
 * over the trained layers, by power iteration on u ↦ ΔJ(ΔJᵀu) (two
 * products Jᵀu and two J·g a step, never a Jacobian), from a fixed random
 * start, until the Rayleigh quotient changes by less than 1e-4 relative or
 * after 40 steps: an estimate from below of λ_max, like the two-layer one
 * an estimate and not a bound. */
static ntk_status beta_estimate_deep(ntk_run *r, size_t S, double *beta)
{
    const ntk_net_config *cfg = &r->cfg.net;
    const double *th = run_theta(r), *th0 = run_theta0(r);
    double dth2 = 0.0;
    for (size_t l = 1; l <= r->L + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
        if (r->eta[l - 1] > 0)
            for (size_t k = off; k < off + nW + nb; k++) dth2 += (th[k] - th0[k]) * (th[k] - th0[k]);
    }
    *beta = NAN;
    if (dth2 == 0) return NTK_OK;
    /* u, v: one value per output of each point (S·k) */
    const size_t Sk = S * r->k;
    double *u = ntk_alloc(ntk_size_mul(2, r->P, 1, 1) + 2 * Sk, sizeof(double), "Lipschitz estimate");
    if (!u) return NTK_ERR_NOMEM;
    double *v = u + Sk, *g = v + Sk, *g0 = g + r->P, lam = 0.0;
    ntk_rng rng;
    ntk_rng_seed(&rng, 0x6c69707363686974ull);
    ntk_rng_normal_fill(&rng, u, Sk);
    ntk_scal(Sk, 1.0 / ntk_nrm2(Sk, u), u);
    ntk_status st = NTK_OK;
    for (int it = 0; it < 40 && st == NTK_OK; it++) {
        st = ntk_net_vjp(cfg, th, r->Xall, S, u, g);
        if (st == NTK_OK) st = ntk_net_vjp(cfg, th0, r->Xall, S, u, g0);
        if (st != NTK_OK) break;
        for (size_t l = 1; l <= r->L + 1; l++) {
            size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
            for (size_t k = off; k < off + nW + nb; k++) g[k] = r->eta[l - 1] > 0 ? g[k] - g0[k] : 0.0;
        }
        double prev = lam, gn = ntk_nrm2(r->P, g);
        lam = gn * gn;   /* uᵀ ΔJ ΔJᵀ u, ‖u‖ = 1 */
        if (lam == 0 || fabs(lam - prev) <= 1e-4 * lam) break;
        st = ntk_net_jvp(cfg, th, r->Xall, S, g, v);
        if (st == NTK_OK) st = ntk_net_jvp(cfg, th0, r->Xall, S, g, u);
        if (st != NTK_OK) break;
        for (size_t i = 0; i < Sk; i++) u[i] = v[i] - u[i];
        double un = ntk_nrm2(Sk, u);
        if (!(un > 0)) break;
        ntk_scal(Sk, 1.0 / un, u);
    }
    free(u);
    NTK_TRY(st);
    *beta = sqrt(lam) / r->cfg.net.alpha / sqrt(dth2);
    return NTK_OK;
}

/* docs/theory.md §7.4: ‖ΔJ‖_op² = λ_max(α²/m [c1 (E Eᵀ ⊙ XXᵀ/s²) + c2 ΔA ΔAᵀ])
 * on the subsample, with E = φ'(Z) diag(v) − φ'(Z0) diag(v0), ΔA = φ(Z) − φ(Z0). */
static ntk_status beta_here(ntk_run *r, double *beta);

ntk_status ntk_run_beta_estimate(ntk_run *r, double *beta)
{
    ntk_clear_error();
    if (!r || !beta) return ntk_set_error(NTK_ERR_ARG, "ntk_run_beta_estimate: NULL argument");
    NTK_TRY(need_whole(r, "the Lipschitz estimate"));
    *beta = NAN;
    ntk_status st = r->first ? beta_here(r, beta) : NTK_OK;
    if (!r->reduce) return st;
    double v[2] = {r->first && st == NTK_OK ? *beta : 0.0, 0.0};
    NTK_TRY(run_reduce(r, st, v, 1));
    *beta = v[0];
    return NTK_OK;
}

static ntk_status beta_here(ntk_run *r, double *beta)
{
    size_t S = r->S ? r->S : (r->n_all < NTK_KERNEL_SUBSAMPLE ? r->n_all : NTK_KERNEL_SUBSAMPLE), m = r->m, d = r->d;
    if (r->deep) return beta_estimate_deep(r, S, beta);
    double s = ntk_net_config_s(&r->cfg.net);
    ntk_weight_dist wd;
    ntk_net_weight_dist(r->net, &wd);
    double dth = sqrt((r->cfg.gd.lr1 > 0 ? wd.w_fro * wd.w_fro : 0) + (r->cfg.gd.lr2 > 0 ? wd.v_norm * wd.v_norm : 0));
    *beta = NAN;
    if (dth == 0) return NTK_OK;
    double *buf = ntk_alloc(4 * S * m + 2 * S * S, sizeof(double), "Lipschitz estimate");
    if (!buf) return NTK_ERR_NOMEM;
    double *E = buf, *dA = E + S * m, *E0 = dA + S * m, *A0 = E0 + S * m, *G = A0 + S * m, *K = G + S * S;
    const double *W[2] = {ntk_net_W(r->net), ntk_net_W0(r->net)};
    const double *v[2] = {ntk_net_v(r->net), ntk_net_v0(r->net)};
    double *Eo[2] = {E, E0}, *Ao[2] = {dA, A0};
    for (int k = 0; k < 2; k++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)m, (int)d, 1.0 / s, r->Xall,
                    (int)d, W[k], (int)d, 0.0, Eo[k], (int)m);
        ntk_act_apply(r->cfg.net.act, S * m, Eo[k], Ao[k], Eo[k]);
        for (size_t i = 0; i < S; i++)
            for (size_t j = 0; j < m; j++) Eo[k][i * m + j] *= v[k][j];
    }
    ntk_axpy(S * m, -1.0, E0, E);
    ntk_axpy(S * m, -1.0, A0, dA);
    double a2m = r->cfg.net.alpha * r->cfg.net.alpha / (double)m;
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)d, 1.0 / (s * s), r->Xall, (int)d, 0.0, G, (int)S);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)m, a2m, E, (int)m, 0.0, K, (int)S);
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j <= i; j++) K[i * S + j] *= run_tc1(r) * G[i * S + j];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)S, (int)m, run_tc2(r) * a2m, dA, (int)m, 1.0, K, (int)S);
    for (size_t i = 0; i < S; i++)
        for (size_t j = i + 1; j < S; j++) K[i * S + j] = K[j * S + i];
    ntk_spectrum_summary sp;
    ntk_status st = ntk_spectrum_summary_of(K, S, &sp);
    free(buf);
    NTK_TRY(st);
    *beta = sqrt(fmax(sp.lmax, 0.0)) / r->cfg.net.alpha / dth;
    return NTK_OK;
}
