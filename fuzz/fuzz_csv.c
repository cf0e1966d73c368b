/* The CSV reader. Byte 0 chooses the header mode (bits 0-1: auto, yes, no,
 * auto) and the target column (bits 2-4: -1..6); the rest is the file. A
 * file read under header=auto must read the same under the explicit mode
 * that auto chose. */
#include "fuzz.h"

static int same(const ntk_array *a, const ntk_array *b)
{
    return a->rows == b->rows && a->cols == b->cols && a->ndim == b->ndim &&
           memcmp(a->data, b->data, a->rows * a->cols * sizeof(double)) == 0;
}

/* Result of an explicit mode equals (X, y), or it failed. */
static int explicit_matches(const char *text, size_t len, int col, ntk_csv_header mode,
                            const ntk_array *X, const ntk_array *y)
{
    ntk_array X2, y2;
    if (ntk_csv_parse("fuzz.csv", text, len, col, mode, &X2, &y2) != NTK_OK) return 0;
    int ok = same(X, &X2) && same(y, &y2);
    ntk_array_free(&X2);
    ntk_array_free(&y2);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const ntk_csv_header modes[4] = {NTK_CSV_HEADER_AUTO, NTK_CSV_HEADER_YES,
                                            NTK_CSV_HEADER_NO, NTK_CSV_HEADER_AUTO};
    ntk_csv_header mode = modes[data[0] & 3];
    int col = (int)((data[0] >> 2) & 7) - 1;
    size_t len = size - 1;
    char *text = fuzz_cstr(data + 1, len);
    ntk_array X, y;
    ntk_status st = ntk_csv_parse("fuzz.csv", text, len, col, mode, &X, &y);
    if (st != NTK_OK) {
        fuzz_check_message(st, 1);
        FUZZ_ASSERT(fuzz_is_empty(&X) && fuzz_is_empty(&y), "outputs not reset after failure");
    } else {
        FUZZ_ASSERT(X.rows >= 1 && X.cols >= 1 && X.ndim == 2, "X %zu x %zu", X.rows, X.cols);
        FUZZ_ASSERT(y.rows == X.rows && y.cols == 1 && y.ndim == 1, "y has %zu rows", y.rows);
        FUZZ_ASSERT(fuzz_all_finite(X.data, X.rows * X.cols) && fuzz_all_finite(y.data, y.rows),
                    "NaN or Inf accepted");
        if (mode == NTK_CSV_HEADER_AUTO)
            FUZZ_ASSERT(explicit_matches(text, len, col, NTK_CSV_HEADER_NO, &X, &y) ||
                            explicit_matches(text, len, col, NTK_CSV_HEADER_YES, &X, &y),
                        "header=auto read what neither header=no nor header=yes reads");
        ntk_array_free(&X);
        ntk_array_free(&y);
    }
    free(text);
    return 0;
}
