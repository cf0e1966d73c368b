/* Shared pieces of the ntkit command-line tool. */
#ifndef NTK_CLI_H
#define NTK_CLI_H

#include "ntkit.h"

#include <stddef.h>

/* One flag of a command. has_arg = 0 for switches. */
typedef struct {
    const char *name;      /* without the leading "--" */
    int has_arg;
    const char *metavar;   /* e.g. "N"; NULL for switches */
    const char *help;      /* one line, default included */
} cli_flag;

#define CLI_MAX_ARGS 96

/* Parsed command line: flags by name plus positional arguments. */
typedef struct {
    const cli_flag *flags;
    size_t nflags;
    const char *values[CLI_MAX_ARGS];   /* value per flag index, or NULL when absent */
    int present[CLI_MAX_ARGS];
    const char *positional[CLI_MAX_ARGS];
    int npositional;
    int help;                            /* --help / -h given */
} cli_args;

/* Parse argv (argv[0] is the command name). Unknown flags and missing values
 * print one error line and return nonzero. "--flag=value" and "--flag value"
 * both work. */
int cli_parse(cli_args *a, const cli_flag *flags, size_t nflags, int argc, char **argv);
/* Print "usage: ntkit CMD SYNOPSIS", the description and every flag. */
void cli_usage(const char *cmd, const char *synopsis, const char *desc, const cli_flag *flags,
               size_t nflags);

int cli_has(const cli_args *a, const char *name);
const char *cli_str(const cli_args *a, const char *name, const char *def);
/* Typed getters: on a malformed or out-of-range value print one error line
 * naming the flag and return nonzero. */
int cli_size(const cli_args *a, const char *name, size_t def, size_t min, size_t *out);
int cli_double(const cli_args *a, const char *name, double def, double min, double *out);
int cli_u64(const cli_args *a, const char *name, uint64_t def, uint64_t *out);
int cli_int(const cli_args *a, const char *name, int def, int min, int max, int *out);

/* Print "ntkit: error: <msg>" to stderr and return 1 (use as `return cli_fail(...)`). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_fail with the library's last message, prefixed by context. */
int cli_fail_lib(const char *context);
/* "ntkit: warning: <msg>" */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The network flags shared by train, run and kernel:
 *   --width --act --act-param --init --input-scale --alpha --centered --seed
 * CLI_NET_FLAGS expands to their cli_flag entries. */
#define CLI_NET_FLAGS                                                                     \
    {"width", 1, "M", "hidden width m (default 256)"},                                    \
    {"act", 1, "NAME", "activation: relu|leaky_relu|erf|tanh|sigmoid|softplus|gelu|identity (default relu)"}, \
    {"act-param", 1, "A", "activation parameter: leaky_relu slope (default 0.1)"},        \
    {"init", 1, "KIND", "initialisation: gaussian|sign|symmetric (default gaussian)"},    \
    {"input-scale", 1, "S", "pre-activation scale s: sqrt_d (w.x/sqrt(d)) | one (w.x) (default sqrt_d)"}, \
    {"alpha", 1, "A", "output scale alpha (default 1)"},                                  \
    {"centered", 0, NULL, "use the centred model f(x;theta) - f(x;theta0)"},               \
    {"seed", 1, "S", "random seed for data and weights (default 0)"}

/* Fill cfg from the network flags (d must be set by the caller). */
int cli_net_config(const cli_args *a, size_t d, ntk_net_config *cfg);
/* Apply --threads if present (default: all cores). */
int cli_threads(const cli_args *a);

/* 1 when stderr is a terminal (progress lines are shown only then). */
int cli_isatty_stderr(void);

/* Commands: each returns the process exit status. */
int cmd_train(int argc, char **argv);

#endif
