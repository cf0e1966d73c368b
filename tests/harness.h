/* Minimal test harness: each test program counts its checks and ends with
 * "N passed, N failed"; the exit status is nonzero on any failure. */
#ifndef NTK_TEST_HARNESS_H
#define NTK_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed = 0, t_failed = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            t_passed++;                                                    \
        } else {                                                           \
            t_failed++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* |a-b| <= tol * max(1, |b|)  (relative for large values, absolute near 0) */
#define CHECK_CLOSE(a, b, tol, ...)                                          \
    do {                                                                     \
        double ca_ = (a), cb_ = (b);                                         \
        double sc_ = fabs(cb_) > 1.0 ? fabs(cb_) : 1.0;                      \
        if (fabs(ca_ - cb_) <= (tol)*sc_) {                                  \
            t_passed++;                                                      \
        } else {                                                             \
            t_failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s=%.17g vs %s=%.17g (tol %g): ",    \
                    __FILE__, __LINE__, #a, ca_, #b, cb_, (double)(tol));   \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)

#define CHECK_OK(expr)                                                       \
    do {                                                                     \
        ntk_status st_ = (expr);                                             \
        CHECK(st_ == NTK_OK, "%s -> %s: %s", #expr, ntk_status_name(st_),   \
              ntk_errmsg());                                                 \
    } while (0)

#define CHECK_ERR(expr, code)                                                \
    do {                                                                     \
        ntk_status st_ = (expr);                                             \
        CHECK(st_ == (code), "%s -> %s (%s), expected %s", #expr,           \
              ntk_status_name(st_), ntk_errmsg(), ntk_status_name(code));   \
    } while (0)

/* max_i |a_i - b_i| / max(max_i |b_i|, tiny) */
static inline double t_max_rel_err(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 1e-300;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= num)) num = e;   /* also catches NaN */
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

static inline int t_finish(void)
{
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#endif
