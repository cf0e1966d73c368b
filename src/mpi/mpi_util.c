/* What every distributed step shares: the row split, one status for all
 * processes, the tests' fault injection (src/mpi/ntk_mpi.h), and the
 * data-parallel run's summed trainer. */
#include "internal.h"
#include "ntk_mpi.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN 1024

void ntk_mpi_split(size_t n, int rank, int size, size_t *r0, size_t *nloc)
{
    size_t p = (size_t)size, q = (size_t)rank, base = n / p, extra = n % p;
    *nloc = base + (q < extra);
    *r0 = q * base + (q < extra ? q : extra);
}

ntk_status ntk_mpi_agree(MPI_Comm comm, ntk_status st)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* the lowest failing rank (size: none) */
    int mine = st != NTK_OK ? rank : size, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return NTK_OK;
    /* the rank is named when some processes succeeded, and only once */
    int failed = st != NTK_OK, nfailed;
    MPI_Allreduce(&failed, &nfailed, 1, MPI_INT, MPI_SUM, comm);
    char msg[MSG_LEN];
    int code = (int)st;
    if (rank == first) {
        const char *m = ntk_errmsg();
        if (nfailed < size && strncmp(m, "process ", 8) != 0)
            snprintf(msg, sizeof msg, "process %d of %d: %s", rank, size, m);
        else
            snprintf(msg, sizeof msg, "%s", m);
    }
    MPI_Bcast(msg, MSG_LEN, MPI_CHAR, first, comm);
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    msg[MSG_LEN - 1] = '\0';
    return ntk_set_error((ntk_status)code, "%s", msg);
}

int ntk_mpi_fault(const char *where)
{
    /* the kinds, each with its own count of passages; "die" is met where
     * "apply" is */
    static const char *const kinds[] = {"load", "apply", "die", "stop", "perturb"};
    static int passages[sizeof kinds / sizeof kinds[0]];
    const char *spec = getenv("NTKIT_MPI_FAULT");
    if (!spec || !*spec) return 0;
    int rank = 0, want = -1, count = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char name[16] = "";
    if (sscanf(spec, "%d:%15[a-z]:%d", &want, name, &count) < 2 || want != rank) return 0;
    int slot = -1;
    for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++)
        if (strcmp(name, kinds[k]) == 0) slot = k;
    if (slot < 0) return 0;
    if (strcmp(name, where) != 0 && !(slot == 2 && strcmp(where, "apply") == 0)) return 0;
    if (++passages[slot] != count) return 0;
    if (slot == 2) raise(SIGKILL);   /* a process that dies in the middle of a product */
    return 1;
}

ntk_status ntk_mpi_run_set_reduce(MPI_Comm comm, ntk_run *r, ntk_reduce_fn reduce, void *ctx,
                                  size_t n_total)
{
    ntk_clear_error();
    /* what may fail on one process alone is agreed before the sum inside */
    ntk_status st = r ? NTK_OK : ntk_set_error(NTK_ERR_ARG, "run is NULL");
    NTK_TRY(ntk_mpi_agree(comm, st));
    return ntk_run_set_reduce(r, reduce, ctx, n_total);
}
