/* The trainer's reduce hook (ntk_trainer_set_reduce), the library side of
 * data-parallel training (mpirun ntkit train, docs/scaling.md), without
 * MPI: the n rows split into two halves, a trainer on each, and a fake
 * reduce standing in for MPI_Allreduce. A first evaluation captures each
 * half's scaled contribution (its buffer as the trainer hands it over); a
 * second adds the other half's captured one, which is what a sum over two
 * processes gives each of them. Against one trainer on all n rows: the
 * loss and the gradient agree to the rounding of sums taken in another
 * order (the bound at check_against_full), the two halves agree bit for
 * bit (each adds the same two numbers), one step keeps their networks
 * identical, for the two-layer network and a depth-2 network with biases,
 * under the mean and the sum loss. Also: the refusal of n_total < n, a
 * failing reduce, and reduce NULL restoring the local evaluation.
 *
 * The run's sums (ntk_run_create_part, test_run_parallel): two processes
 * made by fork(), joined by pipes whose reduce adds the two buffers in the
 * order of their ranks (an all-reduce of two), each running its half of
 * the rows of a whole run (nn and linearized, a test set, flips, the
 * kernel drift, the theory) through the driver: both hold the same rows,
 * theory and weights bit for bit, and those of one run on all rows up to
 * the rounding of sums in another order. */
#include "harness.h"
#include "ntkit.h"

#include <float.h>
#include <sys/wait.h>
#include <unistd.h>

#define EPS DBL_EPSILON
#define N 37       /* rows, split 18 + 19 */
#define H 18
#define D 4
#define PMAX 512   /* parameters at most */

typedef struct {
    int mode;                  /* 0: capture this half's contribution; 1: add the other's */
    int calls;
    size_t count[2];           /* size of the sum (the gradient, then the loss: P + 1) */
    double mine[2][PMAX];      /* captured, per call */
    const double *other[2];    /* the other half's captured, per call */
    ntk_status fail;           /* returned by every call when not NTK_OK */
} fake;

/* ntkit.h: the trainer reduces its gradient and loss in one call per
 * evaluation. */
static ntk_status fake_reduce(void *ctx, double *buf, size_t count)
{
    fake *f = ctx;
    int c = 0;   /* one call an evaluation (ntkit.h) */
    f->calls++;
    if (f->fail != NTK_OK) return ntk_set_error(f->fail, "the fake reduce failed");
    f->count[c] = count;
    if (count > PMAX) return ntk_set_error(NTK_ERR_ARG, "fake reduce: %zu > PMAX values", count);
    if (f->mode == 0)
        memcpy(f->mine[c], buf, count * sizeof *buf);
    else
        for (size_t k = 0; k < count; k++) buf[k] += f->other[c][k];
    return NTK_OK;
}

static ntk_net_config two_layer(void)
{
    ntk_net_config c = ntk_net_config_default(D, 16);
    c.act.kind = NTK_ACT_TANH;
    c.alpha = 1.3;
    c.seed = 11;
    return c;
}

static ntk_net_config depth_two(void)
{
    ntk_net_config c = ntk_net_config_default(D, 12);
    c.act.kind = NTK_ACT_TANH;
    c.depth = 2;
    c.widths[0] = 12;
    c.widths[1] = 8;
    c.bias_std = 0.3;
    c.weight_std = 1.2;
    c.seed = 12;
    return c;
}

/* The sum of the hidden widths (the length of the longest inner products
 * behind one row's output, with d). */
static size_t widths_sum(const ntk_net_config *c)
{
    size_t s = 0;
    for (size_t l = 1; l <= ntk_net_depth(c); l++) s += ntk_net_width(c, l);
    return s;
}

/* One row's and all rows' worth of a problem, at θ0 of cfg. */
typedef struct {
    ntk_net_config cfg;
    ntk_gd_config gd;
    const double *X, *y;
    size_t P;
} problem;

/* S_k = c Σ_i |(J_iᵀ r_i)_k|, the sum of the magnitudes of the n row terms
 * that make gradient component k (c = 1/n or 1), from n one-row trainers
 * under the sum loss (whose gradient is J_iᵀ r_i itself). */
static void row_magnitudes(const problem *p, ntk_net *net, double *S)
{
    ntk_gd_config g1 = p->gd;
    g1.loss = NTK_LOSS_SUM;
    double c = p->gd.loss == NTK_LOSS_MEAN ? 1.0 / N : 1.0;
    for (size_t k = 0; k < p->P; k++) S[k] = 0.0;
    for (size_t i = 0; i < N; i++) {
        ntk_trainer *tr;
        CHECK_OK(ntk_trainer_create(net, p->X + i * D, p->y + i, 1, g1, &tr));
        CHECK_OK(ntk_trainer_eval(tr));
        const double *g = ntk_trainer_grad(tr);
        for (size_t k = 0; k < p->P; k++) S[k] += c * fabs(g[k]);
        ntk_trainer_free(tr);
    }
}

/* The two halves' summed loss L and gradient g against the full trainer's
 * (Lf, gf). The split changes three things, each a rounding:
 *   the order of the n-term row sums (the full trainer adds all rows in one
 *   blocked pass, each half its own and then the two totals): at most
 *   (n − 1)·ε·Σ|terms| for any order;
 *   the scaling, (1/n_q)·(n_q/n) against 1/n: three roundings, 3ε
 *   relative;
 *   each row's term, if the BLAS blocks the inner products of length d and
 *   m_l differently for another row count: at most (d + Σ m_l + L + 2)·ε
 *   relative to the term (the targets are far from the outputs at θ0, so
 *   a residual's rounding is relative to it).
 * Hence |g_k − gf_k| ≤ γ S_k with γ = 2(n + d + Σ m_l + 8)·ε (2: second
 * order and the products of the chain), S_k from row_magnitudes; the loss's
 * row terms are non-negative, so their magnitudes sum to the loss itself:
 * |L − Lf| ≤ γ Lf. */
static double gamma_of(const ntk_net_config *c)
{
    return 2.0 * (double)(N + D + widths_sum(c) + ntk_net_depth(c) + 8) * EPS;
}

static void check_against_full(const char *name, const problem *p, double L, const double *g,
                               double Lf, const double *gf, const double *S)
{
    double gam = gamma_of(&p->cfg), worst = 0.0;
    for (size_t k = 0; k < p->P; k++) {
        double e = fabs(g[k] - gf[k]);
        if (e > 0) worst = fmax(worst, S[k] > 0 ? e / (gam * S[k]) : INFINITY);
    }
    CHECK_LE(fabs(L - Lf), gam * Lf, "%s: the summed loss against one trainer on all rows", name);
    CHECK_LE(worst, 1.0, "%s: the summed gradient against one trainer on all rows (worst "
             "|g_k - gf_k| / (gamma S_k))", name);
}

static void test_split(const char *name, ntk_net_config cfg, ntk_loss_kind loss)
{
    double X[N * D], y[N];
    ntk_rng rng;
    ntk_rng_seed(&rng, 31);
    ntk_rng_normal_fill(&rng, X, N * D);
    /* targets of order 1 away from the outputs at θ0 (see the bound) */
    for (size_t i = 0; i < N; i++) y[i] = 1.5 + sin(X[i * D]) + 0.5 * X[i * D + 1];
    problem p = {cfg, {.lr1 = 0.2, .lr2 = 0.3, .loss = loss}, X, y, ntk_net_nparams(&cfg)};
    CHECK(p.P <= PMAX, "%s: %zu parameters", name, p.P);
    if (p.P > PMAX) return;
    ntk_net *net, *na, *nb, *nf;
    CHECK_OK(ntk_net_create(&cfg, &net));
    CHECK_OK(ntk_net_create(&cfg, &na));
    CHECK_OK(ntk_net_create(&cfg, &nb));
    CHECK_OK(ntk_net_create(&cfg, &nf));
    double S[PMAX];
    row_magnitudes(&p, net, S);

    /* one trainer on all rows: the reference */
    ntk_trainer *full, *ta, *tb;
    CHECK_OK(ntk_trainer_create(nf, X, y, N, p.gd, &full));
    CHECK_OK(ntk_trainer_eval(full));
    double Lf = ntk_trainer_loss(full), gf[PMAX];
    memcpy(gf, ntk_trainer_grad(full), p.P * sizeof(double));

    /* the halves [0, H) and [H, N), each a process of two */
    fake fa = {0}, fb = {0};
    CHECK_OK(ntk_trainer_create(na, X, y, H, p.gd, &ta));
    CHECK_OK(ntk_trainer_create(nb, X + H * D, y + H, N - H, p.gd, &tb));
    CHECK_OK(ntk_trainer_set_reduce(ta, fake_reduce, &fa, N));
    CHECK_OK(ntk_trainer_set_reduce(tb, fake_reduce, &fb, N));
    CHECK_OK(ntk_trainer_eval(ta));   /* mode 0: captures, sums nothing */
    CHECK_OK(ntk_trainer_eval(tb));
    CHECK(fa.count[0] == p.P + 1 && fb.count[0] == p.P + 1,
          "%s: one reduce of the gradient and the loss (%zu values), got %zu, %zu", name,
          p.P + 1, fa.count[0], fb.count[0]);
    /* negative control: one half's own share misses the other's by far
     * more than the bound, so the comparison below sees a missing sum */
    CHECK(fabs(ntk_trainer_loss(ta) - Lf) > 1e3 * gamma_of(&cfg) * Lf,
          "%s: one half alone (%.17g) is not the whole loss (%.17g)", name, ntk_trainer_loss(ta), Lf);
    fa.mode = fb.mode = 1;
    fa.other[0] = fb.mine[0], fa.other[1] = fb.mine[1];
    fb.other[0] = fa.mine[0], fb.other[1] = fa.mine[1];
    CHECK_OK(ntk_trainer_eval(ta));
    CHECK_OK(ntk_trainer_eval(tb));
    double La = ntk_trainer_loss(ta), Lb = ntk_trainer_loss(tb);
    const double *ga = ntk_trainer_grad(ta), *gb = ntk_trainer_grad(tb);
    CHECK(La == Lb && memcmp(ga, gb, p.P * sizeof(double)) == 0,
          "%s: the two halves' sums are the same bit for bit", name);
    CHECK(ntk_trainer_grad_norm(ta) == ntk_trainer_grad_norm(tb),
          "%s: the same gradient norm on both halves", name);
    check_against_full(name, &p, La, ga, Lf, gf, S);
    /* its norm: |‖g‖ − ‖gf‖| ≤ ‖g − gf‖ ≤ γ‖S‖, plus the norm's own P·ε */
    double s2 = 0.0;
    for (size_t k = 0; k < p.P; k++) s2 += S[k] * S[k];
    CHECK_LE(fabs(ntk_trainer_grad_norm(ta) - ntk_trainer_grad_norm(full)),
             gamma_of(&cfg) * sqrt(s2) + (double)(p.P + 2) * EPS * ntk_trainer_grad_norm(full),
             "%s: the gradient norm", name);

    /* one step: both halves apply the same summed gradient, so their
     * networks stay identical; against the full trainer's step each weight
     * moves by η_l·(g_k − gf_k) more, at most η·γ S_k, plus the update's own
     * rounding (2ε|θ_k| for θ − ηg) */
    CHECK_OK(ntk_trainer_apply(ta));
    CHECK_OK(ntk_trainer_apply(tb));
    CHECK_OK(ntk_trainer_apply(full));
    const double *tha = ntk_net_theta(na), *thf = ntk_net_theta(nf);
    CHECK(memcmp(tha, ntk_net_theta(nb), p.P * sizeof(double)) == 0,
          "%s: after one step the halves' networks are the same bit for bit", name);
    double eta = fmax(p.gd.lr1, p.gd.lr2), worst = 0.0;
    for (size_t k = 0; k < p.P; k++) {
        double e = fabs(tha[k] - thf[k]);
        double tol = eta * gamma_of(&cfg) * S[k] + 2 * EPS * fabs(thf[k]);
        if (e > 0) worst = fmax(worst, tol > 0 ? e / tol : INFINITY);
    }
    CHECK_LE(worst, 1.0, "%s: one step against the full trainer's", name);

    /* reduce NULL: the local evaluation again, bit for bit that of a
     * trainer that never had one */
    ntk_trainer *plain;
    CHECK_OK(ntk_trainer_create(na, X, y, H, p.gd, &plain));
    CHECK_OK(ntk_trainer_set_reduce(ta, NULL, NULL, 0));
    int calls = fa.calls;
    CHECK_OK(ntk_trainer_eval(ta));
    CHECK_OK(ntk_trainer_eval(plain));
    CHECK(fa.calls == calls && ntk_trainer_loss(ta) == ntk_trainer_loss(plain) &&
              memcmp(ntk_trainer_grad(ta), ntk_trainer_grad(plain), p.P * sizeof(double)) == 0,
          "%s: reduce NULL evaluates the local rows alone", name);
    ntk_trainer_free(plain);

    /* n_total below this trainer's rows: refused, naming both counts */
    CHECK_ERR(ntk_trainer_set_reduce(tb, fake_reduce, &fb, N - H - 1), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "rows in all") && strstr(ntk_errmsg(), "holds 19"),
          "%s: the message: %s", name, ntk_errmsg());
    /* a reduce that fails: the evaluation returns its status and message */
    CHECK_OK(ntk_trainer_set_reduce(tb, fake_reduce, &fb, N));
    fb.fail = NTK_ERR_IO;
    CHECK_ERR(ntk_trainer_eval(tb), NTK_ERR_IO);
    CHECK(strstr(ntk_errmsg(), "fake reduce failed") != NULL, "%s: the message: %s", name,
          ntk_errmsg());
    /* and an apply after it has nothing to apply */
    CHECK_ERR(ntk_trainer_apply(tb), NTK_ERR_ARG);

    ntk_trainer_free(ta);
    ntk_trainer_free(tb);
    ntk_trainer_free(full);
    ntk_net_free(net);
    ntk_net_free(na);
    ntk_net_free(nb);
    ntk_net_free(nf);
}

/* ntk_run_set_reduce: a run on half the rows whose trainer sums with the
 * other half takes the whole data set's first step. The other half's run
 * captures its share at θ0 when its reduce is set; this half's, set next,
 * adds it; one step of GD then moves θ by −η·g with g the summed gradient,
 * within η·γ·S_k of a run on all rows (the gradient's bound above, times
 * the rate; plus ε|θ_k| for the update's own rounding). Without the
 * re-evaluation the step would use this half's own gradient, which the
 * control shows is far outside that bound. */
static void test_run_split(const char *name, ntk_net_config cfg, ntk_loss_kind loss)
{
    double X[N * D], y[N];
    ntk_rng rng;
    ntk_rng_seed(&rng, 32);
    ntk_rng_normal_fill(&rng, X, N * D);
    for (size_t i = 0; i < N; i++) y[i] = 1.5 + sin(X[i * D]) + 0.5 * X[i * D + 1];
    ntk_gd_config gd = {.lr1 = 0.2, .lr2 = 0.3, .loss = loss};
    problem p = {cfg, gd, X, y, ntk_net_nparams(&cfg)};
    if (p.P > PMAX) return;
    ntk_net *net;
    CHECK_OK(ntk_net_create(&cfg, &net));
    double S[PMAX];
    row_magnitudes(&p, net, S);
    ntk_net_free(net);
    ntk_run_config rc = ntk_run_config_default(cfg, gd);
    rc.models = NTK_MODEL_NN;
    rc.kernel_every = 0;
    rc.flips = 0;
    ntk_run_data all = {X, y, N, NULL, NULL, 0}, a = {X, y, H, NULL, NULL, 0},
                 b = {X + H * D, y + H, N - H, NULL, NULL, 0};
    ntk_run *rf, *ra, *rb, *rl;
    CHECK_OK(ntk_run_create(&rc, &all, NULL, NULL, &rf));
    CHECK_OK(ntk_run_create(&rc, &a, NULL, NULL, &ra));
    CHECK_OK(ntk_run_create(&rc, &b, NULL, NULL, &rb));
    CHECK_OK(ntk_run_create(&rc, &a, NULL, NULL, &rl));   /* the control: no sum */
    fake fa = {0}, fb = {0};
    CHECK_OK(ntk_run_set_reduce(rb, fake_reduce, &fb, N));   /* captures b's share */
    fa.mode = 1;
    fa.other[0] = fb.mine[0], fa.other[1] = fb.mine[1];
    CHECK_OK(ntk_run_set_reduce(ra, fake_reduce, &fa, N));   /* adds it */
    CHECK_OK(ntk_run_advance(rf, 1));
    CHECK_OK(ntk_run_advance(ra, 1));
    CHECK_OK(ntk_run_advance(rl, 1));
    const double *tf = ntk_net_theta(ntk_run_net(rf)), *ta = ntk_net_theta(ntk_run_net(ra)),
                 *tl = ntk_net_theta(ntk_run_net(rl));
    double gam = gamma_of(&cfg), worst = 0.0, ctl = 0.0;
    for (size_t k = 0; k < p.P; k++) {
        double bound = 0.3 * gam * S[k] + EPS * fabs(tf[k]);
        if (bound > 0) worst = fmax(worst, fabs(ta[k] - tf[k]) / bound);
        if (bound > 0) ctl = fmax(ctl, fabs(tl[k] - tf[k]) / bound);
    }
    CHECK_LE(worst, 1.0, "%s: a half-row run with the summed trainer steps as the whole data set's "
             "(worst |theta_k - theta_full_k| / bound)", name);
    CHECK(ctl > 1e3, "%s: control: the half-row run alone is far from it (%g bounds)", name, ctl);
    /* only right after creation */
    CHECK_ERR(ntk_run_set_reduce(rf, fake_reduce, &fa, N), NTK_ERR_ARG);
    CHECK_ERR(ntk_run_set_reduce(NULL, fake_reduce, &fa, N), NTK_ERR_ARG);
    ntk_run_free(rf), ntk_run_free(ra), ntk_run_free(rb), ntk_run_free(rl);
}

/* ---- two processes: fork() and pipes ---------------------------------- */

enum { NT = 9, STEPS = 6, EVERY = 2, MAXROWS = STEPS / EVERY + 1, MAXCOLS = 40, KOUT = 3 };

typedef struct {
    int rank, rd, wr;   /* this process's rank, the pipe from and to the other */
    double other[PMAX + 64];
} pipe_ctx;

static int xfer(int fd, void *p, size_t bytes, int out)
{
    char *c = p;
    while (bytes) {
        ssize_t k = out ? write(fd, c, bytes) : read(fd, c, bytes);
        if (k <= 0) return -1;
        c += k, bytes -= (size_t)k;
    }
    return 0;
}

/* buf ← buf_0 + buf_1, the same sum on both (a message of at most PMAX + 64
 * numbers fits in a pipe's buffer, so both may write first) */
static ntk_status pipe_reduce(void *ctx, double *buf, size_t count)
{
    pipe_ctx *p = ctx;
    if (count > PMAX + 64) return ntk_set_error(NTK_ERR_ARG, "pipe reduce: %zu values", count);
    if (xfer(p->wr, buf, count * sizeof *buf, 1) || xfer(p->rd, p->other, count * sizeof *buf, 0))
        return ntk_set_error(NTK_ERR_IO, "pipe reduce: the other process is gone");
    for (size_t k = 0; k < count; k++)
        buf[k] = p->rank == 0 ? buf[k] + p->other[k] : p->other[k] + buf[k];
    return NTK_OK;
}

static ntk_status identity_reduce(void *ctx, double *buf, size_t count)
{
    (void)ctx, (void)buf, (void)count;
    return NTK_OK;
}

/* What a run ends with: its rows, theory, Lipschitz estimate, weights and
 * the linearized model's test predictions. */
typedef struct {
    int status;
    size_t nrows, ncols;
    double rows[MAXROWS][MAXCOLS];
    ntk_run_theory th;
    double beta, theta[PMAX], ftest[NT * KOUT];
} outcome;

static int keep_row(void *ctx, const ntk_run *r, const double *row)
{
    outcome *o = ctx;
    if (o->nrows < MAXROWS && ntk_run_ncolumns(r) <= MAXCOLS)
        memcpy(o->rows[o->nrows++], row, ntk_run_ncolumns(r) * sizeof *row);
    return 0;
}

/* the run made (whole: rows [0, N); else the rows [r0, r0 + nr) with reduce)
 * and executed */
static void run_one(const ntk_run_config *rc, const ntk_run_data *data, size_t r0, size_t nr,
                    ntk_reduce_fn reduce, void *ctx, outcome *o)
{
    memset(o, 0, sizeof *o);
    ntk_run *r = NULL;
    ntk_status st = reduce ? ntk_run_create_part(rc, data, r0, nr, NULL, NULL, &r)
                           : ntk_run_create(rc, data, NULL, NULL, &r);
    if (st == NTK_OK && reduce) st = ntk_run_set_reduce(r, reduce, ctx, data->n);
    ntk_run_report rep;
    ntk_schedule sch = ntk_schedule_default(STEPS, EVERY);
    sch.on_row = keep_row;
    sch.ctx = o;
    if (st == NTK_OK) st = ntk_run_execute(r, &sch, &rep);
    if (st == NTK_OK) {
        o->ncols = ntk_run_ncolumns(r);
        o->th = rep.theory;
        o->beta = rep.beta_estimate;
        size_t P = ntk_net_nparams(&rc->net);
        memcpy(o->theta, ntk_net_theta(ntk_run_net(r)), P * sizeof(double));
        st = ntk_run_predictions(r, 1, NULL, o->ftest);
    }
    o->status = (int)st;
    ntk_run_free(r);
}

/* the largest difference of a against b relative to b's largest entry, over
 * n values (NaN in the same places) */
static double rel_diff(const double *a, const double *b, size_t n)
{
    double e = 0.0, s = 0.0;
    for (size_t k = 0; k < n; k++) {
        if (isnan(a[k]) != isnan(b[k])) return INFINITY;
        if (isnan(b[k])) continue;
        e = fmax(e, fabs(a[k] - b[k]));
        s = fmax(s, fabs(b[k]));
    }
    return s > 0 ? e / s : e > 0 ? INFINITY : 0.0;
}

/* the largest relative difference of two outcomes, column by column */
static double outcome_diff(const outcome *a, const outcome *b, size_t P, size_t nf)
{
    if (a->nrows != b->nrows || a->ncols != b->ncols) return INFINITY;
    double w = 0.0, ca[MAXROWS], cb[MAXROWS];
    for (size_t c = 0; c < a->ncols; c++) {
        for (size_t i = 0; i < a->nrows; i++) ca[i] = a->rows[i][c], cb[i] = b->rows[i][c];
        w = fmax(w, rel_diff(ca, cb, a->nrows));
    }
    const double *ta = (const double *)&a->th, *tb = (const double *)&b->th;
    for (size_t k = 0; k < sizeof a->th / sizeof(double); k++) w = fmax(w, rel_diff(ta + k, tb + k, 1));
    w = fmax(w, rel_diff(&a->beta, &b->beta, 1));
    w = fmax(w, rel_diff(a->theta, b->theta, P));
    return fmax(w, rel_diff(a->ftest, b->ftest, nf));
}

/* Rows [0, H) on this process (rank 0), [H, N) on a forked one (rank 1),
 * summing through pipes, against one run on all rows. The bound: each
 * step's sums differ from one process's by at most γ (test_split's bound,
 * relative to the rows' magnitudes); over STEPS steps at a stable rate the
 * weights and every smooth function of them (losses, gaps, distances,
 * predictions) differ by at most about STEPS·γ; the eigenvalues of the
 * theory and the drift carry their condition (λ_max/λ_min below 1e3 on
 * these 37 points), so 1e3·STEPS·γ ≈ 1e-10 bounds every difference. The
 * flips and the hits are counts: equal unless a pre-activation or two
 * outputs sit within that rounding of each other (none here: the test
 * checks them with the rest). */
static void test_run_parallel(const char *name, ntk_net_config cfg, ntk_loss_kind loss)
{
    const size_t k = ntk_net_outputs(&cfg);
    double X[N * D], y[N * KOUT], Xt[NT * D], yt[NT * KOUT];
    ntk_rng rng;
    ntk_rng_seed(&rng, 33);
    ntk_rng_normal_fill(&rng, X, N * D);
    ntk_rng_normal_fill(&rng, Xt, NT * D);
    for (size_t i = 0; i < N + NT; i++) {
        const double *x = i < N ? X + i * D : Xt + (i - N) * D;
        double *t = i < N ? y + i * k : yt + (i - N) * k;
        size_t cls = 0;   /* k outputs: one-hot targets, the largest of x_1..x_k */
        for (size_t c = 1; c < k; c++)
            if (x[c] > x[cls]) cls = c;
        for (size_t c = 0; c < k; c++) t[c] = k == 1 ? 1.5 + sin(x[0]) + 0.5 * x[1] : (double)(c == cls);
    }
    /* stable rates: the sum loss's gradient is n times the mean's */
    double f = loss == NTK_LOSS_SUM ? 1.0 / N : 1.0;
    ntk_gd_config gd = {.lr1 = 0.2 * f, .lr2 = 0.3 * f, .loss = loss};
    ntk_run_config rc = ntk_run_config_default(cfg, gd);
    rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
    rc.kernel_every = 1;
    rc.kernel_subsample = 20;   /* the first 20 rows: both halves' (H = 18) */
    ntk_run_data all = {X, y, N, Xt, yt, NT};
    size_t P = ntk_net_nparams(&cfg), nf = NT * k;
    static outcome full, mine, other, ctl;
    run_one(&rc, &all, 0, N, NULL, NULL, &full);
    CHECK(full.status == NTK_OK && full.nrows == MAXROWS, "%s: the whole run: status %d, %zu rows",
          name, full.status, full.nrows);

    int ab[2], ba[2], res[2];
    if (pipe(ab) || pipe(ba) || pipe(res)) {
        CHECK(0, "%s: pipes", name);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        static pipe_ctx pc;
        pc.rank = 1, pc.rd = ab[0], pc.wr = ba[1];
        run_one(&rc, &all, H, N - H, pipe_reduce, &pc, &other);
        _exit(xfer(res[1], &other, sizeof other, 1) ? 3 : 0);
    }
    CHECK(pid > 0, "%s: fork", name);
    if (pid <= 0) return;
    static pipe_ctx pc;
    pc.rank = 0, pc.rd = ba[0], pc.wr = ab[1];
    run_one(&rc, &all, 0, H, pipe_reduce, &pc, &mine);
    int got = xfer(res[0], &other, sizeof other, 0) == 0, wst = 0;
    waitpid(pid, &wst, 0);
    for (int q = 0; q < 2; q++) close(ab[q]), close(ba[q]), close(res[q]);
    CHECK(got && WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "%s: the second process ended", name);
    CHECK(mine.status == NTK_OK && other.status == NTK_OK, "%s: both halves ran: %d, %d", name,
          mine.status, other.status);
    CHECK(got && memcmp(&mine, &other, sizeof mine) == 0,
          "%s: both processes hold the same rows, theory, weights and predictions bit for bit", name);
    double tol = 1e3 * STEPS * gamma_of(&cfg), w = outcome_diff(&mine, &full, P, nf);
    CHECK_LE(w, tol, "%s: the two-process run against one run on all rows (worst relative "
             "difference)", name);
    printf("  %s: worst relative difference %.3g (bound %.3g)\n", name, w, tol);
    /* the columns: accuracies with k outputs, a flip fraction and a drift */
    CHECK(mine.ncols == (k > 1 ? 20u : 16u), "%s: %zu columns", name, mine.ncols);
    CHECK(!isnan(mine.rows[1][12]) && !isnan(mine.rows[1][13]) && mine.rows[1][13] > 0,
          "%s: flips and drift measured: %g, %g", name, mine.rows[1][12], mine.rows[1][13]);
    /* control: the same half with sums that leave each process's own
     * (an identity reduce) is far from the whole run */
    run_one(&rc, &all, 0, H, identity_reduce, NULL, &ctl);
    CHECK(ctl.status == NTK_OK && outcome_diff(&ctl, &full, P, nf) > 1e3 * tol,
          "%s: control: a half without the other's share differs by %g", name,
          outcome_diff(&ctl, &full, P, nf));
}

/* ---- the kernel models of a part run: an external product ------------- */

/* A dense stand-in for the distributed operator: K (N, N) of the run's
 * kernel on all rows, products by plain loops (an oracle independent of
 * the library's eigendecomposition and BLAS). */
typedef struct {
    ntk_kernel_desc desc;
    const double *X;
    double K[N * N];
    double Kx[NT * N];
} dense_ops;

static void dense_mul(const double *A, size_t rows, const double *U, size_t k, double *F)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < k; c++) {
            double acc = 0.0;
            for (size_t j = 0; j < N; j++) acc += A[i * N + j] * U[j * k + c];
            F[i * k + c] = acc;
        }
}

static ntk_status dense_apply(void *ctx, const double *U, size_t k, double *V)
{
    dense_ops *o = ctx;
    dense_mul(o->K, N, U, k, V);
    return NTK_OK;
}

static ntk_status dense_cross(void *ctx, const double *X, size_t n, const double *U, size_t k,
                              double *F)
{
    dense_ops *o = ctx;
    if (n > NT) return ntk_set_error(NTK_ERR_ARG, "dense_cross: %zu > NT inputs", n);
    ntk_status st = ntk_kernel(&o->desc, X, n, o->X, N, o->Kx);
    if (st == NTK_OK) dense_mul(o->Kx, n, U, k, F);
    return st;
}

/* The kernel models ntk and ntk_inf of a run made by ntk_run_create_part
 * (all rows, no reduce) stepping through dense_ops, against the closed
 * form of ntk_run_create (an eigendecomposition): every logged row, the
 * theory and both kernel models' test predictions. The bound: each of the
 * T steps' products differs by about N·ε·‖K‖ from the exact one and the
 * map I − cK has norm ≤ 1 at these stable rates, so T·N·ε·c‖K‖ relative;
 * the closed form's eigenpairs err by N·ε·‖K‖, weighted by at most T;
 * λ_min of the theory carries cond(K) ≤ 1e3: 1e3·T·γ covers all of it
 * (γ ≥ N·ε, test_run_parallel's bound). Control: the infinite-width
 * kernel plugged into model ntk is far off. */
static void test_run_kernel_ops(const char *name, ntk_net_config cfg)
{
    const size_t k = ntk_net_outputs(&cfg);
    double X[N * D], y[N * KOUT], Xt[NT * D], yt[NT * KOUT];
    ntk_rng rng;
    ntk_rng_seed(&rng, 35);
    ntk_rng_normal_fill(&rng, X, N * D);
    ntk_rng_normal_fill(&rng, Xt, NT * D);
    ntk_rng_normal_fill(&rng, y, N * k);
    ntk_rng_normal_fill(&rng, yt, NT * k);
    ntk_gd_config gd = {.lr1 = 0.2, .lr2 = 0.3, .loss = NTK_LOSS_MEAN};
    ntk_run_config rc = ntk_run_config_default(cfg, gd);
    rc.models = NTK_MODEL_NN | NTK_MODEL_NTK | NTK_MODEL_NTK_INF;
    rc.kernel_every = 1;
    ntk_run_data all = {X, y, N, Xt, yt, NT};
    static outcome out[3];
    static dense_ops ops[3][2];
    double ft[3][2][NT * KOUT];
    for (int v = 0; v < 3; v++) {   /* 0: closed form, 1: stepped, 2: control */
        outcome *o = &out[v];
        memset(o, 0, sizeof *o);
        ntk_run *r = NULL;
        ntk_status st = v ? ntk_run_create_part(&rc, &all, 0, N, NULL, NULL, &r)
                          : ntk_run_create(&rc, &all, NULL, NULL, &r);
        for (int inf = 0; inf <= 1 && v && st == NTK_OK; inf++) {
            dense_ops *d = &ops[v][inf];
            st = ntk_run_kernel_desc(r, v == 2 ? 1 : inf, &d->desc);
            d->X = X;
            if (st == NTK_OK) st = ntk_kernel(&d->desc, X, N, NULL, 0, d->K);
            ntk_kernel_ops ko = {dense_apply, dense_cross, d};
            if (st == NTK_OK) st = ntk_run_set_kernel_ops(r, 3 + inf, &ko);
        }
        ntk_run_report rep;
        ntk_schedule sch = ntk_schedule_default(STEPS, EVERY);
        sch.on_row = keep_row;
        sch.ctx = o;
        if (st == NTK_OK) st = ntk_run_execute(r, &sch, &rep);
        if (st == NTK_OK) {
            o->ncols = ntk_run_ncolumns(r);
            o->th = rep.theory;
            o->beta = rep.beta_estimate;   /* (the network's weights: the same run) */
            st = ntk_run_predictions(r, 3, NULL, ft[v][0]);
            if (st == NTK_OK) st = ntk_run_predictions(r, 4, NULL, ft[v][1]);
        }
        CHECK(st == NTK_OK, "%s: run %d: %s", name, v, ntk_errmsg());
        o->status = (int)st;
        ntk_run_free(r);
    }
    double tol = 1e3 * STEPS * gamma_of(&cfg);
    double w = fmax(outcome_diff(&out[1], &out[0], 0, 0),
                    rel_diff(ft[1][0], ft[0][0], NT * k));
    w = fmax(w, rel_diff(ft[1][1], ft[0][1], NT * k));
    CHECK_LE(w, tol, "%s: kernel models stepped through the caller's product against the closed "
             "form (worst relative difference)", name);
    printf("  %s: worst relative difference %.3g (bound %.3g)\n", name, w, tol);
    double c = rel_diff(ft[2][0], ft[0][0], NT * k);
    CHECK(c > 1e3 * tol, "%s: control: the wrong kernel differs by only %g", name, c);
}

/* What ntk_run_create_part and ntk_run_set_reduce refuse. */
static void test_run_part_args(void)
{
    double X[N * D], y[N];
    ntk_rng rng;
    ntk_rng_seed(&rng, 34);
    ntk_rng_normal_fill(&rng, X, N * D);
    ntk_rng_normal_fill(&rng, y, N);
    ntk_gd_config gd = {.lr1 = 0.2, .lr2 = 0.3};
    ntk_run_config rc = ntk_run_config_default(two_layer(), gd);
    ntk_run_data all = {X, y, N, NULL, NULL, 0}, half = {X, y, H, NULL, NULL, 0};
    ntk_run *r = NULL;
    CHECK_ERR(ntk_run_create_part(&rc, &all, 0, H, NULL, NULL, &r), NTK_ERR_ARG);   /* models all */
    CHECK(strstr(ntk_errmsg(), "leave lin out") != NULL, "lin: %s", ntk_errmsg());
    rc.models = NTK_MODEL_NN | NTK_MODEL_NTK;
    rc.flow = 1;
    CHECK_ERR(ntk_run_create_part(&rc, &all, 0, H, NULL, NULL, &r), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "gradient descent only") != NULL, "kernel flow: %s", ntk_errmsg());
    rc.flow = 0;
    /* the kernel model without its operator: refused when the run measures */
    CHECK_OK(ntk_run_create_part(&rc, &all, 0, N, NULL, NULL, &r));
    double row[64];
    CHECK_ERR(ntk_run_metrics(r, 0, row), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "ntk_run_set_kernel_ops") != NULL, "no operator: %s", ntk_errmsg());
    ntk_kernel_ops none = {0};
    CHECK_ERR(ntk_run_set_kernel_ops(r, 3, &none), NTK_ERR_ARG);
    ntk_run_free(r);
    rc.models = NTK_MODEL_NN | NTK_MODEL_LINEARIZED;
    CHECK_ERR(ntk_run_create_part(&rc, &all, H, N, NULL, NULL, &r), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "not a non-empty part") != NULL, "rows past the end: %s", ntk_errmsg());
    CHECK_ERR(ntk_run_create_part(&rc, &all, 0, 0, NULL, NULL, &r), NTK_ERR_ARG);
    CHECK_OK(ntk_run_create_part(&rc, &all, H, N - H, NULL, NULL, &r));
    CHECK_ERR(ntk_run_set_reduce(r, identity_reduce, NULL, N - 1), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "n_total = 37") != NULL, "n_total: %s", ntk_errmsg());
    CHECK_ERR(ntk_run_set_reduce(r, NULL, NULL, N), NTK_ERR_ARG);
    ntk_run_free(r);
    /* a run given its own rows alone: no drift, no theory */
    CHECK_OK(ntk_run_create(&rc, &half, NULL, NULL, &r));
    CHECK_ERR(ntk_run_set_reduce(r, identity_reduce, NULL, N), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "ntk_run_create_part") != NULL, "drift: %s", ntk_errmsg());
    ntk_run_free(r);
    rc.kernel_every = 0;
    CHECK_OK(ntk_run_create(&rc, &half, NULL, NULL, &r));
    CHECK_OK(ntk_run_set_reduce(r, identity_reduce, NULL, N));
    ntk_run_theory th;
    CHECK_ERR(ntk_run_theory_get(r, &th), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "whole training set") != NULL, "theory: %s", ntk_errmsg());
    ntk_run_free(r);
}

int main(void)
{
    /* one OpenBLAS thread: the forked process's BLAS starts no pool */
    ntk_set_threads(1);
    test_run_split("run, two-layer, mean loss", two_layer(), NTK_LOSS_MEAN);
    test_run_split("run, depth 2, sum loss", depth_two(), NTK_LOSS_SUM);
    CHECK_ERR(ntk_trainer_set_reduce(NULL, fake_reduce, NULL, 1), NTK_ERR_ARG);
    test_split("two-layer, mean loss", two_layer(), NTK_LOSS_MEAN);
    test_split("two-layer, sum loss", two_layer(), NTK_LOSS_SUM);
    test_split("depth 2, mean loss", depth_two(), NTK_LOSS_MEAN);
    test_split("depth 2, sum loss", depth_two(), NTK_LOSS_SUM);
    ntk_net_config relu2 = two_layer();
    relu2.act.kind = NTK_ACT_RELU;
    test_run_parallel("parallel run, two-layer relu, mean loss", relu2, NTK_LOSS_MEAN);
    ntk_net_config deep3 = depth_two();
    deep3.act.kind = NTK_ACT_RELU;
    deep3.outputs = KOUT;
    test_run_parallel("parallel run, depth 2, 3 outputs, sum loss", deep3, NTK_LOSS_SUM);
    test_run_kernel_ops("kernel ops, two-layer", two_layer());
    ntk_net_config deep3k = depth_two();
    deep3k.outputs = KOUT;
    test_run_kernel_ops("kernel ops, depth 2, 3 outputs", deep3k);
    test_run_part_args();
    return t_finish();
}
