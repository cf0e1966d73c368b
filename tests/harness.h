/* Minimal test harness: each test program counts its checks and ends with
 * "N passed, N failed"; the exit status is nonzero on any failure. */
#ifndef NTK_TEST_HARNESS_H
#define NTK_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed = 0, t_failed = 0;

/* Tolerance audit. Every CHECK_LE and CHECK_CLOSE records the ratio
 * measured error / tolerance of its source line (the worst over all its
 * calls); with NTK_TEST_MARGINS=1 in the environment t_finish prints one
 * line "margin RATIO FILE:LINE" per check site, so that a run on another
 * CPU, OpenBLAS kernel (OPENBLAS_CORETYPE) or thread count shows how close
 * each assertion came to its tolerance (1 = at the tolerance). */
typedef struct {
    const char *file;
    int line;
    double worst;
} t_site;
static t_site t_sites[512];
static int t_nsites = 0;

static inline void t_margin(const char *file, int line, double err, double tol)
{
    double r = err <= 0.0 ? 0.0 : tol > 0.0 ? err / tol : INFINITY;
    if (r != r) r = INFINITY;   /* NaN error */
    for (int i = 0; i < t_nsites; i++)
        if (t_sites[i].line == line && strcmp(t_sites[i].file, file) == 0) {
            if (r > t_sites[i].worst) t_sites[i].worst = r;
            return;
        }
    if (t_nsites < (int)(sizeof t_sites / sizeof t_sites[0]))
        t_sites[t_nsites++] = (t_site){file, line, r};
}

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

/* err <= tol, for a measured error err and the tolerance tol derived from
 * what it bounds; NaN fails. The message shows both numbers. */
#define CHECK_LE(err, tol, ...)                                              \
    do {                                                                     \
        double ce_ = (err), ct_ = (tol);                                     \
        t_margin(__FILE__, __LINE__, ce_, ct_);                              \
        if (ce_ <= ct_) {                                                    \
            t_passed++;                                                      \
        } else {                                                             \
            t_failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s = %.3g > tol %.3g: ", __FILE__,  \
                    __LINE__, #err, ce_, ct_);                               \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)

/* |a-b| <= tol * max(1, |b|)  (relative for large values, absolute near 0) */
#define CHECK_CLOSE(a, b, tol, ...)                                          \
    do {                                                                     \
        double ca_ = (a), cb_ = (b);                                         \
        double sc_ = fabs(cb_) > 1.0 ? fabs(cb_) : 1.0;                      \
        t_margin(__FILE__, __LINE__, fabs(ca_ - cb_), (tol)*sc_);            \
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
    const char *audit = getenv("NTK_TEST_MARGINS");
    if (audit && *audit && strcmp(audit, "0") != 0)
        for (int i = 0; i < t_nsites; i++)
            printf("margin %.3g %s:%d\n", t_sites[i].worst, t_sites[i].file, t_sites[i].line);
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#endif
