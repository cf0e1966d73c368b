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

/* The distances of A to B, and the normalised one where B is positive
 * definite (why says otherwise). */
typedef struct {
    ntk_kernel_dist dist;
    double lmin, normalized;
    char why[512];
} comparison;

static int compare(const ntk_array *A, const ntk_array *B, comparison *c)
{
    size_t n = A->rows;
    c->lmin = c->normalized = NAN;
    c->why[0] = '\0';
    // the normalised distance needs 3n² + n doubles, plus LAPACKE's copies
    if (ntk_mem_check(ntk_size_mul(5 * n + 1, n, 1, sizeof(double)), 0, "comparing the kernels") != NTK_OK)
        return cli_fail_lib(NULL);
    if (ntk_kernel_distance(A->data, B->data, n, &c->dist) != NTK_OK) return cli_fail_lib(NULL);
    double *w = malloc(n * sizeof(double));
    if (!w) return cli_fail("out of memory for %zu eigenvalues", n);
    int rc = ntk_eigh(B->data, n, w, NULL) != NTK_OK ? cli_fail_lib("B") : 0;
    if (!rc) c->lmin = w[0];
    free(w);
    if (rc) return rc;
    if (!(c->lmin > 0))
        snprintf(c->why, sizeof c->why,
                 "B is not positive definite (lambda_min = %.3g), so B^-1/2 does not exist", c->lmin);
    else if (ntk_normalized_distance(B->data, A->data, n, &c->normalized) != NTK_OK)
        snprintf(c->why, sizeof c->why, "%s", ntk_errmsg()), c->normalized = NAN;
    return 0;
}

static void print_json(size_t n, const comparison *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddNumberToObject(o, "op", c->dist.op);
    cJSON_AddNumberToObject(o, "fro", c->dist.fro);
    cJSON_AddNumberToObject(o, "rel_op", c->dist.rel_op);
    cJSON_AddNumberToObject(o, "rel_fro", c->dist.rel_fro);
    cJSON_AddNumberToObject(o, "b_lambda_min", c->lmin);
    if (isfinite(c->normalized)) {
        cJSON_AddNumberToObject(o, "normalized", c->normalized);
    } else {
        cJSON_AddNullToObject(o, "normalized");
        cJSON_AddStringToObject(o, "normalized_unavailable", c->why);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text) printf("%s\n", text);
    free(text);
}

static void print_table(const char *pa, const char *pb, size_t n, const comparison *c)
{
    printf("A %s vs B %s (reference), n = %zu\n", pa, pb, n);
    printf("  ||A-B||_op                    %.10g\n", c->dist.op);
    printf("  ||A-B||_F                     %.10g\n", c->dist.fro);
    printf("  ||A-B||_op / ||B||_op         %.10g\n", c->dist.rel_op);
    printf("  ||A-B||_F / ||B||_F           %.10g\n", c->dist.rel_fro);
    if (isfinite(c->normalized))
        printf("  ||B^-1/2 A B^-1/2 - I||_op    %.10g\n", c->normalized);
    else
        printf("  ||B^-1/2 A B^-1/2 - I||_op    unavailable: %s\n", c->why);
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
    int rc = load_square("A", pa, &A) || load_square("B", pb, &B);
    if (!rc && B.rows != A.rows)
        rc = cli_fail("A %s is %zu x %zu but B %s is %zu x %zu; compare kernels on the same points",
                      pa, A.rows, A.rows, pb, B.rows, B.rows);
    comparison c;
    if (!rc) rc = compare(&A, &B, &c);
    if (!rc && cli_has(&a, "json"))
        print_json(A.rows, &c);
    else if (!rc)
        print_table(pa, pb, A.rows, &c);
    ntk_array_free(&A);
    ntk_array_free(&B);
    return rc;
}
