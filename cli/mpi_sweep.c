/* mpirun -np P ntkit sweep ...: the members of `ntkit sweep` spread over
 * the processes, member k on process k mod P, each writing its own run
 * directory DIR/<param>=<value>/ as on one process. cli/cmd_sweep.c runs
 * unchanged on every process but for two hooks (under NTK_MPI): process 0
 * alone prepares DIR (cli_mpi_sweep_prepare), and each member goes through
 * cli_mpi_sweep_member, which runs it when this process owns it and hands
 * its result to process 0; process 0 waits for the members of the others
 * in order and writes sweep.csv, the others keep no table. A member's
 * result is sent to process 0 for every member a process owns, run or not
 * (a stop by a signal, a sweep process 0 ended early), so that every
 * message is received before the job ends. */
#include "mpi_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAG 7316
#define LINE_LEN 1024

/* what a member's owner sends to process 0 */
typedef struct {
    int r;          /* cli_run_with_args's status, or -1: not run */
    int status;     /* 0 completed, 1 diverged, 2 interrupted, 3 failed, -1 none (set-up failed) */
    cli_run_result res;
    char line[LINE_LEN];   /* the member's error line when r != 0 */
} member_msg;

static const char *const status_names[] = {"completed", "diverged", "interrupted", "failed"};

static int sent_upto = 0;   /* members [0, sent_upto) handled on this process */

int cli_mpi_sweep_prepare(const char *out, int force)
{
    int rc = cli_world.rank == 0 ? cli_prepare_outdir(out, force) : 0;
    return cli_mpi_agree(rc);
}

static void send_result(int k, int r, const cli_run_result *res)
{
    member_msg *m = calloc(1, sizeof *m);
    if (!m) MPI_Abort(cli_world.comm, 1);   /* a few kB: nothing to report it with */
    m->r = r;
    m->status = -1;
    if (res && res->status)
        for (int s = 0; s < 4; s++)
            if (!strcmp(res->status, status_names[s])) m->status = s;
    if (res) m->res = *res;
    m->res.status = NULL;
    if (r > 0) cli_mpi_last_error(m->line, sizeof m->line);
    MPI_Send(m, (int)sizeof *m, MPI_BYTE, 0, TAG + k, cli_world.comm);
    free(m);
}

int cli_mpi_sweep_member(int k, const cli_args *b, cli_run_result *res)
{
    cli_mpi *w = &cli_world;
    int owner = k % w->size;
    if (w->rank != 0) {
        if (owner != w->rank) return -1;
        int r = cli_run_with_args(b, 1, res);
        send_result(k, r, res);
        sent_upto = k + 1;
        return -1;
    }
    if (owner == 0) return cli_run_with_args(b, 1, res);
    member_msg *m = malloc(sizeof *m);
    if (!m) MPI_Abort(w->comm, 1);
    MPI_Recv(m, (int)sizeof *m, MPI_BYTE, owner, TAG + k, w->comm, MPI_STATUS_IGNORE);
    *res = m->res;
    res->status = m->status >= 0 ? status_names[m->status] : NULL;
    int r = m->r < 0 ? 1 : m->r;
    if (m->r < 0) res->status = status_names[2];
    if (m->r > 0 && m->line[0]) fprintf(stderr, "ntkit: error: process %d of %d: %s\n", owner, w->size, m->line);
    sent_upto = k + 1;
    free(m);
    return r;
}

/* After the sweep: the owners send "not run" for the members they did not
 * reach, process 0 receives what it did not. */
static void drain(int nv)
{
    cli_mpi *w = &cli_world;
    for (int k = sent_upto; k < nv; k++) {
        int owner = k % w->size;
        if (owner == 0) continue;
        if (w->rank == owner) {
            send_result(k, -1, NULL);
        } else if (w->rank == 0) {
            member_msg *m = malloc(sizeof *m);
            if (!m) MPI_Abort(w->comm, 1);
            MPI_Recv(m, (int)sizeof *m, MPI_BYTE, owner, TAG + k, w->comm, MPI_STATUS_IGNORE);
            free(m);
        }
    }
}

/* the number of members named by --values (what cmd_sweep will read) */
static int count_values(int argc, char **argv)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--values")) {
            int n = 1;
            for (const char *p = argv[i + 1]; *p; p++) n += *p == ',';
            return n;
        }
    return 0;
}

int cmd_mpi_sweep(int argc, char **argv)
{
    cli_mpi *w = &cli_world;
    /* OpenBLAS threads: the node's cores divided among its processes, unless
     * --threads or OPENBLAS_NUM_THREADS says otherwise (each member's
     * run reads them; OpenBLAS read the variable when it started, so the
     * count is also set here) */
    int given = getenv("OPENBLAS_NUM_THREADS") != NULL;
    for (int i = 0; i < argc; i++) given |= !strcmp(argv[i], "--threads");
    if (!given) {
        MPI_Comm node;
        int local = 1;
        if (MPI_Comm_split_type(w->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
            MPI_Comm_size(node, &local);
            MPI_Comm_free(&node);
        }
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        char t[16];
        int nt = cores / local > 0 ? (int)(cores / local) : 1;
        snprintf(t, sizeof t, "%d", nt);
        ntk_set_threads(nt);
        setenv("OPENBLAS_NUM_THREADS", t, 1);   /* so that each run's cli_threads keeps it */
    }
    int rc = cmd_sweep(argc, argv);
    if (w->size > 1) drain(count_values(argc, argv));
    /* process 0 has every member's status; its exit status is the job's */
    MPI_Bcast(&rc, 1, MPI_INT, 0, w->comm);
    return rc;
}
