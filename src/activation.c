/* Activations φ with φ' and φ'' (docs/theory.md §1). */
#include "internal.h"

#include <math.h>
#include <string.h>

static const char *const act_names[NTK_ACT_COUNT] = {
    "relu", "leaky_relu", "erf", "tanh", "sigmoid", "softplus", "gelu", "identity",
};

const char *ntk_act_name(ntk_act_kind kind)
{
    return (kind >= 0 && kind < NTK_ACT_COUNT) ? act_names[kind] : "unknown";
}

ntk_status ntk_act_parse(const char *name, double param, ntk_act *out)
{
    ntk_clear_error();
    if (!name || !out) return ntk_set_error(NTK_ERR_ARG, "activation name is missing");
    for (int k = 0; k < NTK_ACT_COUNT; k++) {
        if (strcmp(name, act_names[k]) == 0 ||
            (k == NTK_ACT_LEAKY_RELU && strcmp(name, "leaky-relu") == 0)) {
            if (!isfinite(param))
                return ntk_set_error(NTK_ERR_ARG, "activation parameter must be finite");
            out->kind = (ntk_act_kind)k;
            out->param = k == NTK_ACT_LEAKY_RELU ? param : 0.0;
            return NTK_OK;
        }
    }
    return ntk_set_error(NTK_ERR_ARG,
                         "unknown activation '%s'; choose relu, leaky_relu, erf, tanh, sigmoid, "
                         "softplus, gelu or identity",
                         name);
}

int ntk_act_piecewise_linear(ntk_act act)
{
    return act.kind == NTK_ACT_RELU || act.kind == NTK_ACT_LEAKY_RELU ||
           act.kind == NTK_ACT_IDENTITY;
}

#define INV_SQRT_PI 0.56418958354775628695   /* 1/√π */
#define INV_SQRT_2PI 0.39894228040143267794  /* 1/√(2π) */

static inline double sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + e^x) without overflow */
static inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Standard normal cdf Φ(x) */
static inline double norm_cdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }

double ntk_act_phi(ntk_act act, double x)
{
    switch (act.kind) {
    case NTK_ACT_RELU: return x > 0 ? x : 0.0;
    case NTK_ACT_LEAKY_RELU: return x > 0 ? x : act.param * x;
    case NTK_ACT_ERF: return erf(x);
    case NTK_ACT_TANH: return tanh(x);
    case NTK_ACT_SIGMOID: return sigmoid(x);
    case NTK_ACT_SOFTPLUS: return softplus(x);
    case NTK_ACT_GELU: return x * norm_cdf(x);
    case NTK_ACT_IDENTITY: return x;
    default: return NAN;
    }
}

double ntk_act_dphi(ntk_act act, double x)
{
    switch (act.kind) {
    case NTK_ACT_RELU: return x > 0 ? 1.0 : 0.0;
    case NTK_ACT_LEAKY_RELU: return x > 0 ? 1.0 : act.param;
    case NTK_ACT_ERF: return 2.0 * INV_SQRT_PI * exp(-x * x);
    case NTK_ACT_TANH: {
        double t = tanh(x);
        return 1.0 - t * t;
    }
    case NTK_ACT_SIGMOID: {
        double s = sigmoid(x);
        return s * (1.0 - s);
    }
    case NTK_ACT_SOFTPLUS: return sigmoid(x);
    case NTK_ACT_GELU: return norm_cdf(x) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
    case NTK_ACT_IDENTITY: return 1.0;
    default: return NAN;
    }
}

double ntk_act_d2phi(ntk_act act, double x)
{
    switch (act.kind) {
    case NTK_ACT_RELU:
    case NTK_ACT_LEAKY_RELU:
    case NTK_ACT_IDENTITY: return 0.0; /* almost everywhere */
    case NTK_ACT_ERF: return -4.0 * x * INV_SQRT_PI * exp(-x * x);
    case NTK_ACT_TANH: {
        double t = tanh(x);
        return -2.0 * t * (1.0 - t * t);
    }
    case NTK_ACT_SIGMOID: {
        double s = sigmoid(x);
        return s * (1.0 - s) * (1.0 - 2.0 * s);
    }
    case NTK_ACT_SOFTPLUS: {
        double s = sigmoid(x);
        return s * (1.0 - s);
    }
    case NTK_ACT_GELU: return INV_SQRT_2PI * exp(-0.5 * x * x) * (2.0 - x * x);
    default: return NAN;
    }
}

typedef struct {
    ntk_act act;
    const double *z;
    double *phi, *dphi;
} act_job;

/* φ and φ' of len values x into phi/dphi (either may be NULL). The inputs
 * sit in a private buffer, so the outputs cannot alias them and each loop is
 * a plain vectorisable map. */
static void act_block(ntk_act act, size_t len, const double *restrict x, double *restrict phi,
                      double *restrict dphi)
{
    size_t i;
    switch (act.kind) {
    case NTK_ACT_ERF:
        if (phi) for (i = 0; i < len; i++) phi[i] = erf(x[i]);
        if (dphi) for (i = 0; i < len; i++) dphi[i] = 2.0 * INV_SQRT_PI * exp(-x[i] * x[i]);
        return;
    case NTK_ACT_TANH:
        for (i = 0; i < len; i++) {
            double t = tanh(x[i]);
            if (phi) phi[i] = t;
            if (dphi) dphi[i] = 1.0 - t * t;
        }
        return;
    case NTK_ACT_SIGMOID:
        for (i = 0; i < len; i++) {
            double sg = sigmoid(x[i]);
            if (phi) phi[i] = sg;
            if (dphi) dphi[i] = sg * (1.0 - sg);
        }
        return;
    default:
        if (phi) for (i = 0; i < len; i++) phi[i] = ntk_act_phi(act, x[i]);
        if (dphi) for (i = 0; i < len; i++) dphi[i] = ntk_act_dphi(act, x[i]);
        return;
    }
}

/* One chunk [i0,i1) of an elementwise map, in pieces of ACT_PIECE values. */
#define ACT_PIECE 512
static void act_chunk(void *ctx, size_t i0, size_t i1)
{
    const act_job *j = ctx;
    double x[ACT_PIECE];
    for (size_t b = i0; b < i1; b += ACT_PIECE) {
        size_t len = i1 - b < ACT_PIECE ? i1 - b : ACT_PIECE;
        memcpy(x, j->z + b, len * sizeof(double));
        act_block(j->act, len, x, j->phi ? j->phi + b : NULL, j->dphi ? j->dphi + b : NULL);
    }
}

/* The piecewise-linear maps are memory-bound: one pass over z, no threads
 * (splitting them costs more in thread start-up than it saves). Each element
 * is read before either output is written, so the outputs may alias z. */
static void act_piecewise(ntk_act act, size_t count, const double *z, double *phi, double *dphi)
{
    /* the per-element NULL tests are hoisted by the compiler; with constant
     * arms the conditionals compile to masks (measured 3x faster than forms
     * with a variable slope, which compile to branches) */
    double a = act.param;
    size_t i;
    switch (act.kind) {
    case NTK_ACT_RELU:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x > 0 ? x : 0.0;
            if (dphi) dphi[i] = x > 0 ? 1.0 : 0.0;
        }
        return;
    case NTK_ACT_LEAKY_RELU:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x > 0 ? x : a * x;
            if (dphi) dphi[i] = x > 0 ? 1.0 : a;
        }
        return;
    default: /* identity */
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x;
            if (dphi) dphi[i] = 1.0;
        }
        return;
    }
}

/* z, phi, dphi are (count); phi/dphi may be NULL or alias z. The smooth maps
 * (transcendental, compute-bound) are split over threads; each element is
 * independent, so the result does not depend on the thread count. */
void ntk_act_apply(ntk_act act, size_t count, const double *z, double *phi, double *dphi)
{
    if (ntk_act_piecewise_linear(act)) {
        act_piecewise(act, count, z, phi, dphi);
        return;
    }
    act_job j = {act, z, phi, dphi};
    ntk_parallel_for(count, act_chunk, &j);
}

typedef struct {
    double *G;
    const double *S;
    size_t m;
    const double *r, *v;
} scale_job;

static void scale_chunk(void *ctx, size_t i0, size_t i1)
{
    const scale_job *j = ctx;
    for (size_t i = i0; i < i1; i++) {
        double *Gi = j->G + i * j->m;
        const double *Si = j->S + i * j->m;
        double ri = j->r[i];
        if (j->v)
            for (size_t k = 0; k < j->m; k++) Gi[k] = Si[k] * ri * j->v[k];
        else
            for (size_t k = 0; k < j->m; k++) Gi[k] = Si[k] * ri;
    }
}

/* G (B,m) = S ⊙ r vᵀ, i.e. G_ik = S_ik · r_i · v_k (v NULL: all ones); G may
 * be S. */
void ntk_scale_rows_cols(double *G, const double *S, size_t B, size_t m, const double *r,
                         const double *v)
{
    /* memory-bound: one pass, no threads */
    scale_job j = {G, S, m, r, v};
    scale_chunk(&j, 0, B);
}

/* sup |φ'| and sup |φ''| over the real line (docs/theory.md §7.4). */
void ntk_act_sup(ntk_act act, double *L1, double *L2)
{
    const double sqrt_pi = 1.7724538509055160273;
    switch (act.kind) {
    case NTK_ACT_ERF:      /* φ' = 2/√π e^{−x²}; |φ''| peaks at x = 1/√2 */
        *L1 = 2.0 / sqrt_pi;
        *L2 = 4.0 / sqrt_pi * M_SQRT1_2 * exp(-0.5);
        return;
    case NTK_ACT_TANH:     /* |φ''| = 2|t|(1 − t²) peaks at t² = 1/3 */
        *L1 = 1.0;
        *L2 = 4.0 / (3.0 * sqrt(3.0));
        return;
    case NTK_ACT_SIGMOID:  /* φ' <= 1/4; |σ(1−σ)(1−2σ)| peaks at 1/(6√3) */
        *L1 = 0.25;
        *L2 = 1.0 / (6.0 * sqrt(3.0));
        return;
    case NTK_ACT_SOFTPLUS: /* φ' = σ < 1, φ'' = σ(1−σ) <= 1/4 */
        *L1 = 1.0;
        *L2 = 0.25;
        return;
    case NTK_ACT_GELU:     /* φ'' = ϕ(x)(2 − x²): φ' peaks at x = √2, |φ''| at 0 */
        *L1 = ntk_act_dphi(act, sqrt(2.0));
        *L2 = 2.0 / sqrt(2.0 * M_PI);
        return;
    case NTK_ACT_LEAKY_RELU:
        *L1 = fmax(1.0, fabs(act.param));
        *L2 = INFINITY;
        return;
    default:
        *L1 = 1.0;
        *L2 = act.kind == NTK_ACT_IDENTITY ? 0.0 : INFINITY;
        return;
    }
}
