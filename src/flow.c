/* Gradient flow: adaptive integration of dθ/dt = −(η1 ∇_W L, η2 ∇_v L) with
 * an embedded Runge–Kutta pair of GSL (gsl_odeiv2), chosen by the caller's
 * right-hand side (docs/theory.md §1.8):
 *
 * - smooth (the network with erf, tanh, sigmoid, softplus, gelu or identity;
 *   the linearized model, linear in its parameters): Prince–Dormand 8(9),
 *   rk8pd, whose high order takes long steps where the solution is smooth.
 * - discontinuous (the network with relu or leaky relu): ∇_W L contains
 *   φ′(w_r·x_i/s), which jumps each time an activation pattern flips, so the
 *   right-hand side jumps across the surfaces w_r·x_i = 0. A step that
 *   straddles one has a local error O(h·jump) whatever the order of the
 *   method, while GSL's control scales a rejected step by
 *   0.9·(err/tol)^(−1/q) (at least 1/5), q the order of the pair: with q = 8
 *   rk8pd shrinks and regrows its step slowly around every crossing and
 *   crawls (tests/test_flow.c measures the cost of both pairs on one relu
 *   flow). Runge–Kutta–Fehlberg 4(5), rkf45 (q = 4), with 6 stages per step
 *   against rk8pd's 13, gets through a crossing in a few steps. Between
 *   crossings the flow of a relu network is smooth (for fixed patterns
 *   ∇_W L is linear in W), where order 4 at these tolerances costs little
 *   more than order 8.
 *
 * Both use the error control |err_i| ≤ rtol·(1 + |y_i|) per step. */
#include "internal.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <pthread.h>

struct ntk_ode {
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *drv;
    ntk_rhs_fn f;
    void *ctx;
    ntk_status rhs_status;   /* failure reported by the right-hand side */
    size_t nsteps;           /* accepted steps since creation */
};

static int rhs_bridge(double t, const double y[], double dydt[], void *params)
{
    ntk_ode *ode = params;
    ntk_status st = ode->f(ode->ctx, t, y, dydt);
    if (st != NTK_OK) {
        ode->rhs_status = st;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

static void gsl_handler_off(void) { gsl_set_error_handler_off(); }

ntk_status ntk_ode_create(size_t dim, double rtol, int smooth, ntk_rhs_fn f, void *ctx,
                          ntk_ode **out)
{
    *out = NULL;
    if (!(rtol > 0) || rtol >= 1)
        return ntk_set_error(NTK_ERR_ARG, "ODE tolerance must be in (0, 1), got %g", rtol);
    /* GSL's default handler aborts the process; the library must not. Its
     * handler is process-wide state: switched off once. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gsl_handler_off);
    ntk_ode *ode = ntk_calloc(1, sizeof *ode, "ODE integrator");
    if (!ode) return NTK_ERR_NOMEM;
    ode->f = f;
    ode->ctx = ctx;
    ode->sys.function = rhs_bridge;
    ode->sys.jacobian = NULL;
    ode->sys.dimension = dim;
    ode->sys.params = ode;
    const gsl_odeiv2_step_type *type = smooth ? gsl_odeiv2_step_rk8pd : gsl_odeiv2_step_rkf45;
    ode->drv = gsl_odeiv2_driver_alloc_y_new(&ode->sys, type, 1e-3, rtol, rtol);
    if (!ode->drv) {
        free(ode);
        return ntk_set_error(NTK_ERR_NOMEM, "could not allocate the ODE integrator (dimension %zu)", dim);
    }
    *out = ode;
    return NTK_OK;
}

ntk_status ntk_ode_advance(ntk_ode *ode, double *t, double t1, double *y)
{
    if (t1 <= *t) return NTK_OK;
    ode->rhs_status = NTK_OK;
    int rc = gsl_odeiv2_driver_apply(ode->drv, t, t1, y);
    ode->nsteps += ode->drv->n;   /* the driver counts the steps of this call */
    if (rc == GSL_SUCCESS) return NTK_OK;
    if (ode->rhs_status != NTK_OK) return ode->rhs_status;
    return ntk_set_error(NTK_ERR_DIVERGED,
                         "gradient flow: the integrator could not meet the tolerance at t = %g "
                         "(GSL: %s); the flow may be diverging: use smaller rates",
                         *t, gsl_strerror(rc));
}

size_t ntk_ode_nsteps(const ntk_ode *ode) { return ode->nsteps; }

void ntk_ode_reset(ntk_ode *ode) { gsl_odeiv2_driver_reset(ode->drv); }

void ntk_ode_free(ntk_ode *ode)
{
    if (!ode) return;
    gsl_odeiv2_driver_free(ode->drv);
    free(ode);
}
