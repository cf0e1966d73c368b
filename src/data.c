/* Synthetic inputs, teacher functions, standardisation and datasets.
 *
 * Teachers (ntk_target_create), with u a direction drawn from the teacher's
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
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Specs: "name", "name:key=value,key=value" or "name,key=value,..."
 * ------------------------------------------------------------------- */

#define SPEC_MAX_OPTS 80

typedef struct {
    char key[24];
    double value;
} spec_opt;

typedef struct {
    const char *name;   /* points into the spec; not NUL-terminated */
    size_t name_len;
    int n_opts;
    spec_opt opts[SPEC_MAX_OPTS];
} spec_parts;

static int spec_name_is(const spec_parts *sp, const char *word)
{
    return strlen(word) == sp->name_len && memcmp(sp->name, word, sp->name_len) == 0;
}

/* One "key=value" option [s, e) -> o. */
static ntk_status spec_option(const char *spec, const char *s, const char *e, spec_opt *o)
{
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq || eq == s || eq + 1 == e)
        return ntk_set_error(NTK_ERR_ARG, "option '%.*s' in '%s' needs the form key=value",
                             (int)(e - s), s, spec);
    if ((size_t)(eq - s) >= sizeof o->key)
        return ntk_set_error(NTK_ERR_ARG, "option name '%.*s' in '%s' is too long",
                             (int)(eq - s), s, spec);
    memcpy(o->key, s, (size_t)(eq - s));
    o->key[eq - s] = '\0';
    char *end;
    o->value = strtod(eq + 1, &end);
    if (end != e || !isfinite(o->value))
        return ntk_set_error(NTK_ERR_ARG, "option '%.*s' in '%s': '%.*s' is not a finite number",
                             (int)(e - s), s, spec, (int)(e - eq - 1), eq + 1);
    return NTK_OK;
}

static ntk_status spec_parse(const char *spec, spec_parts *sp)
{
    if (!spec || !*spec) return ntk_set_error(NTK_ERR_ARG, "spec is empty");
    sp->name = spec;
    sp->name_len = strcspn(spec, ":,");
    sp->n_opts = 0;
    const char *s = spec + sp->name_len;
    while (*s) {
        s++;   /* the ':' or ',' before this option */
        const char *e = s + strcspn(s, ",");
        if (sp->n_opts == SPEC_MAX_OPTS)
            return ntk_set_error(NTK_ERR_ARG, "'%s' has more than %d options", spec,
                                 SPEC_MAX_OPTS);
        NTK_TRY(spec_option(spec, s, e, &sp->opts[sp->n_opts++]));
        s = e;
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * Synthetic inputs
 * ------------------------------------------------------------------- */

typedef enum { IN_GAUSSIAN = 0, IN_SPHERE, IN_UNIT_SPHERE, IN_COUNT } input_kind;
static const char *const input_names[IN_COUNT] = {"gaussian", "sphere", "unit-sphere"};

/* The input kind named by sp, or IN_COUNT. */
static input_kind input_kind_of(const spec_parts *sp)
{
    int k = 0;
    while (k < IN_COUNT && !spec_name_is(sp, input_names[k])) k++;
    return (input_kind)k;
}

/* spec -> kind and decay exponent P (0 unless gaussian:decay=P). */
static ntk_status inputs_parse(const char *spec, input_kind *kind, double *P)
{
    spec_parts sp;
    NTK_TRY(spec_parse(spec, &sp));
    *kind = input_kind_of(&sp);
    if (*kind == IN_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "unknown inputs '%s'; choose gaussian, "
                             "gaussian:decay=P, sphere or unit-sphere", spec);
    *P = 0.0;
    for (int i = 0; i < sp.n_opts; i++) {
        if (*kind != IN_GAUSSIAN || strcmp(sp.opts[i].key, "decay") != 0)
            return ntk_set_error(NTK_ERR_ARG, "unknown option '%s' in inputs '%s'; only "
                                 "gaussian takes an option (decay=P)", sp.opts[i].key, spec);
        *P = sp.opts[i].value;
        if (*P < 0)
            return ntk_set_error(NTK_ERR_ARG, "inputs '%s': decay must be >= 0", spec);
    }
    return NTK_OK;
}

/* x (d) ~ uniform on the unit sphere: a normalised Gaussian vector. */
static void unit_normal(ntk_rng *rng, size_t d, double *x)
{
    double norm;
    do {
        ntk_rng_normal_fill(rng, x, d);
        norm = cblas_dnrm2((int)d, x, 1);
    } while (norm == 0.0);
    cblas_dscal((int)d, 1.0 / norm, x, 1);
}

/* X (n,d) ~ N(0, Σ), Σ = diag(c·k^-P), c chosen so that Tr Σ = d. */
static ntk_status gaussian_decay(double P, size_t n, size_t d, ntk_rng *rng, double *X)
{
    double *sd = ntk_alloc(d, sizeof(double), "input standard deviations");
    if (!sd) return NTK_ERR_NOMEM;
    double trace = 0.0;
    for (size_t k = 0; k < d; k++) trace += pow((double)(k + 1), -P);
    for (size_t k = 0; k < d; k++) sd[k] = sqrt((double)d * pow((double)(k + 1), -P) / trace);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) X[i * d + k] = sd[k] * ntk_rng_normal(rng);
    free(sd);
    return NTK_OK;
}

/* X (n,d) by spec, drawn row after row from rng. */
ntk_status ntk_inputs_generate(const char *spec, size_t n, size_t d, ntk_rng *rng, double *X)
{
    input_kind kind;
    double P;
    NTK_TRY(inputs_parse(spec, &kind, &P));
    if (d == 0 || d > INT32_MAX)
        return ntk_set_error(NTK_ERR_ARG, "inputs '%s': d must be in 1..%d, got %zu", spec,
                             INT32_MAX, d);
    if (n == 0) return NTK_OK;
    if (!rng || !X) return ntk_set_error(NTK_ERR_ARG, "ntk_inputs_generate: rng or X is NULL");
    if (kind == IN_GAUSSIAN && P > 0) return gaussian_decay(P, n, d, rng, X);
    if (kind == IN_GAUSSIAN) {
        ntk_rng_normal_fill(rng, X, n * d);
        return NTK_OK;
    }
    double radius = kind == IN_SPHERE ? sqrt((double)d) : 1.0;
    for (size_t i = 0; i < n; i++) {
        unit_normal(rng, d, X + i * d);
        cblas_dscal((int)d, radius, X + i * d, 1);
    }
    return NTK_OK;
}

/* ---------------------------------------------------------------------
 * Teachers
 * ------------------------------------------------------------------- */

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
        unit_normal(rng, t->d, t->U);                          /* u = g/‖g‖ */
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

/* ---------------------------------------------------------------------
 * Standardisation
 * ------------------------------------------------------------------- */

/* X (n,d) -> mean (d) and scale with Tr Σ̂ = d after x ↦ scale·(x − mean),
 * where Σ̂ = 1/n Σ_i (x_i − mean)(x_i − mean)ᵀ (divisor n). */
ntk_status ntk_standardize_fit(const double *X, size_t n, size_t d, double *mean,
                               double *scale)
{
    if (!X || !mean || !scale || n == 0 || d == 0)
        return ntk_set_error(NTK_ERR_ARG, "ntk_standardize_fit: empty data or NULL output");
    memset(mean, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += X[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    double ss = 0.0;   /* n·Tr Σ̂ */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double r = X[i * d + j] - mean[j];
            ss += r * r;
        }
    if (!isfinite(ss))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows %s", n,
                             ntk_check_finite(X, n * d, "X") == NTK_OK
                                 ? "are so large that their squares overflow; rescale the data"
                                 : "contain NaN or Inf");
    if (!(ss > 0))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows are all identical",
                             n);
    *scale = sqrt((double)d * (double)n / ss);
    if (!isfinite(*scale))
        return ntk_set_error(NTK_ERR_ARG, "cannot standardise: the %zu rows differ by so little "
                             "(n·Tr Σ̂ = %.3g) that the scale overflows; rescale the data or "
                             "drop standardisation", n, ss);
    return NTK_OK;
}

/* X (n,d) ← scale·(X − 1 meanᵀ). */
void ntk_standardize_apply(double *X, size_t n, size_t d, const double *mean, double scale)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) X[i * d + j] = scale * (X[i * d + j] - mean[j]);
}

/* ---------------------------------------------------------------------
 * Datasets
 * ------------------------------------------------------------------- */

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A copy of s split at ':' -> field[0..min(*count, max)); caller frees *copy. */
static ntk_status split_fields(const char *s, char **copy, char **field, int max, int *count)
{
    size_t len = strlen(s);
    *copy = ntk_alloc(len + 1, 1, "data spec");
    if (!*copy) return NTK_ERR_NOMEM;
    memcpy(*copy, s, len + 1);
    int k = 0;
    for (char *p = *copy; p; k++) {
        if (k < max) field[k] = p;
        p = strchr(p, ':');
        if (p) *p++ = '\0';
    }
    *count = k;
    return NTK_OK;
}

/* "POS,NEG" -> two class numbers (range checked by the loaders). */
static ntk_status parse_classes(const char *spec, const char *s, int *pos, int *neg)
{
    char *end;
    long p = strtol(s, &end, 10), q = -1;
    int ok = end != s && *end == ',';
    if (ok) {
        const char *t = end + 1;
        q = strtol(t, &end, 10);
        ok = end != t && *end == '\0';
    }
    if (!ok || p < 0 || p > 9 || q < 0 || q > 9)
        return ntk_set_error(NTK_ERR_ARG, "data '%s': classes must be 'POS,NEG' with digits "
                             "0..9, e.g. 3,5", spec);
    *pos = (int)p;
    *neg = (int)q;
    return NTK_OK;
}

/* The labels of a data file as a 1-d array with `rows` entries. */
static ntk_status check_labels(const char *path, const ntk_array *y, size_t rows)
{
    if (y->ndim == 2 && y->cols != 1)
        return ntk_set_error(NTK_ERR_ARG, "%s has shape (%zu, %zu); labels must be 1-d", path,
                             y->rows, y->cols);
    if (y->rows != rows)
        return ntk_set_error(NTK_ERR_ARG, "%s has %zu labels but the inputs have %zu rows", path,
                             y->rows, rows);
    return NTK_OK;
}

/* Inputs read from `path` need at least one row and one column. */
static ntk_status check_inputs_shape(const char *spec, const char *path, const ntk_array *X)
{
    if (X->rows > 0 && X->cols > 0) return NTK_OK;
    char shape[64];
    if (X->ndim == 1) snprintf(shape, sizeof shape, "(%zu,)", X->rows);
    else snprintf(shape, sizeof shape, "(%zu, %zu)", X->rows, X->cols);
    return ntk_set_error(NTK_ERR_ARG, "data '%s': %s has shape %s, no %s; the inputs must be an "
                         "(n, d) array with n >= 1 rows and d >= 1 columns", spec, path, shape,
                         X->rows == 0 ? "rows" : "columns");
}

/* "X.npy[:y.npy]" */
static ntk_status load_npy_spec(const char *spec, char **f, int nf, ntk_array *X, ntk_array *y)
{
    if (nf < 2 || nf > 3)
        return ntk_set_error(NTK_ERR_ARG, "data '%s': use npy:X.npy or npy:X.npy:y.npy", spec);
    NTK_TRY(ntk_npy_read(f[1], X));
    NTK_TRY(check_inputs_shape(spec, f[1], X));
    if (nf == 2) return NTK_OK;
    NTK_TRY(ntk_npy_read(f[2], y));
    return check_labels(f[2], y, X->rows);
}

#define CSV_SPEC_FORMS "use csv:FILE or csv:FILE:OPTIONS with OPTIONS from target=COL and " \
                       "header=yes|no|auto separated by ',', e.g. csv:f.csv:target=0,header=no"

/* One CSV option [s, e) -> *col or *header; seen: bit 1 target, bit 2 header. */
static ntk_status csv_option(const char *spec, const char *s, const char *e, int *seen, long *col,
                             ntk_csv_header *header)
{
    int len = (int)(e - s);
    int is_target = has_prefix(s, "target=") && len >= 7;
    int is_header = has_prefix(s, "header=") && len >= 7;
    if ((is_target && (*seen & 1)) || (is_header && (*seen & 2)))
        return ntk_set_error(NTK_ERR_ARG, "data '%s': option '%.6s' is given twice; "
                             CSV_SPEC_FORMS, spec, s);
    if (is_target) {
        char *end;
        *col = strtol(s + 7, &end, 10);
        *seen |= 1;
        if (end == s + 7 || end != e || *col < -1 || *col > INT32_MAX)
            return ntk_set_error(NTK_ERR_ARG, "data '%s': '%.*s' needs a column number (0 for "
                                 "the first, -1 for the last); " CSV_SPEC_FORMS, spec, len, s);
        return NTK_OK;
    }
    if (is_header) {
        static const char *const words[3] = {"auto", "yes", "no"};
        static const ntk_csv_header modes[3] = {NTK_CSV_HEADER_AUTO, NTK_CSV_HEADER_YES,
                                                NTK_CSV_HEADER_NO};
        *seen |= 2;
        for (int k = 0; k < 3; k++)
            if ((size_t)(len - 7) == strlen(words[k]) && memcmp(s + 7, words[k], (size_t)(len - 7)) == 0) {
                *header = modes[k];
                return NTK_OK;
            }
        return ntk_set_error(NTK_ERR_ARG, "data '%s': '%.*s' must be header=yes, header=no or "
                             "header=auto; " CSV_SPEC_FORMS, spec, len, s);
    }
    return ntk_set_error(NTK_ERR_ARG, "data '%s': unknown CSV option '%.*s'; " CSV_SPEC_FORMS, spec,
                         len, s);
}

/* "FILE[:OPTIONS]" */
static ntk_status load_csv_spec(const char *spec, char **f, int nf, ntk_array *X, ntk_array *y)
{
    if (nf < 2 || nf > 3) return ntk_set_error(NTK_ERR_ARG, "data '%s': " CSV_SPEC_FORMS, spec);
    long col = -1;
    ntk_csv_header header = NTK_CSV_HEADER_AUTO;
    int seen = 0;
    for (const char *s = nf == 3 ? f[2] : NULL; s;) {
        const char *e = s + strcspn(s, ",");
        NTK_TRY(csv_option(spec, s, e, &seen, &col, &header));
        s = *e ? e + 1 : NULL;
    }
    return ntk_load_csv(f[1], (int)col, header, X, y);
}

/* Inputs (and labels, when the source has them) named by a file spec. */
static ntk_status load_file_spec(const char *spec, size_t max_n, ntk_array *X, ntk_array *y)
{
    char *copy, *f[4];
    int nf, pos, neg;
    NTK_TRY(split_fields(spec, &copy, f, 4, &nf));
    ntk_status st;
    if (has_prefix(spec, "npy:")) {
        st = load_npy_spec(spec, f, nf, X, y);
    } else if (has_prefix(spec, "csv:")) {
        st = load_csv_spec(spec, f, nf, X, y);
    } else if (has_prefix(spec, "cifar10:")) {
        st = nf != 3 ? ntk_set_error(NTK_ERR_ARG, "data '%s': use cifar10:FILE:POS,NEG", spec)
                     : parse_classes(spec, f[2], &pos, &neg);
        if (st == NTK_OK) st = ntk_load_cifar10(f[1], pos, neg, max_n, X, y);
    } else {
        st = nf != 4 ? ntk_set_error(NTK_ERR_ARG, "data '%s': use mnist:IMAGES:LABELS:POS,NEG",
                                     spec)
                     : parse_classes(spec, f[3], &pos, &neg);
        if (st == NTK_OK) st = ntk_load_mnist(f[1], f[2], pos, neg, max_n, X, y);
    }
    if (st == NTK_OK) st = check_inputs_shape(spec, f[1], X);
    free(copy);
    return st;
}

static int is_file_spec(const char *spec)
{
    return has_prefix(spec, "npy:") || has_prefix(spec, "csv:") || has_prefix(spec, "cifar10:") ||
           has_prefix(spec, "mnist:");
}

/* rows = n + n_test synthetic inputs (train first, then test) from rng. */
static ntk_status make_synthetic(const char *spec, size_t rows, size_t d, ntk_rng *rng,
                                 ntk_array *X)
{
    NTK_TRY(ntk_mem_check(ntk_size_mul(rows, d, sizeof(double), 1), 0, "synthetic inputs"));
    X->data = ntk_alloc(rows * d, sizeof(double), "synthetic inputs");
    if (!X->data) return NTK_ERR_NOMEM;
    X->rows = rows;
    X->cols = d;
    X->ndim = 2;
    return ntk_inputs_generate(spec, rows, d, rng, X->data);
}

/* X (rows,d) -> inputs by spec; y gets the file's labels if it has any. */
static ntk_status load_inputs(const char *spec, size_t n, size_t n_test, size_t d, ntk_rng *rng,
                              ntk_array *X, ntk_array *y)
{
    if (is_file_spec(spec)) return load_file_spec(spec, n > 0 ? n + n_test : 0, X, y);
    spec_parts sp;
    NTK_TRY(spec_parse(spec, &sp));
    if (input_kind_of(&sp) == IN_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "unknown data '%s'; choose gaussian, gaussian:decay=P, "
                             "sphere, unit-sphere, npy:X.npy[:y.npy], csv:FILE[:OPTIONS], "
                             "cifar10:FILE:POS,NEG or mnist:IMAGES:LABELS:POS,NEG", spec);
    if (d == 0 || n == 0)
        return ntk_set_error(NTK_ERR_ARG, "synthetic data '%s' need n > 0 and d > 0 (got n = "
                             "%zu, d = %zu)", spec, n, d);
    return make_synthetic(spec, n + n_test, d, rng, X);
}

/* Checks X against d and resolves n = 0 to all rows but n_test. */
static ntk_status check_split(const char *spec, const ntk_array *X, size_t *n, size_t n_test,
                              size_t d)
{
    if (d != 0 && X->cols != d)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu columns but d = %zu was asked; "
                             "pass d = 0 to take it from the file", spec, X->cols, d);
    if (*n == 0 && n_test >= X->rows)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu rows, so n_test = %zu leaves none "
                             "for training; lower n_test", spec, X->rows, n_test);
    if (*n == 0) *n = X->rows - n_test;
    if (*n > X->rows || n_test > X->rows - *n)
        return ntk_set_error(NTK_ERR_ARG, "data '%s' have %zu rows but n + n_test = %zu + %zu "
                             "were asked; lower n or n_test", spec, X->rows, *n, n_test);
    return NTK_OK;
}

/* Labels for the first `rows` inputs: from target_spec when given (a
 * teacher of seed `seed`, noise from rng, or npy:y.npy), else the file's. */
static ntk_status resolve_labels(const char *data_spec, const char *target_spec, size_t rows,
                                 uint64_t seed, ntk_rng *rng, const ntk_array *X, ntk_array *y)
{
    if (!target_spec || !*target_spec) {
        if (!y->data)
            return ntk_set_error(NTK_ERR_ARG, "data '%s' carry no labels; give a target spec "
                                 "(e.g. linear, or npy:y.npy)", data_spec);
        return NTK_OK;
    }
    ntk_array_free(y);
    if (has_prefix(target_spec, "npy:")) {
        NTK_TRY(ntk_npy_read(target_spec + 4, y));
        return check_labels(target_spec + 4, y, X->rows);
    }
    ntk_target *t;
    NTK_TRY(ntk_target_create(target_spec, X->cols, seed, &t));
    y->data = ntk_alloc(rows, sizeof(double), "labels");
    y->rows = rows;
    y->cols = 1;
    y->ndim = 1;
    ntk_status st = y->data ? ntk_target_eval(t, X->data, rows, rng, y->data) : NTK_ERR_NOMEM;
    ntk_target_free(t);
    return st;
}

/* rows [from, from + count) of A (·,cols) -> a new array *out (NULL when count = 0). */
static ntk_status copy_rows(const double *A, size_t from, size_t count, size_t cols,
                            double **out)
{
    *out = NULL;
    if (count == 0) return NTK_OK;
    *out = ntk_alloc(count * cols, sizeof(double), "dataset split");
    if (!*out) return NTK_ERR_NOMEM;
    memcpy(*out, A + from * cols, count * cols * sizeof(double));
    return NTK_OK;
}

/* X (≥ n + n_test, d), y -> out: train rows first, test rows next. */
static ntk_status split_into(ntk_array *X, ntk_array *y, size_t n, size_t n_test, ntk_dataset *out)
{
    size_t d = X->cols;
    out->n = n;
    out->n_test = n_test;
    out->d = d;
    NTK_TRY(copy_rows(X->data, n, n_test, d, &out->X_test));
    NTK_TRY(copy_rows(y->data, n, n_test, 1, &out->y_test));
    NTK_TRY(copy_rows(y->data, 0, n, 1, &out->y_train));
    if (n < X->rows && n * d > 0) {   /* keep the first n rows; realloc(p, 0) would free p */
        double *shrunk = realloc(X->data, n * d * sizeof(double));
        if (shrunk) X->data = shrunk;
    }
    out->X_train = X->data;
    X->data = NULL;
    return NTK_OK;
}

static ntk_status dataset_build(const char *data_spec, const char *target_spec, size_t n,
                                size_t n_test, size_t d, uint64_t seed, int standardize,
                                ntk_dataset *out, ntk_array *X, ntk_array *y)
{
    ntk_rng rng;
    ntk_rng_seed(&rng, seed);                       /* inputs, then label noise */
    NTK_TRY(load_inputs(data_spec, n, n_test, d, &rng, X, y));
    NTK_TRY(check_split(data_spec, X, &n, n_test, d));
    if (standardize) {
        double *mean = ntk_alloc(X->cols, sizeof(double), "column means");
        if (!mean) return NTK_ERR_NOMEM;
        double scale;
        ntk_status st = ntk_standardize_fit(X->data, n, X->cols, mean, &scale);
        if (st == NTK_OK) ntk_standardize_apply(X->data, n + n_test, X->cols, mean, scale);
        free(mean);
        NTK_TRY(st);
        /* test rows far outside the training spread can leave the double range */
        for (size_t i = 0; i < (n + n_test) * X->cols; i++)
            if (!isfinite(X->data[i]))
                return ntk_set_error(NTK_ERR_ARG, "data '%s': standardised with the training "
                                     "rows' scale %.3g, %s row %zu leaves the double range; "
                                     "rescale the data or drop standardisation", data_spec,
                                     scale, i / X->cols < n ? "training" : "test",
                                     i / X->cols);
    }
    NTK_TRY(resolve_labels(data_spec, target_spec, n + n_test, seed + 1, &rng, X, y));
    return split_into(X, y, n, n_test, out);
}

ntk_status ntk_dataset_make(const char *data_spec, const char *target_spec, size_t n,
                            size_t n_test, size_t d, uint64_t seed, int standardize,
                            ntk_dataset *out)
{
    if (!out) return ntk_set_error(NTK_ERR_ARG, "ntk_dataset_make: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data_spec || !*data_spec) return ntk_set_error(NTK_ERR_ARG, "data spec is empty");
    if (n_test > SIZE_MAX / 2 || n > SIZE_MAX / 2)
        return ntk_set_error(NTK_ERR_ARG, "n = %zu or n_test = %zu is too large", n, n_test);
    ntk_array X = {0}, y = {0};
    ntk_status st = dataset_build(data_spec, target_spec, n, n_test, d, seed, standardize, out,
                                  &X, &y);
    ntk_array_free(&X);
    ntk_array_free(&y);
    if (st != NTK_OK) ntk_dataset_free(out);
    return st;
}

void ntk_dataset_free(ntk_dataset *ds)
{
    if (!ds) return;
    free(ds->X_train);
    free(ds->y_train);
    free(ds->X_test);
    free(ds->y_test);
    memset(ds, 0, sizeof *ds);
}
