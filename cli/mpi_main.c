/* build-mpi/ntkit: the entry of the distributed build (make mpi). main()
 * calls cli_mpi_main first (cli/main.c, under NTK_MPI); it initialises MPI,
 * PETSc and SLEPc, runs train, run (--models nn,linearized,ntk,ntk-inf), kernel, krr,
 * spectrum, kgd and sweep on every process, and for any other command either steps aside (one
 * process: the ordinary code runs) or refuses (several processes).
 *
 * Output. Only process 0 writes to stdout and stderr: the others' stdout
 * goes to /dev/null and their stderr to an anonymous temporary file, from
 * which cli_mpi_agree takes the error line of a process that failed alone
 * and hands it to process 0. */
#include "mpi_cli.h"

#include <fcntl.h>
#include <petscsys.h>
#include <slepcsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cli_mpi cli_world = {MPI_COMM_NULL, 0, 1};

static FILE *g_captured;   /* the stderr of a process other than 0 */

#define LINE_LEN 2048

void cli_mpi_last_error(char *out, size_t cap)
{
    snprintf(out, cap, "failed without a message (see its exit status)");
    if (!g_captured) return;
    fflush(stderr);
    long end = ftell(g_captured);
    if (end <= 0) return;
    size_t len = (size_t)end;
    char *buf = malloc(len + 1);
    if (!buf) return;
    rewind(g_captured);
    len = fread(buf, 1, len, g_captured);
    buf[len] = '\0';
    fseek(g_captured, 0, SEEK_END);
    const char *tag = "ntkit: error: ", *hit = NULL;
    for (const char *p = strstr(buf, tag); p; p = strstr(p + 1, tag)) hit = p;
    if (hit) {
        hit += strlen(tag);
        size_t l = strcspn(hit, "\n");
        if (l >= cap) l = cap - 1;
        memcpy(out, hit, l);
        out[l] = '\0';
    }
    free(buf);
}

int cli_mpi_agree(int rc)
{
    cli_mpi *w = &cli_world;
    int worst, mine = rc ? w->rank : w->size, first;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, w->comm);
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, w->comm);
    if (first == w->size || first == 0) return worst;
    char line[LINE_LEN] = "";
    if (w->rank == first) cli_mpi_last_error(line, sizeof line);
    MPI_Bcast(line, LINE_LEN, MPI_CHAR, first, w->comm);
    line[LINE_LEN - 1] = '\0';
    if (w->rank == 0) {
        /* a library message that already names its process keeps its words */
        if (strncmp(line, "process ", 8) == 0 || strstr(line, ": process "))
            fprintf(stderr, "ntkit: error: %s\n", line);
        else
            fprintf(stderr, "ntkit: error: process %d of %d: %s\n", first, w->size, line);
    }
    return worst;
}

int cli_mpi_finish(int rc, int root, ntk_outset *set, const char *out, cJSON *res, int json)
{
    rc = cli_mpi_agree(rc);
    if (!rc && root && set) {
        rc = cli_commit_results(set, out, res);
    }
    rc = cli_mpi_agree(rc);
    if (!rc && root && json) {
        char *text = cJSON_PrintUnformatted(res);
        if (text) printf("%s\n", text);
        free(text);
    }
    cJSON_Delete(res);
    ntk_outset_free(set);
    return rc;
}

int cli_mpi_threads(const cli_args *a)
{
    if (cli_has(a, "threads") || getenv("OPENBLAS_NUM_THREADS")) return cli_threads(a);
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(cli_world.comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(cores > 0 ? cores : 1) / (local > 0 ? local : 1);
    ntk_set_threads(t > 0 ? t : 1);
    return 0;
}

void cli_mpi_split(size_t nt, size_t *t0, size_t *tloc)
{
    ntk_mpi_split(nt, cli_world.rank, cli_world.size, t0, tloc);
}

void cli_mpi_gather_rows(const double *loc, size_t nloc, size_t n, size_t k, double *all)
{
    cli_mpi *w = &cli_world;
    int *cnt = NULL, *dsp = NULL;
    if (w->rank == 0) {
        cnt = malloc(2 * (size_t)w->size * sizeof(int));
        dsp = cnt ? cnt + w->size : NULL;
        for (int q = 0; cnt && q < w->size; q++) {
            size_t r0, nl;
            ntk_mpi_split(n, q, w->size, &r0, &nl);
            cnt[q] = (int)(nl * k), dsp[q] = (int)(r0 * k);
        }
    }
    MPI_Gatherv(loc, (int)(nloc * k), MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, 0, w->comm);
    free(cnt);
}

/* stdout to /dev/null and stderr to a temporary file on processes other than 0 */
static void quiet_others(void)
{
    if (cli_world.rank == 0) return;
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        fflush(stdout);
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    g_captured = tmpfile();
    if (g_captured) {
        fflush(stderr);
        dup2(fileno(g_captured), STDERR_FILENO);
        setvbuf(stderr, NULL, _IONBF, 0);
    }
}

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} mpi_command;

static const mpi_command mpi_commands[] = {
    {"krr", cmd_mpi_krr},
    {"spectrum", cmd_mpi_spectrum},
    {"kgd", cmd_mpi_kgd},
    {"kernel", cmd_mpi_kernel},
    {"sweep", cmd_mpi_sweep},
    {"train", cmd_mpi_train},
    {"run", cmd_mpi_run},
};

/* 1 when this function ran the command (its exit status in *status), 0 when
 * the ordinary code should run it (one process, a command that is not
 * distributed). */
int cli_mpi_main(int argc, char **argv, int *status)
{
    const char *cmd = argv[1];
    const mpi_command *mc = NULL;
    for (size_t i = 0; i < sizeof mpi_commands / sizeof mpi_commands[0]; i++)
        if (strcmp(cmd, mpi_commands[i].name) == 0) mc = &mpi_commands[i];
    if (!mc) {
        /* not distributed: one process runs the ordinary code (without
         * starting MPI); under a launcher with several, process 0 refuses */
        const char *sz = getenv("OMPI_COMM_WORLD_SIZE"), *rk = getenv("OMPI_COMM_WORLD_RANK");
        if (!sz) sz = getenv("PMI_SIZE"), rk = getenv("PMI_RANK");
        if (!sz || atoi(sz) <= 1) return 0;
        if (!rk || atoi(rk) == 0)
            fprintf(stderr, "ntkit: error: '%s' does not run on several processes in this build "
                    "(train, run, kernel, krr, spectrum, kgd and sweep do); run it without mpirun "
                    "or with -np 1\n", cmd);
        *status = 2;
        return 1;
    }
    /* PETSc reads no options from the command line (ntkit's flags are not
     * PETSc's; PETSC_OPTIONS still works) and leaves the signals to ntkit */
    PetscOptionsSetValue(NULL, "-no_signal_handler", NULL);
    if (SlepcInitialize(NULL, NULL, NULL, NULL) != 0) {
        fprintf(stderr, "ntkit: error: MPI, PETSc or SLEPc failed to start; run under mpirun, or "
                "check the MPI installation\n");
        *status = 1;
        return 1;
    }
    PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
    cli_world.comm = PETSC_COMM_WORLD;
    MPI_Comm_rank(cli_world.comm, &cli_world.rank);
    MPI_Comm_size(cli_world.comm, &cli_world.size);
    quiet_others();
    *status = mc->fn(argc - 1, argv + 1);
    fflush(stdout);
    fflush(stderr);
    SlepcFinalize();
    return 1;
}
