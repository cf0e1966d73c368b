/* The CIFAR-10 reader. Byte 0: classes (low nibble pos, high nibble neg,
 * so that invalid ones occur too); byte 1: max_n (0: all); the rest is the
 * batch file. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int pos = data[0] & 15, neg = data[0] >> 4;
    size_t max_n = data[1];
    ntk_array X, y;
    ntk_status st = ntk_cifar10_parse("fuzz.bin", data + 2, size - 2, pos, neg, max_n, &X, &y);
    if (st != NTK_OK) {
        fuzz_check_message(st, 1);
        FUZZ_ASSERT(fuzz_is_empty(&X) && fuzz_is_empty(&y), "outputs not reset after failure");
        return 0;
    }
    size_t records = (size - 2) / 3073;
    FUZZ_ASSERT(X.cols == 3072 && X.rows >= 1 && X.rows <= records && y.rows == X.rows,
                "%zu x %zu from %zu records", X.rows, X.cols, records);
    FUZZ_ASSERT(max_n == 0 || X.rows <= max_n, "%zu rows for max_n = %zu", X.rows, max_n);
    for (size_t i = 0; i < X.rows * X.cols; i++)
        FUZZ_ASSERT(X.data[i] >= 0 && X.data[i] <= 1, "pixel %g", X.data[i]);
    for (size_t i = 0; i < y.rows; i++)
        FUZZ_ASSERT(y.data[i] == 1 || y.data[i] == -1, "label %g", y.data[i]);
    ntk_array_free(&X);
    ntk_array_free(&y);
    return 0;
}
