/* The .npy reader on arbitrary bytes (through its in-memory entry point). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ntk_array a;
    ntk_status st = ntk_npy_parse("fuzz.npy", data, size, &a);
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
    ntk_array_free(&a);
    return 0;
}
