/* The .npy reader on arbitrary bytes: through its in-memory entry point, and
 * (for the inputs whose values it reads) through ntk_npy_map on the same
 * bytes as a file (an unlinked temporary file rewritten for each input,
 * opened as /proc/self/fd/N), which must agree with it: same status, and on
 * success the same array, bit for bit. */
#include "fuzz.h"

#include <fcntl.h>
#include <unistd.h>

/* The bytes as a regular file; NULL when the file cannot be written. */
static const char *as_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        char tmpl[] = "/tmp/fuzz_npy_XXXXXX";
        fd = mkstemp(tmpl);
        if (fd < 0) return NULL;
        unlink(tmpl);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) return NULL;
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) return NULL;
        done += (size_t)w;
    }
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ntk_array a, b;
    ntk_status st = ntk_npy_parse("fuzz.npy", data, size, &a);
    /* through a file (slow: a write and a mapping per input) only where the
     * reader got to the values: the header code is the same for both */
    const char *path = st == NTK_OK || st == NTK_ERR_NONFINITE ? as_file(data, size) : NULL;
    ntk_status sm = path ? ntk_npy_map(path, &b) : st;
    if (path) {
        FUZZ_ASSERT(sm == st, "mapped read %d, in-memory read %d", (int)sm, (int)st);
        if (sm != NTK_OK) FUZZ_ASSERT(fuzz_is_empty(&b) && b.map == NULL, "mapped output not reset");
    }
    if (st != NTK_OK) {
        fuzz_check_message(st, 1);
        FUZZ_ASSERT(fuzz_is_empty(&a), "output not reset after failure");
        return 0;
    }
    FUZZ_ASSERT(a.ndim == 1 || a.ndim == 2, "ndim %d", a.ndim);
    FUZZ_ASSERT(a.ndim == 2 || a.cols == 1, "1-d array with %zu columns", a.cols);
    FUZZ_ASSERT(a.data != NULL, "no data");
    /* every value needs at least 4 bytes of the input */
    FUZZ_ASSERT(a.rows * a.cols <= size / 4, "%zu x %zu values from %zu bytes", a.rows, a.cols,
                size);
    FUZZ_ASSERT(fuzz_all_finite(a.data, a.rows * a.cols), "NaN or Inf accepted");
    if (path) {
        FUZZ_ASSERT(b.rows == a.rows && b.cols == a.cols && b.ndim == a.ndim,
                    "mapped shape %zux%zu, in-memory %zux%zu", b.rows, b.cols, a.rows, a.cols);
        FUZZ_ASSERT(a.rows * a.cols == 0 || memcmp(a.data, b.data, a.rows * a.cols * 8) == 0,
                    "mapped values differ");
        ntk_array_free(&b);
    }
    ntk_array_free(&a);
    return 0;
}
