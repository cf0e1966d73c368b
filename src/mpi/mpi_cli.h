/* The distributed commands of build-mpi/ntkit (cli/mpi_*.c): what they
 * share besides cli/cli.h. */
#ifndef NTK_MPI_CLI_H
#define NTK_MPI_CLI_H

#include "cli.h"
#include "ntk_petsc.h"

#include <cJSON.h>

typedef struct {
    MPI_Comm comm;
    int rank, size;
} cli_mpi;
extern cli_mpi cli_world;

/* Collective: rc (0: success) of this process against every other's. When
 * any failed, process 0 prints the error line of the lowest failing
 * process (whose own error line went to its captured stderr), unless that
 * is process 0 itself, which has already printed it; every process gets
 * the largest rc. So one failure, wherever it happened, gives one message
 * and the same nonzero exit everywhere. */
int cli_mpi_agree(int rc);

/* The end of a distributed command (krr, kgd): agree on rc, then process 0
 * writes DIR/results.json (when set, --out) through the output set and
 * prints res as one JSON line (json); res and set are freed everywhere.
 * Returns the agreed status. */
int cli_mpi_finish(int rc, int root, ntk_outset *set, const char *out, cJSON *res, int json);

/* OpenBLAS threads: --threads, else OPENBLAS_NUM_THREADS, else the cores
 * divided among the processes of this node (at least 1). */
int cli_mpi_threads(const cli_args *a);

/* The rows [*t0, *t0 + *tloc) of nt test points this process predicts. */
void cli_mpi_split(size_t nt, size_t *t0, size_t *tloc);

/* Rows (nloc, k) of every process into all (n, k) on process 0 (others:
 * all may be NULL). */
void cli_mpi_gather_rows(const double *loc, size_t nloc, size_t n, size_t k, double *all);

/* The last "ntkit: error: " line this process wrote to its captured
 * stderr (processes other than 0), without the prefix, into out. */
void cli_mpi_last_error(char *out, size_t cap);

int cmd_mpi_krr(int argc, char **argv);
int cmd_mpi_spectrum(int argc, char **argv);
int cmd_mpi_kgd(int argc, char **argv);
int cmd_mpi_kernel(int argc, char **argv);
int cmd_mpi_sweep(int argc, char **argv);
int cmd_mpi_train(int argc, char **argv);
int cmd_mpi_run(int argc, char **argv);

/* mpirun -np P ntkit train (cli/mpi_train.c): the hooks of cli/cmd_train.c.
 * Every process sets up the whole data set and θ0 (process 0 alone
 * prepares --out, once all have); the run trains on this process's block
 * of rows with its sums (loss, gradients, a row's metrics) taken over the
 * processes, so every process holds the same row; the driver's stops are
 * agreed; process 0 alone writes (cli_mpi_writes). Each is collective,
 * prints one error line and returns the same status on every process. */
int cli_mpi_train_setup(const cli_args *a, cli_setup *s);
int cli_mpi_train_create(const cli_setup *s, const ntk_run_config *rc, ntk_run **r);
ntk_status cli_mpi_train_execute(ntk_run *r, const cli_setup *s, cli_rows *w, ntk_run_report *rep);
int cli_mpi_writes(void);

/* mpirun -np P ntkit run --models nn,linearized,ntk,ntk-inf (cli/mpi_train.c): the
 * same machinery for cli/cmd_run.c. cli_mpi_dp_active is 1 while one of
 * these two commands runs data-parallel (not in a sweep's member, which
 * runs on one process); cli_mpi_run_execute is cli_mpi_train_execute with
 * the theory at t = 0 (theory = 1) or without. Setting up and creating the
 * run are cli_mpi_train_setup and cli_mpi_train_create. */
int cli_mpi_dp_active(void);
ntk_status cli_mpi_run_execute(ntk_run *r, const cli_setup *s, int theory, cli_rows *w,
                               ntk_run_report *rep);

#endif
