/* Infinite-width kernels Θ1∞ = α² c Σ', Θ2∞ = α² Σ (docs/theory.md §3), by closed
 * forms for relu, leaky_relu, erf and identity and by Gauss–Hermite
 * quadrature for every other activation.
 *
 * Leaky relu, φ(u) = relu(u) − a·relu(−u), derived here and in agreement with
 * docs/theory.md §3. With J(θ) = (sin θ + (π − θ) cos θ)/(2π), which is
 * E[relu(u)relu(u')]/√(qq'): (−u,−u') has the law of (u,u') and (u,−u') has
 * angle π − θ, so, with J(π − θ) = (sin θ − θ cos θ)/(2π),
 *   Σ  = √(qq') [(1 + a²) J(θ) − 2a J(π − θ)],
 *   Σ' = (1 + a²) P(u>0,u'>0) + 2a P(u>0,u'<0) = (1 + a²)(π − θ)/(2π) + a θ/π.
 * a = 1 gives back the identity (Σ = c, Σ' = 1), a = 0 relu. */
#include "quadrature.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>

#define TWO_OVER_PI 0.63661977236758134308  /* 2/π */

/* Everything a pair (x, x') needs: q, q', c, k = √(qq'), ρ = cos θ, sin θ, θ. */
typedef struct {
    double q1, q2, c, k, rho, sin_t, theta;
} pair_geom;

#define NEAR_PARALLEL 1e-4   /* |ρ| > 1 − this: take θ from the vectors */

/* x, y (d). θ between x and y from the unit vectors, accurate where arccos(ρ)
 * is not (θ ≈ √(2(1−ρ)) keeps half the digits of a rounded ρ):
 *   θ = 2 arcsin(‖x̂ − ŷ‖/2) (ρ > 0),  θ = π − 2 arcsin(‖x̂ + ŷ‖/2) (ρ < 0). */
static double angle_from_vectors(const double *x, const double *y, size_t d, double rho)
{
    double nx = 0.0, ny = 0.0;
    for (size_t k = 0; k < d; k++) {
        nx += x[k] * x[k];
        ny += y[k] * y[k];
    }
    nx = sqrt(nx);
    ny = sqrt(ny);
    if (nx == 0.0 || ny == 0.0) return acos(rho);   /* underflowed norms */
    double sgn = rho > 0 ? -1.0 : 1.0, dist2 = 0.0;
    for (size_t k = 0; k < d; k++) {
        double e = x[k] / nx + sgn * y[k] / ny;
        dist2 += e * e;
    }
    double half = 0.5 * sqrt(dist2);
    double t = 2.0 * asin(half < 1.0 ? half : 1.0);
    return rho > 0 ? t : M_PI - t;
}

/* x, y (d) with q1, q2, c already known. Zero inputs (k = 0): u ≡ 0, any
 * angle will do; we take θ = π/2. ρ is clamped to [−1,1] before arccos. */
static pair_geom pair_geometry(const double *x, const double *y, size_t d, double q1, double q2,
                               double c)
{
    pair_geom p = {q1, q2, c, sqrt(q1) * sqrt(q2), 0.0, 1.0, 0.5 * M_PI};
    if (p.k == 0.0) return p;
    double rho = c / p.k;
    if (rho > 1.0) rho = 1.0;
    if (rho < -1.0) rho = -1.0;
    if (fabs(rho) > 1.0 - NEAR_PARALLEL) {
        p.theta = angle_from_vectors(x, y, d, rho);
        p.rho = cos(p.theta);
        p.sin_t = sin(p.theta);
    } else {
        p.theta = acos(rho);
        p.rho = rho;
        p.sin_t = sqrt((1.0 - rho) * (1.0 + rho));
    }
    return p;
}

/* Σ, Σ' of leaky relu with slope a (docs/theory.md §3, derivation above). Zero
 * inputs: k = 0 makes Σ = 0 and leaves Σ' bounded (it is multiplied by c = 0). */
static void leaky_relu_closed(double a, const pair_geom *p, double *Sigma, double *dSigma)
{
    double th = p->theta;
    double J = (p->sin_t + (M_PI - th) * p->rho) / (2.0 * M_PI);   /* J(θ) */
    double Jm = (p->sin_t - th * p->rho) / (2.0 * M_PI);           /* J(π − θ) */
    *Sigma = p->k * ((1.0 + a * a) * J - 2.0 * a * Jm);
    *dSigma = (1.0 + a * a) * (M_PI - th) / (2.0 * M_PI) + a * th / M_PI;
}

/* erf (Williams 1997), docs/theory.md §3:
 *   Σ  = (2/π) arcsin(2c / √((1+2q)(1+2q'))),
 *   Σ' = (4/π) / √((1+2q)(1+2q') − 4c²),
 * the last denominator written as 1 + 2q + 2q' + 4qq' sin²θ (qq' − c² ≥ 0). */
static void erf_closed(const pair_geom *p, double *Sigma, double *dSigma)
{
    double q1 = p->q1, q2 = p->q2;
    double arg = 2.0 * p->c / sqrt((1.0 + 2.0 * q1) * (1.0 + 2.0 * q2));
    if (arg > 1.0) arg = 1.0;
    if (arg < -1.0) arg = -1.0;
    double gap = p->k * p->sin_t;   /* √(qq' − c²) */
    *Sigma = TWO_OVER_PI * asin(arg);
    *dSigma = 2.0 * TWO_OVER_PI / sqrt(1.0 + 2.0 * q1 + 2.0 * q2 + 4.0 * gap * gap);
}

// 1 for the activations with a closed form in docs/theory.md §3
static int has_closed_form(ntk_act act)
{
    return act.kind == NTK_ACT_RELU || act.kind == NTK_ACT_LEAKY_RELU ||
           act.kind == NTK_ACT_ERF || act.kind == NTK_ACT_IDENTITY;
}

/* Σ, Σ' in closed form for an activation with has_closed_form(act). */
static void closed_form(ntk_act act, const pair_geom *p, double *Sigma, double *dSigma)
{
    switch (act.kind) {
    case NTK_ACT_RELU: leaky_relu_closed(0.0, p, Sigma, dSigma); return;
    case NTK_ACT_LEAKY_RELU: leaky_relu_closed(act.param, p, Sigma, dSigma); return;
    case NTK_ACT_ERF: erf_closed(p, Sigma, dSigma); return;
    default: *Sigma = p->c; *dSigma = 1.0; return;   /* identity: Σ = c, Σ' = 1 */
    }
}

// validates the arguments of kernel_infinite and resolves the quadrature order
static ntk_status check_args(const ntk_net_config *cfg, const double *X1, size_t n1, size_t n2,
                             double c1, double c2, int quad_order, const double *K, int *order)
{
    if (!cfg)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: network configuration is missing");
    if (cfg->d == 0)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: input dimension d must be positive");
    if ((int)cfg->act.kind < 0 || cfg->act.kind >= NTK_ACT_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: unknown activation %d",
                             (int)cfg->act.kind);
    if (!isfinite(cfg->act.param))
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: activation parameter must be finite");
    if (cfg->input_scale != NTK_SCALE_SQRT_D && cfg->input_scale != NTK_SCALE_ONE)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: input scale must be sqrt_d or one");
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: output scale alpha must be positive and finite");
    if (!isfinite(c1) || !isfinite(c2))
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: coefficients c1, c2 must be finite");
    if (!X1 || !K)
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: X1 and the output K must not be NULL");
    if (cfg->d > INT_MAX || n1 > INT_MAX || n2 > INT_MAX)
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: sizes above %d are not supported by BLAS", INT_MAX);
    return ntk_quad_order(quad_order, NTK_QUAD_DEFAULT_2D, order);
}

typedef struct {
    ntk_act act;
    double a2, c1, c2;
    int sym;
    const double *X1, *X2, *q1, *q2;
    size_t n1, n2, d;
    const ntk_gauss2 *rule;   /* NULL: closed forms */
    double *K;
    atomic_int failed;        /* a worker could not allocate its workspace */
} map_job;

/* Entry (i,k): c = x_i·x'_k/s² in, K = α²(c1·c·Σ' + c2·Σ) out; g is NULL for
 * the closed forms, else a workspace whose row is set to q1[i]. */
static double kernel_entry(const map_job *j, ntk_gauss2 *g, size_t i, size_t k, double c)
{
    size_t d = j->d;
    pair_geom p = pair_geometry(j->X1 + i * d, j->X2 + k * d, d, j->q1[i], j->q2[k], c);
    double Sigma = 0.0, dSigma = 0.0;
    if (g)
        ntk_gauss2_pair(g, p.q2, p.rho, p.sin_t, j->c2 != 0.0 ? &Sigma : NULL,
                        j->c1 != 0.0 ? &dSigma : NULL);
    else
        closed_form(j->act, &p, &Sigma, &dSigma);
    // docs/theory.md §3.1: Θ1∞ = α² c Σ', Θ2∞ = α² Σ, K = c1Θ1∞ + c2Θ2∞
    double K1 = j->c1 != 0.0 ? j->c1 * c * dSigma : 0.0;
    double K2 = j->c2 != 0.0 ? j->c2 * Sigma : 0.0;
    return j->a2 * (K1 + K2);
}

/* Rows p and n1−1−p for p in [p0,p1): pairing a long row of the triangle
 * with a short one keeps the threads' shares of the work equal. */
static void map_rows(void *ctx, size_t p0, size_t p1)
{
    map_job *j = ctx;
    ntk_gauss2 g, *gp = NULL;
    if (j->rule) {
        if (ntk_gauss2_copy(&g, j->rule) != NTK_OK) {
            atomic_store(&j->failed, 1);
            return;
        }
        gp = &g;
    }
    for (size_t p = p0; p < p1; p++) {
        size_t rows[2] = {p, j->n1 - 1 - p};
        for (int r = 0; r < (rows[0] == rows[1] ? 1 : 2); r++) {
            size_t i = rows[r];
            double *Ki = j->K + i * j->n2;
            if (gp) ntk_gauss2_set_row(gp, j->q1[i]);
            for (size_t k = j->sym ? i : 0; k < j->n2; k++)
                Ki[k] = kernel_entry(j, gp, i, k, Ki[k]);
        }
    }
    if (gp) ntk_gauss2_free(gp);
}

/* j->K (n1,n2), or its upper triangle (n1,n1) when sym, holds c = x·x'/s²
 * on entry and the kernel on return. Rows are split over threads
 * (ntk_parallel_for), each with its own copy of the quadrature rule; every
 * entry is computed alone, so the result does not depend on the thread count. */
static ntk_status map_kernel(map_job *j, int use_quad, int order)
{
    ntk_gauss2 rule;
    if (use_quad) NTK_TRY(ntk_gauss2_init(&rule, j->act, order));
    j->rule = use_quad ? &rule : NULL;
    /* work per index (two rows): ~n2 entries of N² or ~16 (closed form) units */
    size_t per_entry = use_quad ? rule.N * rule.N : 16;
    size_t grain = ntk_size_mul(j->n2, per_entry, 1, 1);
    if (grain > 65536) grain = 65536;   /* enough to say "worth threads"; avoids overflow */
    ntk_parallel_for_grain((j->n1 + 1) / 2, grain, map_rows, j);
    if (use_quad) ntk_gauss2_free(&rule);
    j->rule = NULL;
    if (atomic_load(&j->failed))
        return ntk_set_error(NTK_ERR_NOMEM,
                             "infinite kernel: could not allocate a quadrature workspace of "
                             "order %d; lower the quadrature order",
                             order);
    return NTK_OK;
}

/* X1 (n1,d), X2 (n2,d) or NULL, K (n1,n2) or (n1,n1). */
static ntk_status kernel_infinite(const ntk_net_config *cfg, const double *X1, size_t n1,
                                  const double *X2, size_t n2, double c1, double c2,
                                  int quad_order, int force_quad, double *K)
{
    int order;
    NTK_TRY(check_args(cfg, X1, n1, n2, c1, c2, quad_order, K, &order));
    int sym = X2 == NULL;
    if (sym) {
        X2 = X1;
        n2 = n1;
    }
    if (n1 == 0 || n2 == 0) return NTK_OK;
    size_t d = cfg->d;
    NTK_TRY(ntk_check_finite(X1, n1 * d, "X1"));
    if (!sym) NTK_TRY(ntk_check_finite(X2, n2 * d, "X2"));

    double s = ntk_net_config_s(cfg), inv_s2 = 1.0 / (s * s);
    NTK_TRY(ntk_check_input_scale(X1, n1, d, s, "X1"));
    if (!sym) NTK_TRY(ntk_check_input_scale(X2, n2, d, s, "X2"));
    double *q1 = ntk_alloc(sym ? n1 : n1 + n2, sizeof(double), "infinite kernel norms");
    if (!q1) return NTK_ERR_NOMEM;
    double *q2 = sym ? q1 : q1 + n1;
    // docs/theory.md §3: q = ‖x‖²/s², q' = ‖x'‖²/s²
    for (size_t i = 0; i < n1; i++)
        q1[i] = cblas_ddot((int)d, X1 + i * d, 1, X1 + i * d, 1) * inv_s2;
    if (!sym)
        for (size_t k = 0; k < n2; k++)
            q2[k] = cblas_ddot((int)d, X2 + k * d, 1, X2 + k * d, 1) * inv_s2;
    // docs/theory.md §3: c = x·x'/s², all pairs at once (upper triangle when symmetric)
    if (sym)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n1, (int)d, inv_s2, X1,
                    (int)d, 0.0, K, (int)n1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)d, inv_s2,
                    X1, (int)d, X2, (int)d, 0.0, K, (int)n2);

    map_job j = {cfg->act, cfg->alpha * cfg->alpha, c1, c2, sym, X1, X2, q1, q2, n1, n2, d,
                 NULL, K, 0};
    int use_quad = force_quad || !has_closed_form(cfg->act);
    ntk_status st = map_kernel(&j, use_quad, order);
    free(q1);
    if (st != NTK_OK) return st;
    if (sym)
        for (size_t i = 1; i < n1; i++)
            for (size_t k = 0; k < i; k++) K[i * n1 + k] = K[k * n1 + i];
    return ntk_check_result(K, n1, n2, "the infinite-width kernel",
                            "an entry overflows double precision; rescale the inputs or alpha");
}

// X1 (n1,d), X2 (n2,d) or NULL -> K; closed form where there is one
ntk_status ntk_kernel_infinite(const ntk_net_config *cfg, const double *X1, size_t n1,
                               const double *X2, size_t n2, double c1, double c2,
                               int quad_order, double *K)
{
    return kernel_infinite(cfg, X1, n1, X2, n2, c1, c2, quad_order, 0, K);
}

// X1 (n1,d), X2 (n2,d) or NULL -> K; quadrature for every activation
ntk_status ntk_kernel_infinite_quad(const ntk_net_config *cfg, const double *X1, size_t n1,
                                    const double *X2, size_t n2, double c1, double c2,
                                    int quad_order, double *K)
{
    return kernel_infinite(cfg, X1, n1, X2, n2, c1, c2, quad_order, 1, K);
}
