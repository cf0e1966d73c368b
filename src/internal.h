/* Private helpers shared by the library's source files. */
#ifndef NTK_INTERNAL_H
#define NTK_INTERNAL_H

#include "ntkit.h"

#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* malloc/calloc that set the error message on failure (count*elt checked). */
void *ntk_alloc(size_t count, size_t elt, const char *what);
void *ntk_calloc(size_t count, size_t elt, const char *what);

/* Run fn(ctx, i0, i1) over [0,count) split across ntk_get_threads() threads
 * (plain pthreads, joined before returning, so no thread spins afterwards
 * and competes with OpenBLAS). Small ranges run inline. */
typedef void (*ntk_range_fn)(void *ctx, size_t i0, size_t i1);
void ntk_parallel_for(size_t count, ntk_range_fn fn, void *ctx);
/* Same, where each index stands for `grain` units of work. */
void ntk_parallel_for_grain(size_t count, size_t grain, ntk_range_fn fn, void *ctx);

/* G (B,m) ← G ⊙ r vᵀ, threaded like the activations. */
void ntk_scale_rows_cols(double *G, size_t B, size_t m, const double *r, const double *v);

/* Return early with the status of a failing call. */
#define NTK_TRY(expr)                         \
    do {                                      \
        ntk_status ntk_try_st_ = (expr);      \
        if (ntk_try_st_ != NTK_OK) return ntk_try_st_; \
    } while (0)

#endif
