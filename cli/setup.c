/* Shared set-up for commands that train: flags -> dataset, network, rates,
 * run directory. */
#include "cli.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */

static int load_init_weights(cli_setup *s, const cli_args *a)
{
    ntk_array W0 = {0}, v0 = {0};
    if (ntk_npy_read(s->W0_path, &W0) != NTK_OK) return cli_fail_lib("--W0");
    if (W0.ndim != 2 || W0.cols != s->ds.d) {
        int r = cli_fail("--W0 %s has shape (%zu, %zu) but the data have d = %zu; it must be (m, %zu)",
                         s->W0_path, W0.rows, W0.cols, s->ds.d, s->ds.d);
        ntk_array_free(&W0);
        return r;
    }
    if (cli_has(a, "width") && W0.rows != s->cfg.m) {
        int r = cli_fail("--W0 has %zu rows but --width is %zu; drop --width or fix the file", W0.rows,
                         s->cfg.m);
        ntk_array_free(&W0);
        return r;
    }
    s->cfg.m = W0.rows;
    int rc = 0;
    if (s->v0_path) {
        if (ntk_npy_read(s->v0_path, &v0) != NTK_OK)
            rc = cli_fail_lib("--v0");
        else if (v0.rows * v0.cols != s->cfg.m)
            rc = cli_fail("--v0 %s has %zu values but W0 has m = %zu rows", s->v0_path,
                          v0.rows * v0.cols, s->cfg.m);
    } else {
        /* W0 given alone: draw v0 from the seed as the init prescribes */
        v0.data = malloc(s->cfg.m * sizeof(double));
        double *Wtmp = malloc(s->cfg.m * s->ds.d * sizeof(double));
        if (!v0.data || !Wtmp || ntk_init_weights(&s->cfg, Wtmp, v0.data) != NTK_OK)
            rc = cli_fail_lib("drawing v0");
        free(Wtmp);
    }
    if (!rc && ntk_net_config_check(&s->cfg) != NTK_OK) rc = cli_fail_lib(NULL);
    if (!rc && ntk_net_create_from(&s->cfg, W0.data, v0.data, &s->net) != NTK_OK)
        rc = cli_fail_lib("initial weights");
    ntk_array_free(&W0);
    ntk_array_free(&v0);
    return rc;
}

/* --steps, --log-every and --flow: the schedule of a run. */
static int schedule_flags(const cli_args *a, cli_setup *s)
{
    s->flow = cli_has(a, "flow");
    if (cli_double(a, "steps", 1000, 0, &s->t_final) || cli_double(a, "log-every", 10, 0, &s->t_every))
        return 1;
    if (!(s->t_every > 0)) return cli_fail("--log-every must be positive");
    if (!s->flow && (s->t_final != floor(s->t_final) || s->t_every != floor(s->t_every)))
        return cli_fail("--steps and --log-every count steps and must be integers (times are for --flow)");
    if (s->t_final > 1e12)
        return cli_fail("--steps %g is too large; at most 1e12 %s", s->t_final,
                        s->flow ? "time units" : "steps");
    /* a log interval past the end logs the first and last rows only; the
     * number of rows is bounded so that a typo cannot fill the disk */
    double rows = floor(s->t_final / s->t_every) + 2;
    if (rows > CLI_MAX_ROWS)
        return cli_fail("--log-every %g with --steps %g would log %.3g rows (at most %g); log less "
                        "often", s->t_every, s->t_final, rows, (double)CLI_MAX_ROWS);
    s->steps = (size_t)s->t_final;
    s->log_every = s->t_every > s->t_final ? s->steps + 1 : s->t_every >= 1 ? (size_t)s->t_every : 1;
    return 0;
}

/* --data, --target, --test, --n, --n-test: the dataset. A file's rows are
 * all for training by default (--n 0 means all but --n-test), and --test
 * names a second file whose rows are the test set. */
static int setup_data(const cli_args *a, cli_setup *s, size_t d)
{
    s->data_spec = cli_str(a, "data", "gaussian");
    s->test_spec = cli_str(a, "test", NULL);
    int is_file = strchr(s->data_spec, ':') && strncmp(s->data_spec, "gaussian", 8) != 0;
    size_t n, n_test;
    if (cli_size(a, "n", is_file ? 0 : 1000, 0, &n) ||
        cli_size(a, "n-test", is_file ? 0 : 200, 0, &n_test))
        return 1;
    if (s->test_spec && !is_file)
        return cli_fail("--test needs training data from a file (--data npy:..., csv:...); "
                        "synthetic data make their own test rows (--n-test)");
    const char *target = s->target_spec;
    if (!target && !is_file) target = "linear";
    if (n == 0 && !is_file) return cli_fail("--n must be positive for synthetic data");
    size_t need = ntk_size_mul(n + n_test, d + 1, 1, sizeof(double));
    if (!is_file && ntk_mem_check(need, 0, "the dataset") != NTK_OK) return cli_fail_lib(NULL);
    ntk_dataset_spec spec = {s->data_spec, target, n, n_test, is_file && !cli_has(a, "d") ? 0 : d,
                             s->cfg.seed, s->standardize, s->test_spec};
    if (ntk_dataset_make(&spec, &s->ds) != NTK_OK)
        return cli_fail_lib(s->test_spec ? "--data/--test/--target" : "--data/--target");
    s->target_spec = target;
    return 0;
}

/* --lrs η_1,...,η_{L+1} (after the network flags). At L = 1 the two
 * values become --lr1 and --lr2, so that the two-layer network runs as it
 * always did; deeper, ntk_gd_config.lrs holds them (nlr = L + 1) and lr1,
 * lr2 record the first and the last for config.json. */
static int layer_rates(const cli_args *a, cli_setup *s)
{
    if (!cli_has(a, "lrs")) return 0;
    if (cli_has(a, "lr1") || cli_has(a, "lr2"))
        return cli_fail("--lrs and --lr1/--lr2 both given; use --lrs alone for one rate per "
                        "layer, or --lr1 (hidden layers) and --lr2 (output layer)");
    size_t L = ntk_net_depth(&s->cfg);
    double r[NTK_MAX_DEPTH + 1];
    if (cli_rates_list(a, L + 1, r)) return 1;
    s->gd.lr1 = r[0];
    s->gd.lr2 = r[L];
    if (L == 1) return 0;
    s->gd.nlr = L + 1;
    memcpy(s->gd.lrs, r, (L + 1) * sizeof(double));
    return 0;
}

/* Bytes of a run of this network at depth: its models (--models where the
 * command has it, without lin; train: the network alone), on the set-up's
 * data, plus the set-up's own θ and θ0. */
static size_t deep_run_bytes(const cli_args *a, const cli_setup *s)
{
    ntk_run_config rc = ntk_run_config_default(s->cfg, s->gd);
    const char *list = cli_str(a, "models", NULL);
    int has_models = 0;
    for (size_t k = 0; k < a->nflags; k++) has_models |= !strcmp(a->flags[k].name, "models");
    if (!has_models)
        rc.models = NTK_MODEL_NN, rc.kernel_every = 0, rc.flips = 0;
    else if (ntk_models_parse(list ? list : "all", &rc.models) != NTK_OK)
        rc.models = NTK_MODEL_NN;
    rc.models &= ~(unsigned)NTK_MODEL_LIN;
    rc.flow = cli_has(a, "flow");
    size_t run = ntk_run_mem_bytes(&rc, s->ds.n, s->ds.n_test);
    size_t own = ntk_size_mul(2 * ntk_net_nparams(&s->cfg), 1, 1, sizeof(double));
    return run == SIZE_MAX || own == SIZE_MAX || run > SIZE_MAX - own ? SIZE_MAX : run + own;
}

int cli_setup_from_args(const cli_args *a, cli_setup *s)
{
    memset(s, 0, sizeof *s);
    size_t d;
    if (cli_size(a, "d", 20, 1, &d)) return 1;
    if (schedule_flags(a, s)) return 1;
    if (cli_double(a, "lr1", 1.0, -INFINITY, &s->gd.lr1) ||
        cli_double(a, "lr2", 1.0, -INFINITY, &s->gd.lr2))
        return 1;
    if (s->gd.lr1 < 0 || s->gd.lr2 < 0)
        return cli_fail("learning rates must be non-negative (--lr1 %g, --lr2 %g); use 0 to freeze a layer",
                        s->gd.lr1, s->gd.lr2);
    if (ntk_loss_parse(cli_str(a, "loss", "mean"), &s->gd.loss) != NTK_OK) return cli_fail_lib("--loss");
    if (cli_threads(a)) return 1;
    s->out_dir = cli_str(a, "out", NULL);
    if (!s->out_dir) return cli_fail("--out DIR is required: the run directory to write");
    s->target_spec = cli_str(a, "target", NULL);
    s->standardize = cli_has(a, "standardize");
    s->quiet = cli_has(a, "quiet");
    if (cli_progress_mode(s->quiet ? "none" : cli_str(a, "progress", "auto"))) return 1;
    s->force = cli_has(a, "force");
    if (cli_check_outdir(s->out_dir, s->force)) return 1;
    s->W0_path = cli_str(a, "W0", NULL);
    s->v0_path = cli_str(a, "v0", NULL);
    if (s->v0_path && !s->W0_path) return cli_fail("--v0 needs --W0");

    /* the net flags are checked first so that e.g. an odd symmetric width
     * fails before any data are made */
    if (cli_net_config(a, d, &s->cfg)) return 1;
    if (s->W0_path && ntk_net_is_deep(&s->cfg))
        return cli_fail("--W0/--v0 give the two-layer network's weights; drop them for --depth, "
                        "--widths, --weight-std, --bias-std or --parameterization standard");
    if (layer_rates(a, s)) return 1;
    /* docs/depth.md §1.5: pairs at the last hidden layer cancel every
     * gradient below it at θ0 */
    if (s->cfg.init == NTK_INIT_SYMMETRIC && ntk_net_depth(&s->cfg) > 1)
        fprintf(stderr, "ntkit: note: --init symmetric at --depth %zu pairs the last hidden layer's "
                "units, which makes every gradient below that layer zero at initialisation (the "
                "kernel at t = 0 is not the infinite-width one); --centered gives f = 0 at t = 0 "
                "with every layer's share\n", ntk_net_depth(&s->cfg));
    /* --lr-scale alpha2: rates divided by α² so that runs with different α
     * share one time axis (lazy training, docs/theory.md §5.3) */
    const char *lrs = cli_str(a, "lr-scale", "none");
    if (strcmp(lrs, "alpha2") == 0) {
        s->gd.lr1 /= s->cfg.alpha * s->cfg.alpha;
        s->gd.lr2 /= s->cfg.alpha * s->cfg.alpha;
        for (size_t l = 0; l < s->gd.nlr; l++) s->gd.lrs[l] /= s->cfg.alpha * s->cfg.alpha;
    } else if (strcmp(lrs, "none") != 0) {
        return cli_fail("--lr-scale must be none or alpha2, got '%s'", lrs);
    }
    if (setup_data(a, s, d)) return 1;
    s->cfg.d = s->ds.d;
    /* targets of k columns (one-hot classes, an (n, k) y.npy): a k-output head */
    size_t ky = s->ds.k > 1 ? s->ds.k : 1;
    if (cli_has(a, "outputs") && s->cfg.outputs != ky) {
        cli_setup_free(s);
        return cli_fail("--outputs %zu but the targets have %zu column%s; leave --outputs out "
                        "(it follows the targets) or give (n, %zu) targets", s->cfg.outputs, ky,
                        ky == 1 ? "" : "s", s->cfg.outputs);
    }
    s->cfg.outputs = ky;
    if (ntk_net_config_check(&s->cfg) != NTK_OK) {
        cli_setup_free(s);
        return cli_fail_lib(NULL);
    }
    /* the trainer and the weights; at depth, where the weights dominate,
     * the whole run (ntk_run_mem_bytes with the models of --models) and
     * this set-up's own θ and θ0, so that a run too large fails before its
     * directory and its weight files are written */
    size_t train_bytes = ntk_net_is_deep(&s->cfg) ? deep_run_bytes(a, s)
        : ntk_trainer_mem_bytes(s->ds.n, s->cfg.d, s->cfg.m) +
              ntk_size_mul(4 * s->cfg.m, s->cfg.d, 1, sizeof(double));
    if (ntk_mem_check(train_bytes, 0, ntk_net_is_deep(&s->cfg) ? "this run" : "training") != NTK_OK) {
        cli_setup_free(s);
        return cli_fail("%s; use a smaller --n or %s", ntk_errmsg(),
                        ntk_net_is_deep(&s->cfg) ? "smaller widths" : "--width");
    }
    int rc = s->W0_path ? load_init_weights(s, a)
                        : (ntk_net_create(&s->cfg, &s->net) != NTK_OK ? cli_fail_lib(NULL) : 0);
    if (!rc) rc = cli_prepare_outdir(s->out_dir, s->force);
    if (rc) cli_setup_free(s);
    return rc;
}

void cli_setup_free(cli_setup *s)
{
    ntk_net_free(s->net);
    s->net = NULL;
    ntk_dataset_free(&s->ds);
}

cJSON *cli_setup_config_json(const cli_setup *s, const char *command)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", command);
    cJSON_AddStringToObject(o, "version", NTK_VERSION);
    cJSON_AddNumberToObject(o, "n", (double)s->ds.n);
    cJSON_AddNumberToObject(o, "n_test", (double)s->ds.n_test);
    cJSON_AddNumberToObject(o, "d", (double)s->cfg.d);
    cJSON_AddNumberToObject(o, "width", (double)s->cfg.m);
    cli_depth_json(o, &s->cfg);
    cJSON_AddStringToObject(o, "act", ntk_act_name(s->cfg.act.kind));
    cJSON_AddNumberToObject(o, "act_param", s->cfg.act.param);
    cJSON_AddStringToObject(o, "init", ntk_init_name(s->cfg.init));
    cJSON_AddStringToObject(o, "input_scale", ntk_input_scale_name(s->cfg.input_scale));
    cJSON_AddNumberToObject(o, "s", ntk_net_config_s(&s->cfg));
    cJSON_AddNumberToObject(o, "alpha", s->cfg.alpha);
    cJSON_AddBoolToObject(o, "centered", s->cfg.centered);
    cJSON_AddStringToObject(o, "loss", ntk_loss_name(s->gd.loss));
    cJSON_AddNumberToObject(o, "lr1", s->gd.lr1);
    cJSON_AddNumberToObject(o, "lr2", s->gd.lr2);
    /* η_l of every layer l = 1..L+1 */
    cJSON *lr = cJSON_AddArrayToObject(o, "lrs");
    for (size_t l = 1; l <= ntk_net_depth(&s->cfg) + 1; l++)
        cJSON_AddItemToArray(lr, cJSON_CreateNumber(ntk_gd_layer_rate(&s->gd, &s->cfg, l)));
    cJSON_AddNumberToObject(o, "steps", s->t_final);
    cJSON_AddNumberToObject(o, "log_every", s->t_every);
    cJSON_AddBoolToObject(o, "flow", s->flow);
    cJSON_AddNumberToObject(o, "seed", (double)s->cfg.seed);
    cJSON_AddStringToObject(o, "data", s->data_spec);
    if (s->test_spec) cJSON_AddStringToObject(o, "test", s->test_spec);
    if (s->target_spec)
        cJSON_AddStringToObject(o, "target", s->target_spec);
    else
        cJSON_AddNullToObject(o, "target");
    cJSON_AddBoolToObject(o, "standardize", s->standardize);
    if (s->W0_path) cJSON_AddStringToObject(o, "W0_file", s->W0_path);
    if (s->v0_path) cJSON_AddStringToObject(o, "v0_file", s->v0_path);
    cJSON_AddNumberToObject(o, "threads", ntk_get_threads());
    return o;
}

int cli_write_inputs(const cli_setup *s)
{
    char p[4096];
    const ntk_dataset *ds = &s->ds;
    size_t m = s->cfg.m, d = s->cfg.d, nfiles = 6, ny = ds->k > 1 ? ds->k : 1, yd = ny > 1 ? 2 : 1;
    int deep = ntk_net_is_deep(&s->cfg);
    struct { const char *name; const double *x; size_t rows, cols; int ndim; } files[] = {
        {"X_train.npy", ds->X_train, ds->n, d, 2},   {"y_train.npy", ds->y_train, ds->n, ny, (int)yd},
        {"X_test.npy", ds->X_test, ds->n_test, d, 2}, {"y_test.npy", ds->y_test, ds->n_test, ny, (int)yd},
        {"W0.npy", deep ? NULL : ntk_net_W0(s->net), m, d, 2},
        {"v0.npy", deep ? NULL : ntk_net_v0(s->net), m, 1, 1},
    };
    /* at depth the initial weights go layer by layer (W{l}_init.npy, ...) */
    if (deep) nfiles = 4;
    for (size_t k = 0; k < nfiles; k++) {
        cli_path(p, sizeof p, s->out_dir, files[k].name);
        if (ntk_npy_write(p, files[k].x, files[k].rows, files[k].cols, files[k].ndim) != NTK_OK)
            return cli_fail_lib(NULL);
    }
    if (!deep) return 0;
    ntk_outset *o = NULL;
    int rc = ntk_outset_create(&o) != NTK_OK || cli_stage_layers(o, s->out_dir, &s->cfg,
                                                                ntk_net_theta0(s->net), "init");
    if (!rc) rc = ntk_outset_commit(o) != NTK_OK;
    if (rc) cli_fail_lib(NULL);
    ntk_outset_free(o);
    return rc;
}

/* W{l}_<when>.npy (m_l, m_{l-1}) and, with biases, b{l}_<when>.npy (m_l)
 * for l = 1..L+1, cut from θ by the layout of ntk_net_layer_offset. */
int cli_stage_layers(ntk_outset *o, const char *dir, const ntk_net_config *cfg,
                     const double *theta, const char *when)
{
    char name[64], p[4096];
    for (size_t l = 1; l <= ntk_net_depth(cfg) + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
        snprintf(name, sizeof name, "W%zu_%s.npy", l, when);
        cli_path(p, sizeof p, dir, name);
        if (ntk_outset_add_npy(o, p, theta + off, ntk_net_width(cfg, l), ntk_net_width(cfg, l - 1),
                               2) != NTK_OK)
            return 1;
        if (!nb) continue;
        snprintf(name, sizeof name, "b%zu_%s.npy", l, when);
        cli_path(p, sizeof p, dir, name);
        if (ntk_outset_add_npy(o, p, theta + off + nW, nb, 1, 1) != NTK_OK) return 1;
    }
    return 0;
}

/* The depth settings of a network in config.json (read back by
 * ntk_net_config_from_json). */
void cli_depth_json(cJSON *o, const ntk_net_config *cfg)
{
    size_t L = ntk_net_depth(cfg);
    cJSON_AddNumberToObject(o, "depth", (double)L);
    cJSON *w = cJSON_AddArrayToObject(o, "widths");
    for (size_t l = 1; l <= L; l++) cJSON_AddItemToArray(w, cJSON_CreateNumber((double)ntk_net_width(cfg, l)));
    cJSON_AddNumberToObject(o, "weight_std", cfg->weight_std);
    cJSON_AddNumberToObject(o, "bias_std", cfg->bias_std);
    cJSON_AddStringToObject(o, "parameterization", ntk_param_name(cfg->parameterization));
    cJSON_AddNumberToObject(o, "outputs", (double)ntk_net_outputs(cfg));
}

