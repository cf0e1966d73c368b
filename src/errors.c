/* Status codes and the thread's last error message (set on failure, cleared
 * at the start of every public call), and the checks that turn a NaN or an
 * Inf into an error naming its cause. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_errmsg[1024] = "";

const char *ntk_errmsg(void) { return g_errmsg[0] ? g_errmsg : "no error"; }

void ntk_clear_error(void) { g_errmsg[0] = '\0'; }

ntk_status ntk_set_error(ntk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *ntk_status_name(ntk_status st)
{
    switch (st) {
    case NTK_OK: return "NTK_OK";
    case NTK_ERR_ARG: return "NTK_ERR_ARG";
    case NTK_ERR_NOMEM: return "NTK_ERR_NOMEM";
    case NTK_ERR_IO: return "NTK_ERR_IO";
    case NTK_ERR_FORMAT: return "NTK_ERR_FORMAT";
    case NTK_ERR_NONFINITE: return "NTK_ERR_NONFINITE";
    case NTK_ERR_DIVERGED: return "NTK_ERR_DIVERGED";
    case NTK_ERR_LAPACK: return "NTK_ERR_LAPACK";
    case NTK_ERR_INTERRUPTED: return "NTK_ERR_INTERRUPTED";
    case NTK_ERR_NOCONV: return "NTK_ERR_NOCONV";
    }
    return "NTK_ERR_UNKNOWN";
}

ntk_status ntk_check_finite(const double *x, size_t count, const char *what)
{
    ntk_clear_error();
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(x[i]))
            return ntk_set_error(NTK_ERR_NONFINITE,
                                 "%s contains %s at flat index %zu; clean the data first",
                                 what, isnan(x[i]) ? "NaN" : "Inf", i);
    }
    return NTK_OK;
}

ntk_status ntk_check_result(const double *x, size_t rows, size_t cols, const char *what,
                            const char *fix)
{
    size_t count = rows * cols;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return ntk_set_error(NTK_ERR_NONFINITE, "%s is %s at (%zu, %zu): %s", what,
                                 isnan(x[i]) ? "NaN" : "infinite", i / cols, i % cols, fix);
    return NTK_OK;
}

ntk_status ntk_check_input_scale(const double *X, size_t n, size_t d, double s, const char *what)
{
    /* ‖x‖/s by dnrm2 (which does not overflow), then its square */
    for (size_t i = 0; i < n; i++) {
        double r = ntk_nrm2(d, X + i * d) / s;
        if (!isfinite(r * r))
            return ntk_set_error(NTK_ERR_NONFINITE,
                                 "%s: row %zu has ||x||^2/s^2 = %g, beyond double precision; "
                                 "rescale the inputs (e.g. standardize them)",
                                 what, i, r * r);
    }
    return NTK_OK;
}

