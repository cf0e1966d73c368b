/* ntkit compare-kernels: distances between two kernels (docs/theory.md §8). */
#include "cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================
 * ntkit compare-kernels
 * ==================================================================== */

static const cli_flag compare_flags[] = {
    {"json", 0, NULL, "print one JSON object instead of a table"},
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},
};
#define NCOMPARE_FLAGS (sizeof compare_flags / sizeof compare_flags[0])

/* A square (n,n) kernel from path; prints the error. */
static int load_square(const char *label, const char *path, ntk_array *A)
{
    if (ntk_npy_read(path, A) != NTK_OK) return cli_fail("%s: %s", label, ntk_errmsg());
    if (A->ndim != 2 || A->rows != A->cols || A->rows == 0) {
        int rc = A->ndim == 2
                     ? cli_fail("%s %s has shape (%zu, %zu); compare-kernels needs square (n, n) "
                                "kernels",
                                label, path, A->rows, A->cols)
                     : cli_fail("%s %s is 1-d with %zu values; compare-kernels needs square (n, "
                                "n) kernels",
                                label, path, A->rows);
        ntk_array_free(A);
        return rc;
    }
    return 0;
}

int cmd_compare_kernels(int argc, char **argv)
{
    cli_args a;
    if (cli_parse(&a, compare_flags, NCOMPARE_FLAGS, argc, argv)) return 2;
    if (a.help) {
        cli_usage("compare-kernels", "A.npy B.npy [--json]",
                  "Distances between symmetric kernels A and B (n, n), B the reference:\n"
                  "||A-B||_op, ||A-B||_F, both divided by the same norm of B, and, when B is\n"
                  "positive definite, the normalised distance ||B^-1/2 A B^-1/2 - I||_op.",
                  compare_flags, NCOMPARE_FLAGS);
        return 0;
    }
    if (a.npositional != 2)
        return cli_fail("compare-kernels needs two files, A.npy B.npy (B the reference); got %d",
                        a.npositional);
    if (cli_threads(&a)) return 1;
    const char *pa = a.positional[0], *pb = a.positional[1];
    ntk_array A = {0}, B = {0};
    if (load_square("A", pa, &A)) return 1;
    if (load_square("B", pb, &B)) {
        ntk_array_free(&A);
        return 1;
    }
    const size_t n = A.rows;
    int rc = 0;
    if (B.rows != n)
        rc = cli_fail("A %s is %zu x %zu but B %s is %zu x %zu; compare kernels on the same points",
                      pa, n, n, pb, B.rows, B.rows);
    // the normalised distance needs 3n² + n doubles, plus LAPACKE's copies
    if (!rc && ntk_mem_check(ntk_size_mul(5 * n + 1, n, 1, sizeof(double)), 0,
                             "comparing the kernels") != NTK_OK)
        rc = cli_fail_lib(NULL);
    ntk_kernel_dist dist;
    if (!rc && ntk_kernel_distance(A.data, B.data, n, &dist) != NTK_OK) rc = cli_fail_lib(NULL);

    double lmin = NAN, nd = NAN;
    char why[512] = "";
    double *w = rc ? NULL : malloc(n * sizeof(double));
    if (!rc && !w) rc = cli_fail("out of memory for %zu eigenvalues", n);
    if (!rc && ntk_eigh(B.data, n, w, NULL) != NTK_OK) rc = cli_fail_lib("B");
    if (!rc) {
        lmin = w[0];
        if (!(lmin > 0)) {
            snprintf(why, sizeof why,
                     "B is not positive definite (lambda_min = %.3g), so B^-1/2 does not exist",
                     lmin);
        } else if (ntk_normalized_distance(B.data, A.data, n, &nd) != NTK_OK) {
            snprintf(why, sizeof why, "%s", ntk_errmsg());
            nd = NAN;
        }
    }
    free(w);
    if (!rc && cli_has(&a, "json")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "op", dist.op);
        cJSON_AddNumberToObject(o, "fro", dist.fro);
        cJSON_AddNumberToObject(o, "rel_op", dist.rel_op);
        cJSON_AddNumberToObject(o, "rel_fro", dist.rel_fro);
        cJSON_AddNumberToObject(o, "b_lambda_min", lmin);
        if (isfinite(nd)) {
            cJSON_AddNumberToObject(o, "normalized", nd);
        } else {
            cJSON_AddNullToObject(o, "normalized");
            cJSON_AddStringToObject(o, "normalized_unavailable", why);
        }
        char *text = cJSON_Print(o);
        cJSON_Delete(o);
        if (text) printf("%s\n", text);
        free(text);
    } else if (!rc) {
        printf("A %s vs B %s (reference), n = %zu\n", pa, pb, n);
        printf("  ||A-B||_op                    %.10g\n", dist.op);
        printf("  ||A-B||_F                     %.10g\n", dist.fro);
        printf("  ||A-B||_op / ||B||_op         %.10g\n", dist.rel_op);
        printf("  ||A-B||_F / ||B||_F           %.10g\n", dist.rel_fro);
        if (isfinite(nd))
            printf("  ||B^-1/2 A B^-1/2 - I||_op    %.10g\n", nd);
        else
            printf("  ||B^-1/2 A B^-1/2 - I||_op    unavailable: %s\n", why);
    }
    ntk_array_free(&A);
    ntk_array_free(&B);
    return rc;
}
