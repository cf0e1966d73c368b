/* Gradient flow: adaptive integration of dθ/dt = −(η1 ∇_W L, η2 ∇_v L) with
 * GSL's embedded Runge–Kutta Prince–Dormand 8(9) pair (gsl_odeiv2). */
#include "internal.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ntk_ode {
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *drv;
    ntk_rhs_fn f;
    void *ctx;
    ntk_status rhs_status;   /* failure reported by the right-hand side */
    size_t nsteps;
    size_t nfev;
};

static int rhs_bridge(double t, const double y[], double dydt[], void *params)
{
    ntk_ode *ode = params;
    ode->nfev++;
    ntk_status st = ode->f(ode->ctx, t, y, dydt);
    if (st != NTK_OK) {
        ode->rhs_status = st;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

static void gsl_handler_off(void) { gsl_set_error_handler_off(); }

ntk_status ntk_ode_create(size_t dim, double rtol, ntk_rhs_fn f, void *ctx, ntk_ode **out)
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
    ode->drv = gsl_odeiv2_driver_alloc_y_new(&ode->sys, getenv("NTK_STEP") ? (!strcmp(getenv("NTK_STEP"),"rkf45")?gsl_odeiv2_step_rkf45:!strcmp(getenv("NTK_STEP"),"rk2")?gsl_odeiv2_step_rk2:!strcmp(getenv("NTK_STEP"),"rkck")?gsl_odeiv2_step_rkck:!strcmp(getenv("NTK_STEP"),"rk4")?gsl_odeiv2_step_rk4:gsl_odeiv2_step_rk8pd) : gsl_odeiv2_step_rk8pd, 1e-3, rtol, rtol);
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
    ode->nsteps = ode->drv->n;
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
    if (getenv("NTK_STEP_LOG")) fprintf(stderr, "ODE dim %zu: %lu tries, %lu failed, %zu rhs evaluations\n", ode->sys.dimension, ode->drv->e->count, ode->drv->e->failed_steps, ode->nfev);
    gsl_odeiv2_driver_free(ode->drv);
    free(ode);
}
