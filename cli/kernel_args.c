/* What ntkit kernel and ntkit krr share: the kernel kinds, their options,
 * the network and weights of --weights DIR, and the kernel itself through
 * the library's one entry point. */
#include "cli.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bytes -> "512 B", "6.2 KiB", "1.5 GiB" in buf (32 chars); returns buf. */
const char *cli_fmt_bytes(size_t bytes, char *buf)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", v, unit[u]);
    return buf;
}

/* A 2-d (n,d) float64 array from a .npy named by `flag`; prints the error.
 * Mapped, not copied, where the file allows it (ntk_npy_map): inputs of a
 * million points cost no second copy. */
int cli_load_matrix(const char *flag, const char *path, ntk_array *A)
{
    if (ntk_npy_map(path, A) != NTK_OK) return cli_fail("%s: %s", flag, ntk_errmsg());
    if (A->ndim != 2 || A->rows == 0 || A->cols == 0) {
        int rc = A->ndim == 2
                     ? cli_fail("%s %s has shape (%zu, %zu); it must be a non-empty (n, d) array",
                                flag, path, A->rows, A->cols)
                     : cli_fail("%s %s is 1-d with %zu values; it must be a 2-d (n, d) array "
                                "(reshape it to (n, 1) for d = 1)",
                                flag, path, A->rows);
        ntk_array_free(A);
        return rc;
    }
    return 0;
}

static const cli_kernel_kind kinds[] = {
    {"ntk", NTK_KERNEL_EMPIRICAL, 1, 1},     {"ntk1", NTK_KERNEL_EMPIRICAL, 1, 0},     {"ntk2", NTK_KERNEL_EMPIRICAL, 0, 1},
    {"nngp", NTK_KERNEL_EMPIRICAL, 0, 1},    {"ntk-inf", NTK_KERNEL_INFINITE, 1, 1},  {"ntk1-inf", NTK_KERNEL_INFINITE, 1, 0},
    {"ntk2-inf", NTK_KERNEL_INFINITE, 0, 1}, {"nngp-inf", NTK_KERNEL_INFINITE, 0, 1}, {"lin", NTK_KERNEL_LIN, 1, 1},
    {"lin1", NTK_KERNEL_LIN, 1, 0},    {"lin2", NTK_KERNEL_LIN, 0, 1},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const char *net_flag_names[] = {"width", "act", "act-param", "init", "input-scale",
                                       "alpha", "centered", "seed", "depth", "widths",
                                       "weight-std", "bias-std", "parameterization", "outputs"};

static const cli_kernel_kind *find_kind(const char *name)
{
    for (size_t k = 0; k < NKINDS; k++)
        if (strcmp(name, kinds[k].name) == 0) return &kinds[k];
    return NULL;
}

/* DIR/config.json (written by ntkit train) -> cfg. */
static int run_config(const char *dir, ntk_net_config *cfg)
{
    char path[4096];
    cli_path(path, sizeof path, dir, "config.json");
    if (ntk_net_config_read(path, cfg) != NTK_OK)
        return cli_fail("--weights %s: %s; pass a run directory of 'ntkit train'", dir, ntk_errmsg());
    return 0;
}

/* DIR/W*.npy, DIR/v*.npy for cfg (m,d) -> W, v (caller frees both arrays). */
static int run_weights(const char *dir, int at_init, const ntk_net_config *cfg, ntk_array *W,
                       ntk_array *v)
{
    char pw[4096], pv[4096];
    cli_path(pw, sizeof pw, dir, at_init ? "W0.npy" : "W.npy");
    cli_path(pv, sizeof pv, dir, at_init ? "v0.npy" : "v.npy");
    if (ntk_npy_map(pw, W) != NTK_OK) return cli_fail_lib("--weights");
    if (W->ndim != 2 || W->rows != cfg->m || W->cols != cfg->d) {
        int rc = cli_fail("%s has shape (%zu, %zu) but config.json says (width, d) = (%zu, %zu)",
                          pw, W->rows, W->cols, cfg->m, cfg->d);
        ntk_array_free(W);
        return rc;
    }
    if (ntk_npy_map(pv, v) != NTK_OK) {
        ntk_array_free(W);
        return cli_fail_lib("--weights");
    }
    if (v->rows * v->cols != cfg->m) {
        int rc = cli_fail("%s has %zu values but config.json says width = %zu", pv,
                          v->rows * v->cols, cfg->m);
        ntk_array_free(W);
        ntk_array_free(v);
        return rc;
    }
    return 0;
}

/* A deep network's weights from DIR/W{l}_<when>.npy and b{l}_<when>.npy
 * (when = init or final), each checked against the shape config.json
 * implies, into θ (ntk_net_nparams values, caller frees). */
static int run_layer_weights(const char *dir, int at_init, const ntk_net_config *cfg,
                             double **theta)
{
    size_t P = ntk_net_nparams(cfg);
    if (ntk_mem_check(ntk_size_mul(P, 1, 1, sizeof(double)), 0, "the network's weights") != NTK_OK)
        return cli_fail_lib("--weights");
    *theta = malloc((P ? P : 1) * sizeof(double));
    if (!*theta) return cli_fail("out of memory for the %zu weights of --weights %s", P, dir);
    const char *when = at_init ? "init" : "final";
    for (size_t l = 1; l <= ntk_net_depth(cfg) + 1; l++) {
        size_t nW, nb, off = ntk_net_layer_offset(cfg, l, &nW, &nb);
        for (int bias = 0; bias <= (nb > 0); bias++) {
            char name[64], path[4096];
            snprintf(name, sizeof name, "%c%zu_%s.npy", bias ? 'b' : 'W', l, when);
            cli_path(path, sizeof path, dir, name);
            ntk_array A = {0};
            if (ntk_npy_read(path, &A) != NTK_OK) return cli_fail_lib("--weights");
            size_t rows = ntk_net_width(cfg, l), cols = bias ? 1 : ntk_net_width(cfg, l - 1);
            int ok = bias ? A.ndim == 1 && A.rows == rows : A.ndim == 2 && A.rows == rows && A.cols == cols;
            if (!ok) {
                char got[64], want[64];
                if (A.ndim == 2) snprintf(got, sizeof got, "(%zu, %zu)", A.rows, A.cols);
                else snprintf(got, sizeof got, "(%zu,)", A.rows);
                if (bias) snprintf(want, sizeof want, "(%zu,)", rows);
                else snprintf(want, sizeof want, "(%zu, %zu)", rows, cols);
                int rc = cli_fail("%s has shape %s but config.json implies %s; pass the run "
                                  "directory these weights came from", path, got, want);
                ntk_array_free(&A);
                return rc;
            }
            memcpy(*theta + off + (bias ? nW : 0), A.data, (bias ? nb : nW) * sizeof(double));
            ntk_array_free(&A);
        }
    }
    return 0;
}

/* Options shared by kernel and krr; krr writes no kernel file (no --out). */
int cli_kernel_options(const cli_args *a, cli_kernel_opts *o, int need_out)
{
    memset(o, 0, sizeof *o);
    const char *kind = cli_str(a, "kind", NULL);
    if (!kind) return cli_fail("--kind is required: one of " CLI_KIND_LIST);
    o->kind = find_kind(kind);
    if (!o->kind) return cli_fail("unknown kernel kind '%s'; choose one of " CLI_KIND_LIST, kind);
    o->x_path = cli_str(a, "x", NULL);
    if (!o->x_path) return cli_fail("--x X.npy is required: the inputs, an (n, d) array");
    o->out_path = cli_str(a, "out", NULL);
    if (!o->out_path && need_out) return cli_fail("--out K.npy is required: the file to write the kernel to");
    o->x2_path = cli_str(a, "x2", NULL);
    o->spec_path = cli_str(a, "spectrum", NULL);
    if (o->spec_path && o->x2_path)
        return cli_fail("--spectrum needs a symmetric kernel but --x2 asks for a cross block; "
                        "drop --x2 or --spectrum");
    o->weights_dir = cli_str(a, "weights", NULL);
    const char *at = cli_str(a, "at", NULL);
    if (at && !o->weights_dir)
        return cli_fail("--at needs --weights DIR (without it the kernel is at the initial weights)");
    if (at && strcmp(at, "init") != 0 && strcmp(at, "final") != 0)
        return cli_fail("--at must be init or final, got '%s'", at);
    o->at_init = at && strcmp(at, "init") == 0;
    if (o->weights_dir) {
        for (size_t k = 0; k < sizeof net_flag_names / sizeof net_flag_names[0]; k++)
            if (cli_has(a, net_flag_names[k]))
                return cli_fail("--%s conflicts with --weights: the network comes from %s/config.json",
                                net_flag_names[k], o->weights_dir);
        if (o->kind->src != NTK_KERNEL_EMPIRICAL && at)
            cli_warn("--at has no effect on --kind %s (it needs no weights)", o->kind->name);
    } else if (o->kind->src != NTK_KERNEL_EMPIRICAL) {
        static const char *unused[] = {"width", "init", "seed", "centered"};
        for (size_t k = 0; k < sizeof unused / sizeof unused[0]; k++)
            if (cli_has(a, unused[k]))
                cli_warn("--%s has no effect on --kind %s (it needs no weights)", unused[k],
                         o->kind->name);
    }
    o->trace_factor = -1.0;
    if (cli_has(a, "trace-factor")) {
        if (cli_double(a, "trace-factor", 1.0, 0.0, &o->trace_factor)) return 1;
        if (o->kind->src != NTK_KERNEL_LIN)
            cli_warn("--trace-factor has no effect on --kind %s (only on lin kinds)", o->kind->name);
    }
    if (cli_int(a, "quad-order", 0, 0, 1 << 20, &o->quad_order)) return 1;
    if (cli_has(a, "quad-order") && o->kind->src == NTK_KERNEL_EMPIRICAL)
        cli_warn("--quad-order has no effect on --kind %s (empirical kernels need no quadrature)",
                 o->kind->name);
    const char *ml = cli_str(a, "mem-limit", NULL);
    if (ml && cli_bytes("mem-limit", ml, &o->mem_limit)) return 1;
    return 0;
}

/* The network of the kernel: from --weights DIR/config.json or the flags. */
static int kernel_net(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                      ntk_net_config *cfg)
{
    size_t d = X->cols;
    if (!o->weights_dir) return cli_net_config(a, d, cfg);
    if (run_config(o->weights_dir, cfg)) return 1;
    if (cfg->d != d)
        return cli_fail("--x %s has d = %zu but the network of --weights %s has d = %zu; use "
                        "inputs of the run's dimension",
                        o->x_path, d, o->weights_dir, cfg->d);
    return 0;
}

int cli_kernel_desc(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                    size_t tile_limit, cli_kernel_held *h, double *tf_used)
{
    memset(h, 0, sizeof *h);
    if (kernel_net(o, a, X, &h->cfg)) return 1;
    ntk_kernel_desc *k = &h->desc;
    *k = ntk_kernel_desc_default(o->kind->src, &h->cfg);
    k->c1 = o->kind->c1;
    k->c2 = o->kind->c2;
    k->quad_order = o->quad_order;
    k->mem_limit = tile_limit;
    k->trace_factor = o->trace_factor;
    k->diagonal = o->diagonal;
    if (o->kind->src == NTK_KERNEL_LIN && k->trace_factor < 0 &&
        ntk_trace_factor(X->data, X->rows, X->cols, &k->trace_factor) != NTK_OK)
        return cli_fail("%s; pass --trace-factor F (1 for isotropic inputs)", ntk_errmsg());
    if (o->kind->src == NTK_KERNEL_LIN && tf_used) *tf_used = k->trace_factor;
    if (o->kind->src == NTK_KERNEL_LIN && ntk_net_is_deep(&h->cfg))
        return cli_fail("--kind %s: Hu et al.'s linear-model kernels are the two-layer network's "
                        "(--depth 1, --weight-std 1, --bias-std 0, --parameterization ntk); use "
                        "ntk or ntk-inf", o->kind->name);
    if (o->kind->src == NTK_KERNEL_EMPIRICAL && o->weights_dir && ntk_net_is_deep(&h->cfg)) {
        if (run_layer_weights(o->weights_dir, o->at_init, &h->cfg, &h->theta)) return 1;
        k->theta = h->theta;
    } else if (o->kind->src == NTK_KERNEL_EMPIRICAL && o->weights_dir) {
        if (run_weights(o->weights_dir, o->at_init, &h->cfg, &h->W, &h->v)) return 1;
        k->W = h->W.data, k->v = h->v.data;
    } else if (o->kind->src == NTK_KERNEL_EMPIRICAL && ntk_net_is_deep(&h->cfg)) {
        /* the initial weights 'ntkit train' would draw from these flags */
        if (ntk_mem_check(ntk_size_mul(ntk_net_nparams(&h->cfg), 2, 1, sizeof(double)), 0,
                          "the network's weights") != NTK_OK)
            return cli_fail_lib("--widths");
        if (ntk_net_create(&h->cfg, &h->net) != NTK_OK) return cli_fail_lib("network");
        k->theta = ntk_net_theta0(h->net);
    } else if (o->kind->src == NTK_KERNEL_EMPIRICAL) {
        /* the initial weights 'ntkit train' would draw from these flags */
        if (ntk_mem_check(ntk_size_mul(h->cfg.m, h->cfg.d + 1, 2, sizeof(double)), 0,
                          "the network's weights") != NTK_OK)
            return cli_fail_lib("--width");
        if (ntk_net_create(&h->cfg, &h->net) != NTK_OK) return cli_fail_lib("network");
        k->W = ntk_net_W0(h->net), k->v = ntk_net_v0(h->net);
    }
    return 0;
}

void cli_kernel_held_free(cli_kernel_held *h)
{
    ntk_array_free(&h->W);
    ntk_array_free(&h->v);
    free(h->theta);
    ntk_net_free(h->net);
    memset(h, 0, sizeof *h);
}

int cli_kernel_compute(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                       const ntk_array *X2, size_t tile_limit, double *K, double *tf_used)
{
    cli_kernel_held h;
    int rc = cli_kernel_desc(o, a, X, tile_limit, &h, tf_used);
    ntk_status st = rc ? NTK_OK
                       : ntk_kernel(&h.desc, X->data, X->rows, X2 ? X2->data : NULL,
                                    X2 ? X2->rows : 0, K);
    cli_kernel_held_free(&h);
    if (rc) return rc;
    char tb[32];
    if (st == NTK_ERR_NOMEM && o->mem_limit)
        return cli_fail("--mem-limit leaves %s for the kernel's tiles after the output: %s",
                        cli_fmt_bytes(tile_limit, tb), ntk_errmsg());
    if (st != NTK_OK) return cli_fail("%s kernel: %s", ntk_kernel_source_name(o->kind->src), ntk_errmsg());
    return 0;
}

/* The kernel written to o->out_path row block by row block under
 * o->mem_limit (ntk_kernel_write_npy), float32 when f32. */
int cli_kernel_write(const cli_kernel_opts *o, const cli_args *a, const ntk_array *X,
                     const ntk_array *X2, int f32, double *tf_used)
{
    cli_kernel_held h;
    int rc = cli_kernel_desc(o, a, X, 0, &h, tf_used);
    ntk_status st = rc ? NTK_OK
                       : ntk_kernel_write_npy(&h.desc, X->data, X->rows, X2 ? X2->data : NULL,
                                              X2 ? X2->rows : 0, o->out_path, o->mem_limit, f32,
                                              &cli_interrupted);
    cli_kernel_held_free(&h);
    if (rc) return rc;
    if (st == NTK_ERR_NOMEM && o->mem_limit) return cli_fail("--mem-limit: %s", ntk_errmsg());
    if (st != NTK_OK) return cli_fail("--out: %s", ntk_errmsg());
    return 0;
}
