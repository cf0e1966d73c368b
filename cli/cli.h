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

/* "512M", "2G", "1.5GiB", "4096" -> bytes; prints an error naming --flag. */
int cli_bytes(const char *flag, const char *s, size_t *out);

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
    {"seed", 1, "S", "random seed for data and weights (default 0)"},                    \
    {"depth", 1, "L", "hidden layers L, 1..16 (default 1: the two-layer network)"},       \
    {"widths", 1, "M1,..", "one hidden width per layer, L values, e.g. 512,256 (default: --width for every layer)"}, \
    {"weight-std", 1, "S", "weight standard deviation sigma_w (default 1)"},              \
    {"bias-std", 1, "S", "bias standard deviation sigma_b; 0: no biases (default 0)"},    \
    {"parameterization", 1, "P", "ntk (weights N(0,1), sigma_w/sqrt(fan-in) in the forward pass) | standard (weights N(0, sigma_w^2/fan-in)) (default ntk)"}, \
    {"outputs", 1, "K", "output units k; kernels of a k-output network are the mean of its per-output kernels (default 1; run and train take k from (n, k) or one-hot targets)"}

/* Fill cfg from the network flags (d must be set by the caller):
 * --width, --depth 1..NTK_MAX_DEPTH, --widths (L values; m = the first),
 * --weight-std > 0, --bias-std >= 0, --parameterization, and the rest. */
int cli_net_config(const cli_args *a, size_t d, ntk_net_config *cfg);
/* --lrs: exactly `need` finite non-negative rates, not all 0, into rates;
 * prints the error (call only when --lrs is present). */
int cli_rates_list(const cli_args *a, size_t need, double *rates);
/* Apply --threads if present (default: all cores). */
int cli_threads(const cli_args *a);

/* Monotonic wall clock in seconds. */
double cli_now(void);

/* 1 when stderr is a terminal (progress lines are shown only then). */
int cli_isatty_stderr(void);

/* ----------------------------------------------------------------------
 * Shared set-up of train and run: data, network and rates from flags.
 * -------------------------------------------------------------------- */

#define CLI_TRAIN_FLAGS                                                                   \
    {"n", 1, "N", "training points (default 1000; with a data file all its rows but --n-test)"}, \
    {"n-test", 1, "N", "test points (default 200; with a data file 0, or all rows of --test)"}, \
    {"test", 1, "SPEC", "test rows from a second file: npy:Xt.npy:yt.npy, csv:..., like --data"}, \
    {"d", 1, "D", "input dimension of synthetic data (default 20; files set their own)"}, \
    CLI_NET_FLAGS,                                                                         \
    {"loss", 1, "FORM", "loss form: mean (1/2n sum r^2) | sum (1/2 sum r^2) (default mean)"}, \
    {"lr1", 1, "ETA", "first-layer rate eta1, 0 freezes W (default 1)"},                  \
    {"lr2", 1, "ETA", "second-layer rate eta2, 0 freezes v (default 1)"},                 \
    {"lrs", 1, "E1,..", "one rate per layer eta_1..eta_{L+1}, 0 freezes a layer (default: --lr1 for layers 1..L, --lr2 for the output layer)"}, \
    {"steps", 1, "K", "gradient steps (default 1000)"},                                    \
    {"log-every", 1, "K", "log metrics every K steps; the last step is always logged (default 10)"}, \
    {"data", 1, "SPEC", "inputs: gaussian | gaussian:decay=P | sphere | unit-sphere | npy:X.npy[:y.npy] | csv:FILE[:target=COL] | cifar10:FILE:POS,NEG|all | mnist:IMAGES:LABELS:POS,NEG|all (all: every class, one-hot targets and a 10-output network) (default gaussian)"}, \
    {"target", 1, "SPEC", "labels: linear | relu-neuron | two-layer:k=K | hermite:1=c,2=c | poly:1=c | gegenbauer:1=c | noise | npy:y.npy, plus ,noise=SIGMA (default linear; files with labels need none)"}, \
    {"standardize", 0, NULL, "centre inputs and rescale so that Tr Sigma = d (training statistics)"}, \
    {"W0", 1, "FILE", "initial first-layer weights (m x d .npy) instead of drawing them (two-layer network only)"}, \
    {"v0", 1, "FILE", "initial second-layer weights (m .npy); needs --W0 (two-layer network only)"}, \
    {"out", 1, "DIR", "run directory to write (required; must be new or empty unless --force)"}, \
    {"force", 0, NULL, "write into a non-empty --out, replacing the files ntkit wrote there"}, \
    {"threads", 1, "T", "OpenBLAS threads (default: all cores)"},                          \
    {"quiet", 0, NULL, "no progress line (--progress none)"},                              \
    {"progress", 1, "MODE", "auto (a line in place on a terminal, else plain) | plain (a line every 5 s) | tty | none"}

/* The most metric rows a run logs (about 2 GB of metrics.csv at 200 bytes a row). */
#define CLI_MAX_ROWS 10000000

typedef struct {
    ntk_dataset ds;
    ntk_net_config cfg;
    ntk_net *net;
    ntk_gd_config gd;
    size_t steps, log_every;
    double t_final, t_every;   /* --steps/--log-every as numbers (flow: times) */
    int flow;
    const char *out_dir;
    const char *data_spec, *target_spec, *test_spec;
    const char *W0_path, *v0_path;
    int standardize, quiet, force;
} cli_setup;

/* Resolve flags, make the dataset and the network, create the run directory.
 * On failure prints one error line and returns nonzero (s is freed). */
int cli_setup_from_args(const cli_args *a, cli_setup *s);
void cli_setup_free(cli_setup *s);
/* Every resolved setting as a JSON object (caller frees with cJSON_Delete). */
struct cJSON *cli_setup_config_json(const cli_setup *s, const char *command);
/* Write X_train, y_train, X_test, y_test and the initial weights into the
 * run directory: W0, v0 for the two-layer network, W{l}_init (and
 * b{l}_init with biases), l = 1..L+1, at depth. */
int cli_write_inputs(const cli_setup *s);
/* Stage W{l}_<when>.npy (m_l, m_{l-1}) and b{l}_<when>.npy (m_l, with
 * biases) of the flat parameters theta in dir; nonzero on failure (the
 * library's message stands). */
int cli_stage_layers(ntk_outset *o, const char *dir, const ntk_net_config *cfg,
                     const double *theta, const char *when);
/* "depth", "widths", "weight_std", "bias_std", "parameterization" of cfg
 * into a config.json object. */
void cli_depth_json(struct cJSON *o, const ntk_net_config *cfg);

/* A final training loss this many times the initial one is a blow-up, even
 * when finite: gradient descent at a stable rate never raises it so much. */
#define CLI_GROWTH_WARN 10.0
/* In summary.json: "loss_growth" (final/initial training loss) and, past
 * CLI_GROWTH_WARN, a "warnings" entry saying the rates are unstable. */
void cli_loss_growth(struct cJSON *sum, double growth);

/* Run directories (cli/rundir.c). */
/* dir/name into buf. */
void cli_path(char *buf, size_t len, const char *dir, const char *name);
/* mkdir -p */
int cli_mkdirs(const char *dir);
/* Refuse a --out that is not a directory, or (without force) not empty. */
int cli_check_outdir(const char *dir, int force);
/* cli_check_outdir, then create dir; with force, remove the files ntkit
 * wrote there before (run files, figures, a sweep's member runs). */
int cli_prepare_outdir(const char *dir, int force);

/* cJSON_Print plus a final newline (caller frees *text). */
int cli_json_text(const struct cJSON *obj, const char *what, char **text, size_t *len);
/* Write a JSON object to dir/name atomically. */
int cli_write_json(const char *dir, const char *name, const struct cJSON *obj);
/* Stage dir/name in an output set. */
int cli_outset_json(ntk_outset *o, const char *dir, const char *name, const struct cJSON *obj);

/* A CSV written row by row through a library stream: a temporary file next
 * to dir/name, put in place by cli_csv_close, so that an interrupted or
 * failed run never leaves a truncated file under the final name. Row and
 * close print one error line and return nonzero when a write fails. */
typedef struct {
    ntk_stream *s;
    int ncols;
} cli_csv;
int cli_csv_open(cli_csv *c, const char *dir, const char *name, const char *header);
int cli_csv_row(cli_csv *c, const double *vals);
int cli_csv_close(cli_csv *c);
void cli_csv_discard(cli_csv *c);

/* Signals. With graceful = 1 (the commands that train), SIGINT, SIGTERM and
 * SIGHUP set cli_interrupted: the run stops at the next step and writes what
 * it has; a second signal also sets cli_hurry (skip the final computations,
 * not the writes); a third ends the process. With graceful = 0 a signal
 * removes the library's temporary files and ends the process. */
extern volatile int cli_interrupted;
extern volatile int cli_hurry;
void cli_catch_signals(int graceful);

/* ----------------------------------------------------------------------
 * Runs through the library's driver (cli/runloop.c).
 * -------------------------------------------------------------------- */

/* metrics.csv: the chosen columns of each row (by the run's column names,
 * renamed; a NULL source is the wall-clock seconds since the first row). */
typedef struct {
    cli_csv csv;
    const cli_setup *s;
    size_t ncols, rows;
    int *map;
    double *buf, t0;
    int loss_col;
    int failed;        /* a write failed (its error line was printed) */
} cli_rows;
int cli_rows_open(cli_rows *w, const cli_setup *s, const ntk_run *r, const char *const *names,
                  const char *const *from, size_t ncols);
/* An ntk_row_fn: writes the row and the progress line; nonzero when the
 * write failed (one error line printed). */
int cli_rows_write(void *ctx, const ntk_run *r, const double *row);
void cli_rows_free(cli_rows *w);
/* The run from the set-up's data and θ0, with the signal flag as its
 * cancel flag; prints the error. */
int cli_run_create(const cli_setup *s, const ntk_run_config *rc, ntk_run **r);
/* ntk_run_execute over --steps/--log-every with the signal flags. */
ntk_status cli_execute(ntk_run *r, const cli_setup *s, int theory, cli_rows *w,
                       ntk_run_report *rep);
/* W.npy, v.npy (at depth W{l}_final.npy, b{l}_final.npy; unless
 * diverged), predict_<model>.npy on the inputs of --predict (when predict
 * is not NULL) and summary.json, committed together. */
int cli_write_results(const cli_setup *s, ntk_run *r, ntk_run_status status,
                      const struct cJSON *summary, const ntk_array *predict);
/* Every model's predictions on X (n, d) made now into *out (NTK_NMODELS
 * blocks of n·k, a model that is off left unset; caller frees): in a
 * data-parallel run the kernel models' are collective, so every process
 * makes them before process 0 writes them (cli_write_results_pred with
 * pred = *out; pred NULL: made while writing). Prints the error. */
int cli_predict_models(const cli_setup *s, ntk_run *r, const ntk_array *X, double **out);
int cli_write_results_pred(const cli_setup *s, ntk_run *r, ntk_run_status status,
                           const struct cJSON *summary, const ntk_array *predict,
                           const double *pred);

/* --progress auto|plain|tty|none (cli/rundir.c); prints the error. */
int cli_progress_mode(const char *mode);
/* Progress on stderr: step/total, loss, ETA; on a terminal one line rewritten
 * in place, otherwise (or with --progress plain) a new line every 5 s. */
void cli_progress(size_t step, size_t total, double loss, double elapsed, int final);

/* ----------------------------------------------------------------------
 * Kernels from the command line (cli/kernel_args.c), for kernel and krr.
 * -------------------------------------------------------------------- */

#define CLI_KIND_LIST "ntk, ntk1, ntk2, nngp, ntk-inf, ntk1-inf, ntk2-inf, nngp-inf, lin, lin1, lin2"

typedef struct {
    const char *name;
    ntk_kernel_source src;
    double c1, c2;        /* K = c1·Θ1 + c2·Θ2 */
} cli_kernel_kind;

typedef struct {
    const cli_kernel_kind *kind;
    const char *x_path, *x2_path, *out_path, *spec_path, *weights_dir;
    int at_init, quad_order;
    int diagonal;                     /* only K_ii (ntkit kernel --diagonal) */
    size_t mem_limit;                 /* 0: default */
    double trace_factor;              /* < 0: estimate from X */
} cli_kernel_opts;

/* --kind --x --x2 --out --spectrum --weights --at --trace-factor
 * --quad-order --mem-limit; krr writes no kernel file (need_out = 0). */
int cli_kernel_options(const cli_args *a, cli_kernel_opts *o, int need_out);
/* The kernel description of the options on inputs X, with what it points
 * to (network settings, weights) held in h; h must stay in place while the
 * description is used. Frees nothing on failure: call cli_kernel_held_free
 * either way. */
typedef struct {
    ntk_kernel_desc desc;
    ntk_net_config cfg;
    ntk_array W, v;
    double *theta;    /* a deep network's parameters from --weights DIR (owned) */
    ntk_net *net;
} cli_kernel_held;
int cli_kernel_desc(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                    size_t tile_limit, cli_kernel_held *h, double *tf_used);
void cli_kernel_held_free(cli_kernel_held *h);
/* The kernel into K (n1, n2), or (n1, n1) when X2 is NULL; *tf_used gets
 * the trace factor of the lin kinds. Prints the error. */
int cli_kernel_compute(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                       const ntk_array *X2, size_t tile_limit, double *K, double *tf_used);
/* A 2-d (n,d) float64 array from a .npy named by `flag`; prints the error. */
int cli_load_matrix(const char *flag, const char *path, ntk_array *A);
/* bytes -> "512 B", "6.2 KiB", "1.5 GiB" in buf (32 chars); returns buf. */
const char *cli_fmt_bytes(size_t bytes, char *buf);

/* ----------------------------------------------------------------------
 * ntkit run, for itself and for sweep (cli/cmd_run.c).
 * -------------------------------------------------------------------- */

#define CLI_RUN_FLAGS                                                                              \
    CLI_TRAIN_FLAGS,                                                                           \
    {"models", 1, "LIST", "models trained side by side: nn,linearized,lin,ntk,ntk-inf (default all)"}, \
    {"flow", 0, NULL, "gradient flow: --steps is the final time and --log-every the time grid"}, \
    {"flow-tol", 1, "TOL", "ODE error tolerance for --flow (default 1e-6; the kinks of relu make tighter ones slow)"},                   \
    {"kernel-every", 1, "K", "measure NTK drift and lambda_min every K log points, 0 never (default 10)"}, \
    {"kernel-subsample", 1, "N", "training points used for the NTK drift, 0 all (default 500)"}, \
    {"lr-scale", 1, "MODE", "none | alpha2: divide both rates by alpha^2 (default none)"},     \
    {"quad-order", 1, "Q", "Gauss-Hermite order for infinite-width kernels (default 64)"},      \
    {"mem-limit", 1, "BYTES", "memory for the kernel models and kernel tiles, e.g. 512M or 2G (default: half of available memory)"}, \
    {"operator", 1, "MODE", "the ntk and ntk-inf models' kernels: auto | dense | dense-f32 | matrix-free (auto: stored when they fit --mem-limit)"}, \
    {"predict", 1, "X.npy", "also write every model's predictions on these inputs (k, d) at the end: predict_<model>.npy"}

/* Summary of one run, for sweeps: final and max of every metric column. */
typedef struct {
    size_t ncols;
    char names[64][40];
    double final[64], max[64];
    const char *status;
} cli_run_result;

/* DIR/results.json from res, added to set, then every file of set put in
 * place together (krr on one process or many, the distributed commands). */
int cli_commit_results(ntk_outset *set, const char *dir, const struct cJSON *res);

/* Eigenvalues (ascending) as "index,eigenvalue" CSV (the --spectrum file of
 * `ntkit kernel`, one process or many), staged in o. */
int cli_stage_spectrum(ntk_outset *o, const char *path, const double *evals, size_t n);
/* ", lambda_min A, lambda_max B, condition number C" of ascending
 * eigenvalues, on the summary line of `ntkit kernel` (one process or many). */
void cli_print_extremes(const double *evals, size_t n);

/* The whole run from parsed flags; fills res (when not NULL) for a sweep. */
int cli_run_with_args(const cli_args *a, int quiet_summary, cli_run_result *res);

/* Commands: each returns the process exit status. */
int cmd_train(int argc, char **argv);
int cmd_kernel(int argc, char **argv);
int cmd_constants(int argc, char **argv);
int cmd_compare_kernels(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_krr(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* Kernel ridge regression's helpers (cli/cmd_krr.c), shared with the
 * distributed krr and kgd of build-mpi/ntkit (cli/mpi_krr.c, cli/mpi_kgd.c). */
/* Targets of n rows from path into y: (n,) or (n, k), k checked against want
 * (0: any); one error line naming flag on failure. */
int cli_load_targets(const char *flag, const char *path, size_t n, size_t want, ntk_array *y);
/* krr's --x (x_path), --y, --x-test and --y-test read and checked against
 * each other (cli/cmd_krr.c); one error line and nonzero on failure. */
int cli_krr_load(const cli_args *a, const char *x_path, ntk_array *X, ntk_array *y, ntk_array *Xt,
                 ntk_array *yt);
/* "1e-6,1e-3" -> *ridges (malloc'd, caller frees), *nr of them: non-negative
 * finite numbers, else one error line. */
int cli_ridge_list(const char *list, double **ridges, int *nr);
/* (1/n) Σ_i ‖f_i − y_i‖² over n rows of k outputs. */
double cli_mse(const double *f, const double *y, size_t n, size_t k);
/* The fraction of rows whose largest output is where the target's is (k ≥ 2). */
double cli_accuracy(const double *f, const double *y, size_t n, size_t k);

#endif
