/* Memory: what the system has, estimates checked against a limit before
 * anything large is allocated, and allocations that say what failed. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t ntk_mem_available(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    if (!fp) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = (size_t)v;
            break;
        }
    }
    fclose(fp);
    return kb * 1024;
}

ntk_status ntk_mem_check(size_t bytes, size_t limit, const char *what)
{
    ntk_clear_error();
    if (limit == 0) {
        size_t avail = ntk_mem_available();
        if (avail == 0) return NTK_OK; /* unknown: let malloc decide */
        limit = avail / 10 * 9;
    }
    if (bytes == SIZE_MAX || bytes > limit) {
        return ntk_set_error(NTK_ERR_NOMEM,
                             "%s needs about %.2f GiB but only %.2f GiB may be used; "
                             "reduce the problem size",
                             what, bytes == SIZE_MAX ? INFINITY : (double)bytes / 1073741824.0,
                             (double)limit / 1073741824.0);
    }
    return NTK_OK;
}

size_t ntk_size_mul(size_t a, size_t b, size_t c, size_t elt)
{
    size_t r = a;
    size_t f[3] = {b, c, elt};
    for (int i = 0; i < 3; i++) {
        if (f[i] != 0 && r > SIZE_MAX / f[i]) return SIZE_MAX;
        r *= f[i];
    }
    return r;
}

void *ntk_alloc(size_t count, size_t elt, const char *what)
{
    size_t bytes = ntk_size_mul(count, elt, 1, 1);
    if (bytes == SIZE_MAX) {
        ntk_set_error(NTK_ERR_NOMEM, "%s: size overflows", what);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        ntk_set_error(NTK_ERR_NOMEM, "%s: could not allocate %.2f MiB", what,
                      (double)bytes / 1048576.0);
    return p;
}

void *ntk_calloc(size_t count, size_t elt, const char *what)
{
    void *p = ntk_alloc(count, elt, what);
    if (p) memset(p, 0, count * elt);
    return p;
}

