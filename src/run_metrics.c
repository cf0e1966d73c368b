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

/* Signs of the pre-activations X Wᵀ/s, block by block: the fraction that
 * differs from sign0, or (record = 1) sign0 itself. */
static double flip_fraction(ntk_run *r, const double *W, int record)
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
    return (double)flips / ((double)n * (double)m);
}

/* At depth: the signs of every hidden layer's pre-activations h_l (l =
 * 1..L, Σ_l m_l per point) from forward passes in row blocks; the fraction
 * that differs from sign0, or (record = 1) sign0 itself. */
static double flip_fraction_deep(ntk_run *r, const double *theta, int record)
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
    return (double)flips / ((double)n * (double)hid);
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
        flip_fraction_deep(r, run_theta0(r), 1);
    } else if (tracks_flips(&r->cfg)) {
        r->zrows = (size_t)(1u << 18) / m + 1;
        if (r->zrows > n) r->zrows = n;
        r->sign0 = ntk_alloc(n * m, 1, "activation signs");
        r->zblock = ntk_alloc(r->zrows * m, sizeof(double), "pre-activation block");
        if (!r->sign0 || !r->zblock) return NTK_ERR_NOMEM;
        flip_fraction(r, ntk_net_W0(r->net), 1);
    }
    /* the kernel drift on the first S training points */
    r->S = drift_points(&r->cfg, n);
    if (r->cfg.kernel_every) {
        r->Xs = ntk_alloc(2 * r->S * r->S + r->S * d, sizeof(double), "kernel drift subsample");
        if (!r->Xs) return NTK_ERR_NOMEM;
        r->K0s = r->Xs + r->S * d;
        r->Ks = r->K0s + r->S * r->S;
        memcpy(r->Xs, r->X, r->S * d * sizeof(double));
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

/* The fraction of the n points whose largest prediction sits at the
 * target's largest entry (the class of a one-hot target); ties take the
 * first. */
static double accuracy(const double *f, const double *y, size_t n, size_t k)
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
    return n ? (double)hit / (double)n : NAN;
}

/* Losses of every model and gaps to the network into row[1...]; returns
 * the next column. A non-finite loss is a divergence of that model (NaN
 * means "not measured" in a row, so none is written). */
static ntk_status model_columns(ntk_run *r, double *row, size_t *col, double acc[][2])
{
    double gaps[NTK_NMODELS][2];
    for (int k = 0; k < NTK_NMODELS; k++) {
        if (!run_model_on(r, k)) continue;
        const double *ftr = r->fa, *fte = r->fta;
        if (k > 0) {
            NTK_TRY(ntk_run_predictions(r, k, r->fb, r->nt ? r->ftb : NULL));
            ftr = r->fb, fte = r->ftb;
            gaps[k][0] = mean_sq_diff(r->fa, r->fb, r->n, r->k, 0);
            gaps[k][1] = r->nt ? mean_sq_diff(r->fta, r->ftb, r->nt, r->k, 1) : NAN;
        }
        double Ltr = run_loss(r, ftr, r->y, r->n);
        double Lte = r->nt ? run_loss(r, fte, r->yt, r->nt) : NAN;
        acc[k][0] = accuracy(ftr, r->y, r->n, r->k);
        acc[k][1] = r->nt ? accuracy(fte, r->yt, r->nt, r->k) : NAN;
        if (!isfinite(Ltr) || (r->nt && !isfinite(Lte)))
            return ntk_set_error(NTK_ERR_DIVERGED,
                                 "the %s model diverged at %s %g: its %s loss is %g; use smaller "
                                 "rates", ntk_model_name(k), r->cfg.flow ? "time" : "step", r->t,
                                 isfinite(Ltr) ? "test" : "training", isfinite(Ltr) ? Lte : Ltr);
        row[(*col)++] = Ltr;
        row[(*col)++] = Lte;
    }
    for (int k = 1; k < NTK_NMODELS; k++)
        if (run_model_on(r, k)) {
            row[(*col)++] = gaps[k][0];
            row[(*col)++] = gaps[k][1];
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
    /* the network's training predictions come with the trainer's evaluation */
    if (!r->nn_evaluated) {
        NTK_TRY(ntk_trainer_eval(r->tr));
        r->nn_evaluated = !r->cfg.flow;
    }
    memcpy(r->fa, ntk_trainer_pred(r->tr), r->n * r->k * sizeof(double));
    if (r->nt) NTK_TRY(ntk_net_predict(r->net, r->Xt, r->nt, r->fta));
    double acc[NTK_NMODELS][2];
    NTK_TRY(model_columns(r, row, &col, acc));
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
    row[col++] = !r->sign0 ? NAN : r->deep ? flip_fraction_deep(r, run_theta(r), 0)
                                           : flip_fraction(r, ntk_net_W(r->net), 0);
    if (with_kernel && r->K0s) NTK_TRY(drift(r, &row[col], &row[col + 1]));
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
                row[col++] = acc[k][0];
                row[col++] = acc[k][1];
            }
    return NTK_OK;
}
