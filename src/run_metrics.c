/* The metrics of a run at its current time, one row of named columns:
 * every model's losses, its gaps to the network, the network's distances
 * from θ0, activation flips and the drift of the empirical NTK
 * (docs/theory.md §5, §7). At depth the same columns: the distances per
 * group of layers and the flips of every hidden layer (below). */
#include "run_internal.h"
#include "network_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static void add_col(ntk_run *r, const char *fmt, const char *arg)
{
    snprintf(r->names[r->ncols], sizeof r->names[0], fmt, arg);
    r->cols[r->ncols] = r->names[r->ncols];
    r->ncols++;
}

/* Columns, in order; a model's columns exist only when it is on. */
static void build_columns(ntk_run *r)
{
    add_col(r, "%s", r->cfg.flow ? "time" : "step");
    for (int k = 0; k < NTK_NMODELS; k++)
        if (run_model_on(r, k)) {
            add_col(r, "%s_train_loss", ntk_model_name(k));
            add_col(r, "%s_test_loss", ntk_model_name(k));
        }
    for (int k = 1; k < NTK_NMODELS; k++)
        if (run_model_on(r, k)) {
            add_col(r, "gap_%s_train", ntk_model_name(k));
            add_col(r, "gap_%s_test", ntk_model_name(k));
        }
    /* k outputs: classification accuracy (argmax of the prediction against
     * argmax of the target), appended so the columns above keep their places */
    const char *rest[] = {"theta_dist", "w_dist_fro", "v_dist", "w_dist_max_row", "grad_norm",
                          "flip_frac", "ntk_drift", "ntk_lambda_min", "envelope"};
    for (size_t k = 0; k < sizeof rest / sizeof rest[0]; k++) add_col(r, "%s", rest[k]);
    if (r->k > 1)
        for (int k = 0; k < NTK_NMODELS; k++)
            if (run_model_on(r, k)) {
                add_col(r, "%s_train_acc", ntk_model_name(k));
                add_col(r, "%s_test_acc", ntk_model_name(k));
            }
}

/* Signs of the pre-activations X Wᵀ/s on this process's rows, block by
 * block: the number that differs from sign0, or (record = 1) sign0 itself. */
static double flip_count(ntk_run *r, const double *W, int record)
{
    size_t n = r->n, m = r->m, d = r->d;
    double s = ntk_net_config_s(&r->cfg.net);
    size_t flips = 0;
    for (size_t i0 = 0; i0 < n; i0 += r->zrows) {
        size_t B = n - i0 < r->zrows ? n - i0 : r->zrows;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)m, (int)d, 1.0 / s,
                    r->X + i0 * d, (int)d, W, (int)d, 0.0, r->zblock, (int)m);
        unsigned char *s0 = r->sign0 + i0 * m;
        for (size_t k = 0; k < B * m; k++) {
            unsigned char sg = r->zblock[k] > 0;
            if (record)
                s0[k] = sg;
            else
                flips += sg != s0[k];
        }
    }
    return (double)flips;
}

/* At depth: the signs of every hidden layer's pre-activations h_l (l =
 * 1..L, Σ_l m_l per point) from forward passes in row blocks; the number
 * that differs from sign0, or (record = 1) sign0 itself. */
static double flip_count_deep(ntk_run *r, const double *theta, int record)
{
    const ntk_net_config *cfg = &r->cfg.net;
    deep_tape *t = &r->flip_tape;
    size_t n = r->n, d = r->d, hid = 0, flips = 0;
    for (size_t l = 1; l <= r->L; l++) hid += ntk_net_width(cfg, l);
    for (size_t i0 = 0; i0 < n; i0 += t->cap) {
        size_t B = n - i0 < t->cap ? n - i0 : t->cap;
        deep_tape_forward(t, cfg, theta, r->X + i0 * d, B, NULL);
        unsigned char *s0 = r->sign0 + i0 * hid;
        for (size_t i = 0; i < B; i++)
            for (size_t l = 1; l <= r->L; l++) {
                size_t ml = ntk_net_width(cfg, l);
                const double *h = t->H[l] + i * ml;
                for (size_t j = 0; j < ml; j++, s0++) {
                    unsigned char sg = h[j] > 0;
                    if (record)
                        *s0 = sg;
                    else
                        flips += sg != *s0;
                }
            }
    }
    return (double)flips;
}

/* The flip fraction's denominator: the signs of all rows (n_all points). */
static double flip_signs(const ntk_run *r)
{
    size_t hid = r->m;
    if (r->deep) {
        hid = 0;
        for (size_t l = 1; l <= r->L; l++) hid += ntk_net_width(&r->cfg.net, l);
    }
    return (double)r->n_all * (double)hid;
}

/* At depth: theta_dist over the trained layers, w_dist_fro over the hidden
 * layers (W_l and b_l, l ≤ L), v_dist over the output layer (W_{L+1},
 * b_{L+1}), w_dist_max_row the largest move of one hidden unit's incoming
 * weights (a row of W_l, l ≤ L, without its bias). */
static void weight_dist_deep(const ntk_run *r, double out[4])
{
    double lay2[NTK_MAX_DEPTH + 1], trained = 0.0, hidden = 0.0;
    double row_max = net_layer_dist2(r->net, lay2);
    for (size_t l = 1; l <= r->L + 1; l++) {
        if (r->eta[l - 1] > 0) trained += lay2[l - 1];
        if (l <= r->L) hidden += lay2[l - 1];
    }
    out[0] = sqrt(trained);
    out[1] = sqrt(hidden);
    out[2] = sqrt(lay2[r->L]);
    out[3] = sqrt(row_max);
}

static int tracks_flips(const ntk_run_config *cfg)
{
    return cfg->flips && ntk_act_piecewise_linear(cfg->net.act);
}

static size_t drift_points(const ntk_run_config *cfg, size_t n)
{
    return cfg->kernel_subsample == 0 || cfg->kernel_subsample > n ? n : cfg->kernel_subsample;
}

size_t run_metrics_bytes(const ntk_run_config *cfg, size_t n)
{
    /* (at depth ntk_run_mem_bytes counts the metrics itself) */
    double b = 0.0, m = (double)cfg->net.m;
    if (tracks_flips(cfg)) b += (double)n * m + 262144.0 * 8.0;   /* signs, one Z block */
    if (cfg->kernel_every) {
        /* the subsample, Θ(0) and Θ(t) on it, and while measuring the
         * eigenvalue copies (2S²) and the kernel's tiles */
        double S = (double)drift_points(cfg, n);
        b += (S * (double)cfg->net.d + 4 * S * S) * 8.0 +
             (double)ntk_kernel_empirical_scratch_bytes(cfg->net.m, (size_t)S, 0, 1, 1,
                                                        cfg->mem_limit);
    }
    return b >= 4e18 ? SIZE_MAX : (size_t)b;
}

ntk_status run_metrics_setup(ntk_run *r)
{
    size_t n = r->n, m = r->m, d = r->d;
    if (tracks_flips(&r->cfg) && r->deep) {
        size_t hid = 0;
        for (size_t l = 1; l <= r->L; l++) hid += ntk_net_width(&r->cfg.net, l);
        r->sign0 = ntk_alloc(ntk_size_mul(n, hid, 1, 1), 1, "activation signs");
        if (!r->sign0) return NTK_ERR_NOMEM;
        NTK_TRY(deep_tape_init(&r->flip_tape, &r->cfg.net,
                               deep_block_rows(&r->cfg.net, n, (size_t)16 << 20)));
        flip_count_deep(r, run_theta0(r), 1);
    } else if (tracks_flips(&r->cfg)) {
        r->zrows = (size_t)(1u << 18) / m + 1;
        if (r->zrows > n) r->zrows = n;
        r->sign0 = ntk_alloc(n * m, 1, "activation signs");
        r->zblock = ntk_alloc(r->zrows * m, sizeof(double), "pre-activation block");
        if (!r->sign0 || !r->zblock) return NTK_ERR_NOMEM;
        flip_count(r, ntk_net_W0(r->net), 1);
    }
    /* the kernel drift on the first S points of the whole training set, by
     * the process that holds row 0 (the only one when there is no split) */
    r->S = drift_points(&r->cfg, r->n_all);
    if (r->cfg.kernel_every && r->first) {
        r->Xs = ntk_alloc(2 * r->S * r->S + r->S * d, sizeof(double), "kernel drift subsample");
        if (!r->Xs) return NTK_ERR_NOMEM;
        r->K0s = r->Xs + r->S * d;
        r->Ks = r->K0s + r->S * r->S;
        memcpy(r->Xs, r->Xall, r->S * d * sizeof(double));
        NTK_TRY(run_kernel(r, 0, r->Xs, r->S, NULL, 0, r->tw, r->K0s));
    }
    build_columns(r);
    return NTK_OK;
}

void run_metrics_free(ntk_run *r)
{
    deep_tape_free(&r->flip_tape);
    free(r->sign0);
    free(r->zblock);
    free(r->Xs);
}

/* Σ over n points of k outputs of (a − b)², each squared entry capped at 1
 * when capped (test gaps) */
static double sq_sum(const double *a, const double *b, size_t n, size_t k, int capped)
{
    double s = 0.0;
    for (size_t i = 0; i < n * k; i++) {
        double e = (a[i] - b[i]) * (a[i] - b[i]);
        s += capped && e > 1.0 ? 1.0 : e;
    }
    return s;
}

/* mean_i ‖a_i − b_i‖² (capped as sq_sum) */
static double mean_sq_diff(const double *a, const double *b, size_t n, size_t k, int capped)
{
    return n ? sq_sum(a, b, n, k, capped) / (double)n : NAN;
}

/* The loss of predictions f (n, k) against y: c/2 Σ_i ‖f_i − y_i‖² */
static double run_loss(const ntk_run *r, const double *f, const double *y, size_t n)
{
    return 0.5 * ntk_loss_scale(r->cfg.gd.loss, n) * sq_sum(f, y, n, r->k, 0);
}

/* The number of the n points whose largest prediction sits at the
 * target's largest entry (the class of a one-hot target); ties take the
 * first. */
static double hits(const double *f, const double *y, size_t n, size_t k)
{
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        const double *fi = f + i * k, *yi = y + i * k;
        size_t a = 0, b = 0;
        for (size_t c = 1; c < k; c++) {
            if (fi[c] > fi[a]) a = c;
            if (yi[c] > yi[b]) b = c;
        }
        hit += a == b;
    }
    return (double)hit;
}

/* A logged row's sums over the training rows, which a data-parallel run
 * adds up over its processes in one reduce (run_reduce): per model k
 * (SUM_MODEL·k + ...) the squared residuals, the accuracy hits and the
 * squared gap to the network; then the flips and the drift subsample's two
 * numbers (computed by the first process alone: the others add 0). Every
 * process lays them out the same, whatever is on. */
enum { SUM_SSE = 0, SUM_HITS, SUM_GAP, SUM_MODEL };
enum { SUM_FLIPS = SUM_MODEL * NTK_NMODELS, SUM_DRIFT, SUM_LMIN, SUM_COUNT };

/* The divergence of model k: a loss that is not finite. */
static ntk_status diverged(const ntk_run *r, int k, double Ltr, double Lte)
{
    if (isfinite(Ltr) && (!r->nt || isfinite(Lte))) return NTK_OK;
    return ntk_set_error(NTK_ERR_DIVERGED,
                         "the %s model diverged at %s %g: its %s loss is %g; use smaller "
                         "rates", ntk_model_name(k), r->cfg.flow ? "time" : "step", r->t,
                         isfinite(Ltr) ? "test" : "training", isfinite(Ltr) ? Lte : Ltr);
}

/* Every model's sums over this process's training rows into sum[], and its
 * test loss, gap and accuracy (the test set is whole on every process)
 * into test[k]. Without a reduce a divergence stops here, model by model
 * (sum[] is then the whole set's); with one it is checked on the sums. */
static ntk_status model_sums(ntk_run *r, double *sum, double test[][3])
{
    for (int k = 0; k < NTK_NMODELS; k++) {
        if (!run_model_on(r, k)) continue;
        const double *ftr = r->fa, *fte = r->fta;
        double *sk = sum + SUM_MODEL * k;
        test[k][1] = NAN;
        if (k > 0) {
            NTK_TRY(ntk_run_predictions(r, k, r->fb, r->nt ? r->ftb : NULL));
            ftr = r->fb, fte = r->ftb;
            sk[SUM_GAP] = sq_sum(r->fa, r->fb, r->n, r->k, 0);
            test[k][1] = r->nt ? mean_sq_diff(r->fta, r->ftb, r->nt, r->k, 1) : NAN;
        }
        sk[SUM_SSE] = sq_sum(ftr, r->y, r->n, r->k, 0);
        sk[SUM_HITS] = hits(ftr, r->y, r->n, r->k);
        test[k][0] = r->nt ? run_loss(r, fte, r->yt, r->nt) : NAN;
        test[k][2] = r->nt ? hits(fte, r->yt, r->nt, r->k) / (double)r->nt : NAN;
        if (!r->reduce) NTK_TRY(diverged(r, k, 0.5 * r->c * sk[SUM_SSE], test[k][0]));
    }
    return NTK_OK;
}

/* ‖Θ(t) − Θ(0)‖_op/‖Θ(0)‖_op and λ_min(Θ(t)) on the subsample */
static ntk_status drift(ntk_run *r, double *rel, double *lmin)
{
    ntk_kernel_desc k = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &r->cfg.net);
    if (r->deep) {
        /* the empirical NTK of the trained layers at θ(t) */
        k.theta = run_theta(r);
        k.layer_weights = r->tw;
    } else {
        k.c1 = run_tc1(r);
        k.c2 = run_tc2(r);
        k.W = ntk_net_W(r->net);
        k.v = ntk_net_v(r->net);
    }
    k.mem_limit = r->cfg.mem_limit;
    NTK_TRY(ntk_kernel(&k, r->Xs, r->S, NULL, 0, r->Ks));
    ntk_kernel_dist kd;
    ntk_spectrum_summary sp;
    NTK_TRY(ntk_kernel_distance(r->Ks, r->K0s, r->S, &kd));
    NTK_TRY(ntk_spectrum_summary_of(r->Ks, r->S, &sp));
    *rel = kd.rel_op;
    *lmin = sp.lmin;
    return NTK_OK;
}

ntk_status ntk_run_metrics(ntk_run *r, int with_kernel, double *row)
{
    ntk_clear_error();
    if (!r || !row) return ntk_set_error(NTK_ERR_ARG, "ntk_run_metrics: NULL argument");
    size_t col = 0;
    for (size_t k = 0; k < r->ncols; k++) row[k] = NAN;
    row[col++] = r->t;
    /* the network's training predictions come with the trainer's evaluation
     * (summed over the processes of a data-parallel run: the same on each) */
    if (!r->nn_evaluated) {
        NTK_TRY(ntk_trainer_eval(r->tr));
        r->nn_evaluated = !r->cfg.flow;
    }
    /* what is measured here, on this process's rows or (drift) by the first
     * process; a failure still takes part in the sum (run_reduce) */
    double sum[SUM_COUNT + 1] = {0}, test[NTK_NMODELS][3];
    memcpy(r->fa, ntk_trainer_pred(r->tr), r->n * r->k * sizeof(double));
    ntk_status st = r->nt ? ntk_net_predict(r->net, r->Xt, r->nt, r->fta) : NTK_OK;
    if (st == NTK_OK) st = model_sums(r, sum, test);
    if (st == NTK_OK && r->sign0)
        sum[SUM_FLIPS] = r->deep ? flip_count_deep(r, run_theta(r), 0)
                                 : flip_count(r, ntk_net_W(r->net), 0);
    int kern = with_kernel && r->cfg.kernel_every;
    if (st == NTK_OK && kern && r->K0s) st = drift(r, &sum[SUM_DRIFT], &sum[SUM_LMIN]);
    NTK_TRY(run_reduce(r, st, sum, SUM_COUNT));
    /* from the sums: the whole training set's losses (c of all n_all rows),
     * mean gaps and accuracies */
    double nall = (double)r->n_all;
    for (int k = 0; k < NTK_NMODELS; k++)
        if (run_model_on(r, k)) {
            double Ltr = 0.5 * r->c * sum[SUM_MODEL * k + SUM_SSE];
            if (r->reduce) NTK_TRY(diverged(r, k, Ltr, test[k][0]));
            row[col++] = Ltr;
            row[col++] = test[k][0];
        }
    for (int k = 1; k < NTK_NMODELS; k++)
        if (run_model_on(r, k)) {
            row[col++] = sum[SUM_MODEL * k + SUM_GAP] / nall;
            row[col++] = test[k][1];
        }
    if (r->deep) {
        weight_dist_deep(r, row + col);
        col += 4;
    } else {
        ntk_weight_dist wd;
        ntk_net_weight_dist(r->net, &wd);
        row[col++] = sqrt((r->cfg.gd.lr1 > 0 ? wd.w_fro * wd.w_fro : 0) +
                          (r->cfg.gd.lr2 > 0 ? wd.v_norm * wd.v_norm : 0));
        row[col++] = wd.w_fro;
        row[col++] = wd.v_norm;
        row[col++] = wd.w_max_row;
    }
    row[col++] = ntk_trainer_grad_norm(r->tr);
    row[col++] = r->sign0 ? sum[SUM_FLIPS] / flip_signs(r) : NAN;
    if (kern) {
        row[col] = sum[SUM_DRIFT];
        row[col + 1] = sum[SUM_LMIN];
    }
    col += 2;
    /* docs/theory.md §7: the loss envelope, once the theory gave its rate */
    if (isnan(r->env_rate))
        row[col++] = NAN;
    else if (r->cfg.flow)
        row[col++] = r->loss0 * exp(-r->env_rate * r->t);
    else
        row[col++] = r->env_rate < 1 ? r->loss0 * pow(1.0 - r->env_rate, r->t) : NAN;
    if (r->k > 1)
        for (int k = 0; k < NTK_NMODELS; k++)
            if (run_model_on(r, k)) {
                row[col++] = sum[SUM_MODEL * k + SUM_HITS] / nall;
                row[col++] = test[k][2];
            }
    return NTK_OK;
}
