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

/* Return early with the status of a failing call. */
#define NTK_TRY(expr)                         \
    do {                                      \
        ntk_status ntk_try_st_ = (expr);      \
        if (ntk_try_st_ != NTK_OK) return ntk_try_st_; \
    } while (0)

#endif
