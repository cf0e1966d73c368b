/* Shared by the libFuzzer targets: checks of what the readers promise on
 * every input, not only "no crash". A broken promise aborts, so libFuzzer
 * keeps the input like any other crash. */
#ifndef NTK_FUZZ_H
#define NTK_FUZZ_H

#include "ntkit.h"
#include "readers.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond, ...)                                                  \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__,   \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* The message of a failure: non-empty, one line, and, where the input came
 * from a file (plain = 1), free of the file's control characters. */
static inline void fuzz_check_message(ntk_status st, int plain)
{
    const char *m = ntk_errmsg();
    FUZZ_ASSERT(st != NTK_OK && *m, "status %d with message '%s'", (int)st, m);
    for (const unsigned char *c = (const unsigned char *)m; *c; c++)
        FUZZ_ASSERT(*c != '\n' && (!plain || (*c >= 0x20 && *c != 0x7f)),
                    "control byte 0x%02x in the message: %s", *c, m);
}

static inline int fuzz_all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* An array left as the readers leave their outputs after a failure. */
static inline int fuzz_is_empty(const ntk_array *a)
{
    return a->data == NULL && a->rows == 0 && a->cols == 0 && a->ndim == 0;
}

/* buf[0, len) as a NUL-terminated copy (caller frees). */
static inline char *fuzz_cstr(const uint8_t *buf, size_t len)
{
    char *s = malloc(len + 1);
    if (!s) abort();
    if (len) memcpy(s, buf, len);
    s[len] = '\0';
    return s;
}

#endif
