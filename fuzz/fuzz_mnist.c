/* The MNIST reader. Byte 0: classes (low nibble pos, high nibble neg);
 * byte 1: max_n (0: all); bytes 2-3: the length L of the images file
 * (little-endian, cut to what is there); then L bytes of images and the
 * rest as the labels file. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    int pos = data[0] & 15, neg = data[0] >> 4;
    size_t max_n = data[1];
    size_t ilen = (size_t)data[2] | (size_t)data[3] << 8;
    if (ilen > size - 4) ilen = size - 4;
    const uint8_t *ib = data + 4, *lb = ib + ilen;
    size_t llen = size - 4 - ilen;
    ntk_array X, y;
    ntk_status st = ntk_mnist_parse("fuzz-images", ib, ilen, "fuzz-labels", lb, llen, pos, neg,
                                    max_n, &X, &y);
    if (st != NTK_OK) {
        fuzz_check_message(st, 1);
        FUZZ_ASSERT(fuzz_is_empty(&X) && fuzz_is_empty(&y), "outputs not reset after failure");
        return 0;
    }
    FUZZ_ASSERT(X.rows >= 1 && X.cols >= 1 && y.rows == X.rows, "%zu x %zu", X.rows, X.cols);
    FUZZ_ASSERT(X.rows * X.cols <= ilen && X.rows <= llen, "more pixels or labels than bytes");
    FUZZ_ASSERT(max_n == 0 || X.rows <= max_n, "%zu rows for max_n = %zu", X.rows, max_n);
    for (size_t i = 0; i < X.rows * X.cols; i++)
        FUZZ_ASSERT(X.data[i] >= 0 && X.data[i] <= 1, "pixel %g", X.data[i]);
    for (size_t i = 0; i < y.rows; i++)
        FUZZ_ASSERT(y.data[i] == 1 || y.data[i] == -1, "label %g", y.data[i]);
    ntk_array_free(&X);
    ntk_array_free(&y);
    return 0;
}
