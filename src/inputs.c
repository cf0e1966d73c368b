/* Synthetic inputs: Gaussian (isotropic or with a decaying spectrum) and
 * uniform on spheres. */
#include "spec.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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
int spec_is_inputs(const spec_parts *sp) { return input_kind_of(sp) != IN_COUNT; }

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
    ntk_clear_error();
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
        ntk_rng_unit_vector(rng, d, X + i * d);
        cblas_dscal((int)d, radius, X + i * d, 1);
    }
    return NTK_OK;
}

