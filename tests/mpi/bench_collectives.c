/* The two exchanges of the distributed products, timed on this machine
 * (docs/scaling.md §6.1): MPI_Allreduce (the empirical product's Jᵀu) and
 * MPI_Reduce_scatter (the tiled product's K·U) of N doubles, N = 1 .. 2^22,
 * the median of R repetitions after a barrier each. Not part of the test
 * suite: build and run by hand,
 *   mpicc -O2 tests/mpi/bench_collectives.c -o /tmp/bench_coll
 *   mpirun -np 2 /tmp/bench_coll
 * Prints "op,processes,numbers,seconds" (seconds: the slowest process's). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define R 41

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int nmax = 1 << 22;
    double *a = malloc((size_t)nmax * sizeof(double)), *b = malloc((size_t)nmax * sizeof(double));
    int *cnt = malloc((size_t)size * sizeof(int));
    if (!a || !b || !cnt) MPI_Abort(MPI_COMM_WORLD, 1);
    for (int i = 0; i < nmax; i++) a[i] = 1.0 / (i + 1);
    if (rank == 0) printf("op,processes,numbers,seconds\n");
    for (int op = 0; op < 2; op++)
        for (int n = 1; n <= nmax; n *= 4) {
            double t[R];
            for (int q = 0; q < size; q++) cnt[q] = n / size + (q < n % size);
            for (int r = 0; r < R; r++) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                if (op == 0) MPI_Allreduce(a, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
                else MPI_Reduce_scatter(a, b, cnt, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
                double dt = MPI_Wtime() - t0, mx;
                MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
                t[r] = mx;
            }
            qsort(t, R, sizeof t[0], cmp);
            if (rank == 0)
                printf("%s,%d,%d,%.3e\n", op ? "reduce_scatter" : "allreduce", size, n, t[R / 2]);
        }
    free(a), free(b), free(cnt);
    MPI_Finalize();
    return 0;
}
