/* The pieces of a side-by-side run, private to src/run*.c, src/model_*.c,
 * src/theory.c and src/driver.c.
 *
 * A run holds the data, the network at θ0 and up to five models behind one
 * interface (run_model_ops): nn, linearized, lin, ntk and ntk_inf. All of
 * them move together: with gradient descent one step at a time, so that a
 * stop leaves every model at the same step; with gradient flow each is
 * integrated (or evaluated in closed form) to the next time, and all go back
 * to the start when one of them fails or is cancelled. */
#ifndef NTK_RUN_INTERNAL_H
#define NTK_RUN_INTERNAL_H

#include "deep_internal.h"

typedef struct run_model run_model;

/* One model of a run. Every hook may be NULL:
 *   step      one GD step from the current state (NULL: the model is a
 *             closed form in t, nothing to do);
 *   flow_to   gradient flow from the run's time to t (NULL: closed form);
 *   save, restore  keep and bring back the state at the start of a flow
 *             advance (models with an integrator);
 *   predict   predictions at the run's time t on the training (test = 0)
 *             or test (test = 1) inputs;
 *   predict_at  predictions at time t on any inputs X (n, d), with f0 (n)
 *             the network's outputs there at θ0 (0 when centred);
 *   destroy   free the model's state. */
typedef struct {
    ntk_status (*step)(run_model *m);
    ntk_status (*flow_to)(run_model *m, double t);
    void (*save)(run_model *m);
    void (*restore)(run_model *m);
    ntk_status (*predict)(run_model *m, double t, int test, double *f);
    ntk_status (*predict_at)(run_model *m, double t, const double *X, size_t n, const double *f0,
                             double *f);
    void (*destroy)(run_model *m);
} run_model_ops;

struct run_model {
    const run_model_ops *ops;   /* NULL: the model is off */
    ntk_run *run;
    void *state;
};

/* Spectra already computed on the first points, keyed by inf and the
 * layer weights w (L+1 values; the two-layer network's (c1, c2)). */
typedef struct {
    int inf, exact;
    double w[NTK_MAX_DEPTH + 1], lmin, lmax;
} run_spectrum;

enum { RUN_COL_MAX = 64, RUN_SPEC_MAX = 6 };

struct ntk_run {
    ntk_run_config cfg;
    const double *X, *y, *Xt, *yt;      /* borrowed: (n,d), (n,k), (nt,d), (nt,k) */
    size_t n, nt, d, m;
    size_t k;                           /* outputs: y, yt and every prediction are (·, k) */
    /* depth (docs/depth.md): deep = ntk_net_is_deep(&cfg.net), L hidden
     * layers, P parameters; eta[l−1] = η_l, the rate of layer l = 1..L+1,
     * and tw[l−1] = [η_l > 0] (the two-layer network: (η1, η2) and
     * ([η1 > 0], [η2 > 0]), the (c1, c2) of its kernels) */
    int deep;
    size_t L, P;
    double eta[NTK_MAX_DEPTH + 1], tw[NTK_MAX_DEPTH + 1];
    double c;                           /* loss scale: 1/n (mean) or 1 (sum) */
    double t;                           /* current time (steps or flow time) */
    const volatile int *cancel;         /* the caller's stop flag, or NULL */
    double *f0, *ft0;                   /* outputs at θ0 (0 for the centred model) */
    ntk_net *net;                       /* the network of model nn */
    ntk_trainer *tr;                    /* its full-batch evaluations */
    int nn_evaluated;                   /* tr holds the evaluation at time t */
    ntk_constants consts;               /* Gaussian constants (Hu et al.'s models) */
    run_model model[NTK_NMODELS];
    /* metrics (src/run_metrics.c) */
    unsigned char *sign0;               /* signs of Z0 on the training set (flips; at depth
                                           of every hidden layer's h_l, Σ_l m_l per point) */
    double *zblock;                     /* (zrows, m) scratch */
    size_t zrows;
    deep_tape flip_tape;                /* at depth: the forward pass of the flips */
    size_t S;                           /* kernel-drift subsample */
    double *Xs, *K0s, *Ks;              /* (S,d), Θ(0) and Θ(t) on it (S,S) */
    double *fa, *fb, *fta, *ftb;        /* scratch predictions (n,k), (nt,k) */
    size_t ncols;
    const char *cols[RUN_COL_MAX];
    char names[RUN_COL_MAX][40];
    /* theory (src/theory.c) */
    double loss0;                       /* the network's training loss at t = 0 */
    double env_rate;                    /* c·λ_min(η1Θ1 + η2Θ2), NaN until the theory is computed */
    run_spectrum spec[RUN_SPEC_MAX];
    int nspec;
    double *rows;                       /* the driver's last row and maxima (2·ncols) */
    /* data-parallel (ntk_run_create_part, ntk_run_set_reduce; docs/scaling.md
     * §6.4): X, y above are this process's training rows [row0, row0 + n)
     * of the whole set Xall, yall (n_all rows; Xall NULL when the run was
     * given its own rows alone), c is the loss scale of all n_all rows, and
     * reduce (NULL: one process) sums over the processes: the network's
     * trainer, the linearized model's gradient, a logged row's sums. The
     * quantities of the first points of the whole set (the drift
     * subsample, the theory's spectra, the Lipschitz estimate) are computed
     * by the process holding row 0 (first) and handed to the others through
     * the same sum (theirs count 0). */
    const double *Xall, *yall;
    size_t n_all, row0;
    int first;
    ntk_reduce_fn reduce;
    void *reduce_ctx;
};

static inline int run_model_on(const ntk_run *r, int k) { return r->model[k].ops != NULL; }

/* The sum over the processes of v (count values) through the run's reduce
 * (nothing to do without one), with this process's status: local is
 * NTK_OK or the status of a computation that failed here (its message
 * set), which still takes part in the sum so that no process waits for
 * it; then every process returns the same status, the failing process its
 * own message and the others one that points to it. v needs count + 1
 * places (the last carries the failure). */
ntk_status run_reduce(ntk_run *r, ntk_status local, double *v, size_t count);

/* NTK_ERR_INTERRUPTED once the caller's stop flag is set. */
ntk_status run_check_cancel(const ntk_run *r);

/* The models (src/model_*.c): set up model k of r at t = 0. */
ntk_status run_model_nn(ntk_run *r, run_model *m);
ntk_status run_model_linearized(ntk_run *r, run_model *m);
ntk_status run_model_lin(ntk_run *r, run_model *m);
ntk_status run_model_kernel(ntk_run *r, run_model *m, int inf);
/* A data-parallel run's kernel model (ntk_run_create_part): gradient
 * descent step by step on this process's rows through the caller's
 * operator (ntk_run_set_kernel_ops), set with run_model_kernel_set_ops;
 * run_model_kernel_stepped says a kernel model is one (it has no spectrum
 * of its own: the theory computes it on the points). */
ntk_status run_model_kernel_stepped_create(ntk_run *r, run_model *m, int inf);
ntk_status run_model_kernel_set_ops(run_model *m, const ntk_kernel_ops *ops);
int run_model_kernel_stepped(const run_model *m);
/* The kernel models' storage for n train, nt test points: DENSE (K stored)
 * or an operator mode (src/model_kernel.c). */
ntk_op_mode run_kernel_mode(const ntk_run_config *cfg, size_t n, size_t nt);
/* Bytes one kernel model keeps; *peak: the extra while it is set up. */
size_t run_model_kernel_bytes(const ntk_run_config *cfg, size_t n, size_t nt, size_t *peak);
/* λ_min, λ_max of a kernel model's K (exact or Ritz values, *exact says). */
ntk_status run_model_kernel_extremes(const run_model *m, double *lmin, double *lmax, int *exact);
size_t run_model_linearized_bytes(const ntk_run_config *cfg, size_t n, size_t nt);
size_t run_model_lin_bytes(const ntk_run_config *cfg, size_t n, size_t nt);

/* The description of the kernel the run's models use: empirical at θ0
 * (inf = 0) or infinite width, layer l weighted by w[l−1] (L+1 values;
 * w = r->eta: η1Θ1 + η2Θ2, w = r->tw: the trained layers' kernel). For the
 * two-layer network c1 = w[0], c2 = w[1] at W0, v0; at depth
 * layer_weights = w (borrowed) and theta = θ0. */
ntk_kernel_desc run_kernel_desc(const ntk_run *r, int inf, const double *w);
/* That kernel on X1 × X2 (X2 NULL: X1 × X1). */
ntk_status run_kernel(const ntk_run *r, int inf, const double *X1, size_t n1, const double *X2,
                      size_t n2, const double *w, double *K);
/* The unweighted kernel of the trained layers: c1 = [η1 > 0], c2 = [η2 > 0]. */
double run_tc1(const ntk_run *r);
double run_tc2(const ntk_run *r);
/* The flat parameters θ0 and θ of the network (any depth; for the two-layer
 * network [W0; v0] and [W; v]). */
const double *run_theta0(const ntk_run *r);
const double *run_theta(const ntk_run *r);

/* Metrics (src/run_metrics.c): columns, and the state they compare to. */
ntk_status run_metrics_setup(ntk_run *r);
void run_metrics_free(ntk_run *r);
size_t run_metrics_bytes(const ntk_run_config *cfg, size_t n);

/* Theory (src/theory.c): λ_min, λ_max of Σ_l w_l Θ_l on the training set. */
ntk_status run_weighted_extremes(ntk_run *r, int inf, const double *w, double *lmin,
                                 double *lmax, int *exact);

/* Bytes the row blocks of one pass of a deep network over n points take
 * (src/deep.c's passes keep about 16 MiB of tape). */
size_t run_deep_pass_bytes(const ntk_net_config *cfg, size_t n);

#endif
