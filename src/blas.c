/* The BLAS's index limit and level-1 operations over counts of any size
 * (the BLAS takes int counts; the library's arrays may be longer). */
#include "internal.h"

#include <cblas.h>
#include <math.h>

size_t ntk_blas_int_max(void)
{
    return sizeof(blasint) >= sizeof(size_t) ? (size_t)INT64_MAX
                                              : ((size_t)1 << (8 * sizeof(blasint) - 1)) - 1;
}

static size_t blas_chunk(size_t count)
{
    size_t lim = ntk_blas_int_max();
    return count < lim ? count : lim;
}

double ntk_nrm2(size_t count, const double *x)
{
    if (count <= ntk_blas_int_max()) return cblas_dnrm2((blasint)count, x, 1);
    /* scaled sum of squares over chunks, as dnrm2 does within one */
    double scale = 0.0, ssq = 1.0;
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        double r = cblas_dnrm2((blasint)c, x + i, 1);
        if (r > scale) {
            ssq = 1.0 + ssq * (scale / r) * (scale / r);
            scale = r;
        } else if (r > 0) {
            ssq += (r / scale) * (r / scale);
        }
        i += c;
    }
    return scale * sqrt(ssq);
}

double ntk_dot(size_t count, const double *x, const double *y)
{
    double s = 0.0;
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        s += cblas_ddot((blasint)c, x + i, 1, y + i, 1);
        i += c;
    }
    return s;
}

void ntk_axpy(size_t count, double a, const double *x, double *y)
{
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        cblas_daxpy((blasint)c, a, x + i, 1, y + i, 1);
        i += c;
    }
}

void ntk_scal(size_t count, double a, double *x)
{
    for (size_t i = 0; i < count;) {
        size_t c = blas_chunk(count - i);
        cblas_dscal((blasint)c, a, x + i, 1);
        i += c;
    }
}

