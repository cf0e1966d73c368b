/* Teachers (ntk_target_create), with u a direction drawn from the teacher's
 * seed. Every single-index teacher (linear, relu-neuron, hermite, poly,
 * gegenbauer) draws the same g ~ N(0, I_d) from its seed, so equal seeds give
 * the same direction: β = g for linear, u = g/‖g‖ (uniform on the unit sphere)
 * for the others. With z = uᵀx:
 *
 *   linear        y = βᵀx/√d.  E y² = ‖β‖²/d ≈ 1 for E xxᵀ = I.
 *   relu-neuron   y = √2·relu(z).  For E xxᵀ = I (gaussian, or the sphere of
 *                 radius √d) Var z = 1, and for gaussian x E y² = 2·E relu(g)² = 1.
 *                 x is not normalised by ‖x‖.
 *   two-layer:k=K y = 1/√K Σ_j a_j relu(u_jᵀx/√d), u_j ~ N(0, I_d) (not unit),
 *                 a_j = ±1 with probability 1/2.
 *   hermite       y = Σ_k c_k h_k(z), h_k = He_k/√(k!) with He_k the
 *                 probabilists' Hermite polynomial. z = uᵀx is used as is (not
 *                 divided by √(uᵀΣu)): for gaussian x ~ N(0, I), z ~ N(0, 1), the
 *                 h_k are orthonormal and ‖component k‖² = c_k² exactly; for
 *                 gaussian:decay=P inputs they are not.
 *   poly          y = Σ_k c_k z^k.
 *   gegenbauer    y = Σ_k c_k Q_k(t), t = z/√d, Q_k = √N(d,k)·P_{k,d}(t) where
 *                 P_{k,d} is the Gegenbauer (Legendre) polynomial of dimension d
 *                 normalised by P_{k,d}(1) = 1, orthogonal for the weight
 *                 (1 − t²)^{(d−3)/2}, and N(d,k) = (2k+d−2)(k+d−3)!/(k!(d−2)!)
 *                 the dimension of degree-k spherical harmonics (N(d,0) = 1).
 *                 Since E P_{k,d}(t)² = 1/N(d,k) for x uniform on the sphere of
 *                 radius √d, E Q_k² = 1 there: component norms are c_k² and
 *                 ‖P_{>ℓ} f*‖² = Σ_{k>ℓ} c_k². Needs d ≥ 2.
 *   noise         y ~ N(0, 1) drawn from the evaluation rng, independent of x.
 *
 * Any teacher adds N(0, σ²) label noise with the option noise=σ, drawn from the
 * evaluation rng after the clean labels.
 */
#include "spec.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    T_LINEAR = 0, T_RELU_NEURON, T_TWO_LAYER, T_HERMITE, T_POLY, T_GEGENBAUER, T_NOISE, T_COUNT
} target_kind;
static const char *const target_names[T_COUNT] = {
    "linear", "relu-neuron", "two-layer", "hermite", "poly", "gegenbauer", "noise",
};

#define TARGET_MAX_DEGREE 64
#define TARGET_MAX_WIDTH 10000000

struct ntk_target {
    target_kind kind;
    size_t d;
    size_t K;                               /* rows of U: two-layer width, else 1 */
    double *U;                              /* (K,d): β, u, or the u_j */
    double *a;                              /* (K) two-layer output signs */
    int deg;                                /* highest degree of a series teacher */
    double c[TARGET_MAX_DEGREE + 1];        /* c_k */
    double sqrtN[TARGET_MAX_DEGREE + 1];    /* gegenbauer √N(d,k) */
    double sigma;                           /* label noise σ */
};

static int is_series(target_kind k) { return k == T_HERMITE || k == T_POLY || k == T_GEGENBAUER; }

static const char *target_options_help(target_kind k)
{
    if (k == T_TWO_LAYER) return "k=K (required) and noise=SIGMA";
    if (is_series(k)) return "DEGREE=COEF pairs with DEGREE in 0..64, and noise=SIGMA";
    return "only noise=SIGMA";
}

/* Integer option value in [lo, hi] -> *v. */
static int as_int(double x, double lo, double hi, long *v)
{
    if (!(x >= lo && x <= hi) || x != floor(x)) return 0;
    *v = (long)x;
    return 1;
}

/* A series coefficient "k=c_k" -> t->c (the key must be a degree). */
static ntk_status series_option(const char *spec, const spec_opt *o, int *seen, ntk_target *t)
{
    char *end;
    long k = strtol(o->key, &end, 10);
    if (*end || o->key[0] < '0' || o->key[0] > '9' || k > TARGET_MAX_DEGREE)
        return ntk_set_error(NTK_ERR_ARG, "target '%s': unknown option '%s'; %s takes %s", spec,
                             o->key, target_names[t->kind], target_options_help(t->kind));
    if (seen[k])
        return ntk_set_error(NTK_ERR_ARG, "target '%s': degree %ld is given twice", spec, k);
    seen[k] = 1;
    t->c[k] = o->value;
    if (k > t->deg) t->deg = (int)k;
    return NTK_OK;
}

/* Options of spec -> t (σ, K, coefficients), checked against t->kind. */
static ntk_status target_options(const char *spec, const spec_parts *sp, ntk_target *t)
{
    int seen[TARGET_MAX_DEGREE + 1] = {0};
    t->deg = -1;
    t->K = t->kind == T_TWO_LAYER ? 0 : 1;
    for (int i = 0; i < sp->n_opts; i++) {
        const spec_opt *o = &sp->opts[i];
        long K;
        if (strcmp(o->key, "noise") == 0) {
            if (o->value < 0)
                return ntk_set_error(NTK_ERR_ARG, "target '%s': noise must be >= 0", spec);
            t->sigma = o->value;
        } else if (t->kind == T_TWO_LAYER && strcmp(o->key, "k") == 0) {
            if (!as_int(o->value, 1, TARGET_MAX_WIDTH, &K))
                return ntk_set_error(NTK_ERR_ARG, "target '%s': k must be an integer in 1..%d",
                                     spec, TARGET_MAX_WIDTH);
            t->K = (size_t)K;
        } else if (is_series(t->kind)) {
            NTK_TRY(series_option(spec, o, seen, t));
        } else {
            return ntk_set_error(NTK_ERR_ARG, "target '%s': unknown option '%s'; %s takes %s",
                                 spec, o->key, target_names[t->kind],
                                 target_options_help(t->kind));
        }
    }
    if (t->kind == T_TWO_LAYER && t->K == 0)
        return ntk_set_error(NTK_ERR_ARG, "target '%s': two-layer needs a width, e.g. "
                             "two-layer:k=8", spec);
    if (is_series(t->kind) && t->deg < 0)
        return ntk_set_error(NTK_ERR_ARG, "target '%s': give at least one coefficient, e.g. "
                             "%s:1=1,2=0.5", spec, target_names[t->kind]);
    return NTK_OK;
}

/* √N(d,k), N(d,k) = (2k+d−2)(k+d−3)!/(k!(d−2)!) the number of degree-k
 * spherical harmonics in dimension d ≥ 2, N(d,0) = 1. */
static double sqrt_harmonics_dim(size_t d, int k)
{
    if (k == 0) return 1.0;
    double dd = (double)d;
    double logN = log(2.0 * k + dd - 2.0) + lgamma(k + dd - 2.0) - lgamma(k + 1.0) -
                  lgamma(dd - 1.0);
    return exp(0.5 * logN);
}

/* Teacher parameters drawn from rng: U (K,d), a (K). */
static ntk_status target_draw(ntk_target *t, ntk_rng *rng)
{
    t->U = ntk_alloc(t->K * t->d, sizeof(double), "teacher directions");
    if (!t->U) return NTK_ERR_NOMEM;
    if (t->kind == T_LINEAR) {
        ntk_rng_normal_fill(rng, t->U, t->d);                  /* β ~ N(0, I) */
    } else if (t->kind == T_TWO_LAYER) {
        t->a = ntk_alloc(t->K, sizeof(double), "teacher signs");
        if (!t->a) return NTK_ERR_NOMEM;
        ntk_rng_normal_fill(rng, t->U, t->K * t->d);           /* u_j ~ N(0, I) */
        for (size_t j = 0; j < t->K; j++) t->a[j] = (ntk_rng_u64(rng) >> 63) ? 1.0 : -1.0;
    } else {
        ntk_rng_unit_vector(rng, t->d, t->U);                          /* u = g/‖g‖ */
    }
    for (int k = 0; t->kind == T_GEGENBAUER && k <= t->deg; k++)
        t->sqrtN[k] = sqrt_harmonics_dim(t->d, k);
    return NTK_OK;
}

static ntk_status target_build(const char *spec, size_t d, uint64_t seed, ntk_target *t)
{
    spec_parts sp;
    NTK_TRY(spec_parse(spec, &sp));
    int k = 0;
    while (k < T_COUNT && !spec_name_is(&sp, target_names[k])) k++;
    if (k == T_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "unknown target '%s'; choose linear, relu-neuron, "
                             "two-layer:k=K, hermite:1=c1,2=c2,..., poly:1=c1,..., "
                             "gegenbauer:1=c1,..., or noise (any may add ,noise=SIGMA)", spec);
    t->kind = (target_kind)k;
    t->d = d;
    NTK_TRY(target_options(spec, &sp, t));
    if (d == 0 || d > INT32_MAX)
        return ntk_set_error(NTK_ERR_ARG, "target '%s': d must be in 1..%d, got %zu", spec,
                             INT32_MAX, d);
    if (t->kind == T_GEGENBAUER && d < 2)
        return ntk_set_error(NTK_ERR_ARG, "target '%s': gegenbauer needs d >= 2", spec);
    if (t->kind == T_NOISE) return NTK_OK;
    NTK_TRY(ntk_mem_check(ntk_size_mul(t->K, d, sizeof(double), 1), 0, "teacher weights"));
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);
    return target_draw(t, &rng);
}

ntk_status ntk_target_create(const char *spec, size_t d, uint64_t seed, ntk_target **out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_target_create: out is NULL");
    *out = NULL;
    ntk_target *t = ntk_calloc(1, sizeof *t, "teacher");
    if (!t) return NTK_ERR_NOMEM;
    ntk_status st = target_build(spec, d, seed, t);
    if (st != NTK_OK) {
        ntk_target_free(t);
        return st;
    }
    *out = t;
    return NTK_OK;
}

void ntk_target_free(ntk_target *t)
{
    if (!t) return;
    free(t->U);
    free(t->a);
    free(t);
}

/* Σ_k c_k He_k(z)/√(k!) by the normalised recurrence
 * h_{k+1} = (z h_k − √k h_{k−1})/√(k+1), h_0 = 1, h_1 = z. */
static double hermite_series(const double *c, int deg, double z)
{
    double h_prev = 0.0, h = 1.0, y = c[0];
    for (int k = 0; k < deg; k++) {
        double h_next = (z * h - sqrt((double)k) * h_prev) / sqrt(k + 1.0);
        h_prev = h;
        h = h_next;
        y += c[k + 1] * h;
    }
    return y;
}

/* Σ_k c_k z^k (Horner). */
static double poly_series(const double *c, int deg, double z)
{
    double y = 0.0;
    for (int k = deg; k >= 0; k--) y = y * z + c[k];
    return y;
}

/* Σ_k c_k √N(d,k) P_{k,d}(t) with P_0 = 1, P_1 = t and
 * (k+d−2) P_{k+1} = (2k+d−2) t P_k − k P_{k−1}. */
static double gegenbauer_series(const double *c, const double *sqrtN, int deg, size_t d, double t)
{
    double dd = (double)d, P_prev = 1.0, P = t, y = c[0];
    if (deg >= 1) y += c[1] * sqrtN[1] * t;
    for (int k = 1; k < deg; k++) {
        double P_next = ((2.0 * k + dd - 2.0) * t * P - k * P_prev) / (k + dd - 2.0);
        P_prev = P;
        P = P_next;
        y += c[k + 1] * sqrtN[k + 1] * P;
    }
    return y;
}

/* Two-layer teacher on X (n,d) -> y (n); scratch z (K). */
static void two_layer_eval(const ntk_target *t, const double *X, size_t n, double *z, double *y)
{
    int K = (int)t->K, d = (int)t->d;
    double inv_sqrt_d = 1.0 / sqrt((double)t->d);
    for (size_t i = 0; i < n; i++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, K, d, inv_sqrt_d, t->U, d, X + i * t->d, 1,
                    0.0, z, 1);                                  /* z = U x/√d */
        double s = 0.0;
        for (int j = 0; j < K; j++) s += t->a[j] * (z[j] > 0 ? z[j] : 0.0);
        y[i] = s / sqrt((double)K);
    }
}

/* Single-index teachers: y_i = g(uᵀx_i). */
static void single_index_eval(const ntk_target *t, const double *X, size_t n, double *y)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)t->d, 1.0, X, (int)t->d, t->U, 1, 0.0,
                y, 1);                                           /* y = X u */
    double sqrt_d = sqrt((double)t->d);
    for (size_t i = 0; i < n; i++) {
        double z = y[i];
        switch (t->kind) {
        case T_LINEAR: y[i] = z / sqrt_d; break;
        case T_RELU_NEURON: y[i] = z > 0 ? M_SQRT2 * z : 0.0; break;
        case T_HERMITE: y[i] = hermite_series(t->c, t->deg, z); break;
        case T_POLY: y[i] = poly_series(t->c, t->deg, z); break;
        default: y[i] = gegenbauer_series(t->c, t->sqrtN, t->deg, t->d, z / sqrt_d); break;
        }
    }
}

/* X (n,d) -> y (n). */
ntk_status ntk_target_eval(const ntk_target *t, const double *X, size_t n, ntk_rng *rng,
                           double *y)
{
    if (!t || (n > 0 && (!X || !y)))
        return ntk_set_error(NTK_ERR_ARG, "ntk_target_eval: teacher, X or y is NULL");
    if (n == 0) return NTK_OK;
    if (n > INT32_MAX)
        return ntk_set_error(NTK_ERR_ARG, "ntk_target_eval: n = %zu is too large", n);
    if (!rng && (t->kind == T_NOISE || t->sigma > 0))
        return ntk_set_error(NTK_ERR_ARG, "ntk_target_eval: this teacher draws noise; pass an rng");
    if (t->kind == T_NOISE) {
        ntk_rng_normal_fill(rng, y, n);
    } else if (t->kind == T_TWO_LAYER) {
        double *z = ntk_alloc(t->K, sizeof(double), "teacher hidden layer");
        if (!z) return NTK_ERR_NOMEM;
        two_layer_eval(t, X, n, z, y);
        free(z);
    } else {
        single_index_eval(t, X, n, y);
    }
    for (size_t i = 0; t->sigma > 0 && i < n; i++) y[i] += t->sigma * ntk_rng_normal(rng);
    return ntk_check_finite(y, n, "teacher labels");
}

