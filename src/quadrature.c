/* Gauss–Hermite rules for E[f(g)], g ~ N(0,1), and the two-dimensional
 * tensor-product rule for the kernel expectations of docs/theory.md §3. */
#include "quadrature.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

/* Nodes whose weight is below this are dropped from the 2-D rule: the mass
 * they carry is < N·1e-18, far below rounding of the kept sum. */
#define GAUSS2_MIN_WEIGHT 1e-18

// order: user request; out: the order to use (0 -> dflt)
ntk_status ntk_quad_order(int order, int dflt, int *out)
{
    if (order == 0) order = dflt;
    if (order < 2 || order > NTK_QUAD_MAX)
        return ntk_set_error(NTK_ERR_ARG,
                             "quadrature order %d is out of range; use 0 (default) or 2..%d",
                             order, NTK_QUAD_MAX);
    *out = order;
    return NTK_OK;
}

/* Orthonormal probabilists' Hermite polynomials at x,
 *   p_0 = 1, p_1 = x, p_{k+1} = (x p_k − √k p_{k−1}) / √(k+1)   (p_k = He_k/√k!),
 * rescaled on the way so that nothing overflows for large x. Returns
 * p_n / p_{n−1} in *ratio and log Σ_{k<n} p_k² in *log_sum. */
static void hermite_orthonormal(int n, double x, double *ratio, double *log_sum)
{
    double pm = 0.0, p = 1.0, sum = 1.0, log_scale = 0.0;   /* true = stored·e^log_scale */
    for (int k = 0; k < n; k++) {
        double pn = (x * p - sqrt((double)k) * pm) / sqrt((double)(k + 1));
        pm = p;
        p = pn;
        if (k + 1 < n) sum += p * p;   /* Σ runs over p_0 .. p_{n−1} */
        if (fabs(p) > 1e100) {
            p *= 1e-100;
            pm *= 1e-100;
            sum *= 1e-200;
            log_scale += 100.0 * M_LN10;
        }
    }
    *ratio = p / pm;
    *log_sum = log(sum) + 2.0 * log_scale;
}

/* x, w are (order). Golub–Welsch: the nodes are the eigenvalues of the Jacobi
 * matrix of He_k (zero diagonal, off-diagonal √k); one Newton step on p_n
 * polishes them (p_n' = √n p_{n−1}); the weights are the Christoffel numbers
 * w_i = 1 / Σ_{k<n} p_k(x_i)², accurate even where they are tiny. */
ntk_status ntk_gauss_hermite(int order, double *x, double *w)
{
    if (order < 1 || order > NTK_QUAD_MAX || !x || !w)
        return ntk_set_error(NTK_ERR_ARG, "Gauss-Hermite order %d is out of range 1..%d",
                             order, NTK_QUAD_MAX);
    int n = order;
    for (int k = 0; k < n; k++) x[k] = 0.0;
    for (int k = 0; k + 1 < n; k++) w[k] = sqrt((double)(k + 1));   /* off-diagonal */
    lapack_int info = LAPACKE_dstev(LAPACK_COL_MAJOR, 'N', n, x, w, NULL, 1);
    if (info != 0)
        return ntk_set_error(NTK_ERR_LAPACK,
                             "dstev failed (info %d) for Gauss-Hermite order %d; try another order",
                             (int)info, order);
    for (int i = 0; i < n; i++) {
        double ratio, log_sum;
        hermite_orthonormal(n, x[i], &ratio, &log_sum);
        x[i] -= ratio / sqrt((double)n);
        hermite_orthonormal(n, x[i], &ratio, &log_sum);
        w[i] = exp(-log_sum);
    }
    /* The rule is symmetric about 0: enforce it so that odd integrands vanish. */
    for (int i = 0; i < n / 2; i++) {
        int j = n - 1 - i;
        double xs = 0.5 * (x[j] - x[i]), ws = 0.5 * (w[i] + w[j]);
        x[i] = -xs;
        x[j] = xs;
        w[i] = w[j] = ws;
    }
    if (n % 2) x[n / 2] = 0.0;
    /* Σ w = 1 (E[1] = 1); summed from the tails inwards, smallest first. */
    double total = 0.0;
    for (int i = 0; i < n / 2; i++) total += w[i] + w[n - 1 - i];
    if (n % 2) total += w[n / 2];
    for (int i = 0; i < n; i++) w[i] /= total;
    return NTK_OK;
}

// g: N nodes for act carved out of one block of 7·N doubles (x, w, 5 scratch)
static ntk_status gauss2_alloc(ntk_gauss2 *g, ntk_act act, size_t N)
{
    memset(g, 0, sizeof *g);
    double *block = ntk_alloc(7 * N, sizeof(double), "Gauss-Hermite workspace");
    if (!block) return NTK_ERR_NOMEM;
    g->act = act;
    g->N = N;
    g->block = block;
    g->x = block;
    g->w = block + N;
    g->row_phi = block + 2 * N;
    g->row_dphi = block + 3 * N;
    g->z = block + 4 * N;
    g->phi = block + 5 * N;
    g->dphi = block + 6 * N;
    return NTK_OK;
}

// g: rule for act of the given order, nodes of negligible weight dropped
ntk_status ntk_gauss2_init(ntk_gauss2 *g, ntk_act act, int order)
{
    NTK_TRY(gauss2_alloc(g, act, (size_t)order));
    double *x = g->x, *w = g->w;
    ntk_status st = ntk_gauss_hermite(order, x, w);
    if (st != NTK_OK) {
        ntk_gauss2_free(g);
        return st;
    }
    size_t kept = 0;
    for (size_t i = 0; i < g->N; i++) {
        if (w[i] < GAUSS2_MIN_WEIGHT) continue;
        x[kept] = x[i];
        w[kept] = w[i];
        kept++;
    }
    g->N = kept;   /* the arrays keep their room for `order` entries */
    return NTK_OK;
}

// dst: a fresh workspace holding src's nodes and weights
ntk_status ntk_gauss2_copy(ntk_gauss2 *dst, const ntk_gauss2 *src)
{
    NTK_TRY(gauss2_alloc(dst, src->act, src->N));
    memcpy(dst->x, src->x, src->N * sizeof(double));
    memcpy(dst->w, src->w, src->N * sizeof(double));
    return NTK_OK;
}

// releases g's block; g may be NULL
void ntk_gauss2_free(ntk_gauss2 *g)
{
    if (!g) return;
    free(g->block);
    memset(g, 0, sizeof *g);
}

// q: ‖x‖²/s² of the row point; fills row_phi, row_dphi (N)
void ntk_gauss2_set_row(ntk_gauss2 *g, double q)
{
    double sq = sqrt(q);
    for (size_t a = 0; a < g->N; a++) g->z[a] = sq * g->x[a];   /* u = √q g1 */
    ntk_act_apply(g->act, g->N, g->z, g->row_phi, g->row_dphi);
    for (size_t a = 0; a < g->N; a++) {
        g->row_phi[a] *= g->w[a];
        g->row_dphi[a] *= g->w[a];
    }
}

/* Σ = Σ_a w_a φ(√q x_a) Σ_b w_b φ(√q'(ρ x_a + √(1−ρ²) x_b)), and Σ' likewise
 * with φ' (docs/theory.md §3). Cost N² activation evaluations; N when ρ = ±1. */
void ntk_gauss2_pair(ntk_gauss2 *g, double q2, double rho, double sin_t, double *Sigma,
                     double *dSigma)
{
    size_t N = g->N;
    const double *x = g->x, *w = g->w;
    double *phi = Sigma ? g->phi : NULL, *dphi = dSigma ? g->dphi : NULL;
    double sq2 = sqrt(q2);
    double mu_scale = sq2 * rho, sig = sq2 * sin_t;      /* u' = mu_scale·g1 + sig·g2 */
    double S = 0.0, dS = 0.0;
    if (sig == 0.0) {
        /* u' = mu_scale·g1 is a function of g1 alone: a one-dimensional rule. */
        for (size_t a = 0; a < N; a++) g->z[a] = mu_scale * x[a];
        ntk_act_apply(g->act, N, g->z, phi, dphi);
        for (size_t a = 0; a < N; a++) {
            if (phi) S += g->row_phi[a] * phi[a];
            if (dphi) dS += g->row_dphi[a] * dphi[a];
        }
    } else {
        for (size_t a = 0; a < N; a++) {
            double ra = phi ? g->row_phi[a] : 0.0, rda = dphi ? g->row_dphi[a] : 0.0;
            if (ra == 0.0 && rda == 0.0) continue;   /* e.g. relu with u < 0 */
            double mu = mu_scale * x[a];
            for (size_t b = 0; b < N; b++) g->z[b] = mu + sig * x[b];
            ntk_act_apply(g->act, N, g->z, phi, dphi);
            double inner = 0.0, dinner = 0.0;
            for (size_t b = 0; b < N; b++) {
                if (phi) inner += w[b] * phi[b];
                if (dphi) dinner += w[b] * dphi[b];
            }
            S += ra * inner;
            dS += rda * dinner;
        }
    }
    if (Sigma) *Sigma = S;
    if (dSigma) *dSigma = dS;
}
