/* Activations φ with φ' and φ'' (MATH.md §1). */
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

/* z, phi, dphi are (count); phi/dphi may be NULL or alias z. The switch sits
 * outside the loops so that each loop is a tight elementwise kernel. */
void ntk_act_apply(ntk_act act, size_t count, const double *z, double *phi, double *dphi)
{
    size_t i;
    switch (act.kind) {
    case NTK_ACT_RELU:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x > 0 ? x : 0.0;
            if (dphi) dphi[i] = x > 0 ? 1.0 : 0.0;
        }
        return;
    case NTK_ACT_LEAKY_RELU: {
        double a = act.param;
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x > 0 ? x : a * x;
            if (dphi) dphi[i] = x > 0 ? 1.0 : a;
        }
        return;
    }
    case NTK_ACT_IDENTITY:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x;
            if (dphi) dphi[i] = 1.0;
        }
        return;
    case NTK_ACT_TANH:
        for (i = 0; i < count; i++) {
            double t = tanh(z[i]);
            if (phi) phi[i] = t;
            if (dphi) dphi[i] = 1.0 - t * t;
        }
        return;
    case NTK_ACT_SIGMOID:
        for (i = 0; i < count; i++) {
            double s = sigmoid(z[i]);
            if (phi) phi[i] = s;
            if (dphi) dphi[i] = s * (1.0 - s);
        }
        return;
    default:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = ntk_act_phi(act, x);
            if (dphi) dphi[i] = ntk_act_dphi(act, x);
        }
        return;
    }
}
