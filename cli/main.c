/* ntkit command-line entry point: dispatches to one function per command. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

#ifdef NTK_MPI
/* the distributed build's own commands (cli/mpi_*.c); main hands them,
 * like krr and kernel, to cli_mpi_main below */
int cmd_mpi_spectrum(int argc, char **argv);
int cmd_mpi_kgd(int argc, char **argv);
#endif

static const command commands[] = {
    {"train", cmd_train, "train the network (any depth, k outputs) by gradient descent and write a run directory"},
    {"kernel", cmd_kernel, "write an empirical, infinite-width or linear-model kernel matrix (.npy)"},
    {"constants", cmd_constants, "print an activation's Gaussian constants (zeta, nu, theta0..2) as JSON"},
    {"compare-kernels", cmd_compare_kernels, "operator, Frobenius and normalised distances between two kernels"},
    {"krr", cmd_krr, "kernel ridge regression with any kernel kind; train and test errors"},
    {"run", cmd_run, "train nn, linearized, lin, ntk and ntk-inf side by side and measure the gaps"},
    {"sweep", cmd_sweep, "repeat a run over values of width|alpha|n|d|lr1|lr2|seed|depth|weight-std|bias-std"},
    {"experiment", cmd_experiment, "run a paper experiment end to end and write its report (--list)"},
    {"plot", cmd_plot, "draw a run or sweep directory into DIR/plots/ (PNG and SVG)"},
#ifdef NTK_MPI
    {"spectrum", cmd_mpi_spectrum, "a kernel's extreme eigenvalues by SLEPc on the matrix-free operator (mpirun -np P)"},
    {"kgd", cmd_mpi_kgd, "kernel gradient flow's predictions at --times by SLEPc's MFN (mpirun -np P)"},
#endif
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Edit distance (insertions, deletions, substitutions) of two short words. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The command closest to a mistyped one, or NULL when none is close (more
 * than a third of its letters would change) or a command starts with it. */
static const char *nearest(const char *cmd)
{
    const char *best = NULL;
    size_t bd = (size_t)-1, len = strlen(cmd);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (len >= 2 && strncmp(commands[i].name, cmd, len) == 0) return commands[i].name;
        size_t dist = edit_distance(cmd, commands[i].name);
        if (dist < bd) bd = dist, best = commands[i].name;
    }
    return bd <= 1 + strlen(best) / 3 ? best : NULL;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "ntkit %s: wide neural networks, their neural tangent kernels and lazy training\n\n"
            "usage: ntkit COMMAND [options]   (ntkit COMMAND --help for its options)\n\n"
            "commands:\n",
            NTK_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(fp, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "  %-16s %s\n", "version", "print the version (also --version)");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* The commands that train check cli_interrupted at each step and stop
     * cleanly; they catch the signals from the start so that one arriving
     * during set-up is not lost. The others stop at once, removing their
     * temporary files. */
    cli_catch_signals(!strcmp(cmd, "train") || !strcmp(cmd, "run") || !strcmp(cmd, "sweep"));
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("ntkit %s\n", NTK_VERSION);
        return 0;
    }
#ifdef NTK_MPI
    int cli_mpi_main(int argc, char **argv, int *status);   /* cli/mpi_main.c (make mpi) */
    int mpi_status;
    if (cli_mpi_main(argc, argv, &mpi_status)) return mpi_status;
#endif
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    const char *near = nearest(cmd);
    if (near)
        fprintf(stderr, "ntkit: error: unknown command '%s'; did you mean '%s'? ('ntkit --help' "
                "lists them)\n", cmd, near);
    else
        fprintf(stderr, "ntkit: error: unknown command '%s'; run 'ntkit --help' for the list\n", cmd);
    return 2;
}
