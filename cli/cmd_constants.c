/* ntkit constants: the Gaussian constants of an activation (docs/theory.md §4). */
#include "cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * ntkit constants
 * ==================================================================== */

static const cli_flag constants_flags[] = {
    {"act", 1, "NAME", "activation: relu|leaky_relu|erf|tanh|sigmoid|softplus|gelu|identity (required)"},
    {"act-param", 1, "A", "activation parameter: leaky_relu slope (default 0.1)"},
    {"trace-factor", 1, "F", "sqrt(Tr Sigma^2/d) of the inputs, multiplies nu (default 1: isotropic)"},
    {"quad-order", 1, "Q", "Gauss-Hermite order for smooth activations (default 0: library default)"},
};
#define NCONST_FLAGS (sizeof constants_flags / sizeof constants_flags[0])

int cmd_constants(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, constants_flags, NCONST_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("constants", "--act NAME [options]",
                  "Print the Gaussian constants of the activation (g ~ N(0,1)) as JSON:\n"
                  "  zeta = E[phi'(g)], nu = E[g phi'(g)] * trace_factor, theta0 = E[phi(g)],\n"
                  "  theta1 = E[g phi'(g)], theta2 = E[(g^3/2 - g) phi'(g)], e_phi2 = E[phi(g)^2],\n"
                  "  e_dphi2 = E[phi'(g)^2].",
                  constants_flags, NCONST_FLAGS);
        return 0;
    }
    if (a.npositional) return cli_fail("unexpected argument '%s'", a.positional[0]);
    const char *name = cli_str(&a, "act", NULL);
    if (!name) return cli_fail("--act NAME is required, e.g. --act relu");
    double param, tf;
    int q;
    if (cli_double(&a, "act-param", NTK_LEAKY_SLOPE, -INFINITY, &param) ||
        cli_double(&a, "trace-factor", 1.0, 0.0, &tf) || cli_int(&a, "quad-order", 0, 0, 1 << 20, &q))
        return 1;
    ntk_act act;
    if (ntk_act_parse(name, param, &act) != NTK_OK) return cli_fail_lib("--act");
    ntk_constants c;
    if (ntk_constants_compute(act, tf, q, &c) != NTK_OK) return cli_fail_lib("constants");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "act", ntk_act_name(act.kind));
    cJSON_AddNumberToObject(o, "act_param", act.param);
    cJSON_AddNumberToObject(o, "zeta", c.zeta);
    cJSON_AddNumberToObject(o, "nu", c.nu);
    cJSON_AddNumberToObject(o, "theta0", c.theta0);
    cJSON_AddNumberToObject(o, "theta1", c.theta1);
    cJSON_AddNumberToObject(o, "theta2", c.theta2);
    cJSON_AddNumberToObject(o, "e_phi2", c.e_phi2);
    cJSON_AddNumberToObject(o, "e_dphi2", c.e_dphi2);
    cJSON_AddNumberToObject(o, "trace_factor", c.trace_factor);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return cli_fail("could not format JSON");
    printf("%s\n", text);
    free(text);
    return 0;
}

