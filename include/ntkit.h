/*
 * ntkit: wide two-layer networks, their neural tangent kernels, lazy training
 * and linearized models.
 *
 * One public header. Conventions:
 *   - every matrix is a contiguous row-major float64 array; shapes are given
 *     in the comment next to each function as (rows,cols);
 *   - functions return an ntk_status; on failure ntk_errmsg() gives a
 *     one-line message naming the problem and, where there is one, the fix;
 *   - the library never prints and never exits;
 *   - "caller owns" means the caller must release the result with the
 *     matching _free function; _free(NULL) is always a no-op;
 *   - outputs come first among the array arguments only where noted; the
 *     usual order is (inputs..., sizes..., outputs...).
 *
 * The formulas are derived in the project's docs/theory.md; comments cite
 * its sections as "docs/theory.md §k".
 */
#ifndef NTKIT_H
#define NTKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NTK_VERSION "0.1.0"

/* Settings shared by the library, the command line and the Python package
 * (which reads them with ntk_defaults). */
#define NTK_KGD_EIG_MAX_N 2000        /* kernel GD: eigendecomposition up to this n, Krylov above */
#define NTK_KGD_KRYLOV_KMAX 600       /* kernel GD: most Lanczos vectors */
#define NTK_THEORY_MAX_POINTS 3000    /* theory spectra on at most this many points */
#define NTK_KERNEL_SUBSAMPLE 500      /* default points of the kernel-drift subsample */
#define NTK_LEAKY_SLOPE 0.1           /* default slope of leaky_relu below zero */
#define NTK_QUAD_ORDER 64             /* default Gauss–Hermite order of the 2-d expectations */

typedef struct {
    size_t kgd_eig_max_n, kgd_krylov_kmax, theory_max_points, kernel_subsample;
    double leaky_slope;
    int quad_order;
} ntk_defaults_t;
/* The values above, for bindings that cannot read macros. */
ntk_defaults_t ntk_defaults(void);

/* ======================================================================
 * Status, errors, threads, memory
 * ==================================================================== */

typedef enum {
    NTK_OK = 0,
    NTK_ERR_ARG = 1,         /* invalid argument, bad value or shape mismatch */
    NTK_ERR_NOMEM = 2,       /* allocation failed, or the estimate exceeds the memory limit */
    NTK_ERR_IO = 3,          /* a file could not be opened, read or written */
    NTK_ERR_FORMAT = 4,      /* a file is malformed or truncated */
    NTK_ERR_NONFINITE = 5,   /* NaN or Inf in input data */
    NTK_ERR_DIVERGED = 6,    /* training produced a non-finite loss or weight */
    NTK_ERR_LAPACK = 7,      /* a LAPACK routine reported failure */
    NTK_ERR_INTERRUPTED = 8, /* stopped by a caller's request (e.g. Ctrl-C) */
    NTK_ERR_NOCONV = 9       /* an iterative solver stopped before reaching its tolerance */
} ntk_status;

/* Message of the most recent failure in the calling thread (never NULL). */
const char *ntk_errmsg(void);
/* Short name of a status, e.g. "NTK_ERR_ARG". */
const char *ntk_status_name(ntk_status st);
/* Record a failure message (printf-style) and return st. Used by the library
 * and by front ends that want one error channel. */
ntk_status ntk_set_error(ntk_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ntk_clear_error(void);

/* OpenBLAS thread count (<= 0 selects the number of cores). */
void ntk_set_threads(int nthreads);
int ntk_get_threads(void);

/* Bytes the OS reports as available (MemAvailable), or 0 if unknown. */
size_t ntk_mem_available(void);
/* NTK_OK if `bytes` fits in `limit` (limit 0: 90% of ntk_mem_available()),
 * else NTK_ERR_NOMEM with a message naming `what`, the estimate and the limit. */
ntk_status ntk_mem_check(size_t bytes, size_t limit, const char *what);
/* a*b*c*elt with overflow detection; returns SIZE_MAX on overflow. */
size_t ntk_size_mul(size_t a, size_t b, size_t c, size_t elt);

/* The largest count or dimension the linked BLAS can index (2^31 − 1 for
 * the usual 32-bit-integer OpenBLAS). Every size a configuration implies
 * (m, d, n, and m·(d+1), the flat length of the weights) is checked against
 * it before any work starts. */
size_t ntk_blas_int_max(void);

/* NaN/Inf scan; on failure the message names `what` and the first bad index. */
ntk_status ntk_check_finite(const double *x, size_t count, const char *what);

/* ======================================================================
 * Random numbers (xoshiro256** seeded by splitmix64; Box–Muller normals).
 * Identical seeds give identical streams on every platform.
 * ==================================================================== */

typedef struct {
    uint64_t s[4];
    int has_spare;
    double spare;
} ntk_rng;

void ntk_rng_seed(ntk_rng *rng, uint64_t seed);
uint64_t ntk_rng_u64(ntk_rng *rng);
double ntk_rng_uniform(ntk_rng *rng);            /* [0,1) */
double ntk_rng_normal(ntk_rng *rng);             /* N(0,1) */
void ntk_rng_normal_fill(ntk_rng *rng, double *x, size_t count);

/* ======================================================================
 * Activations (src/activation.c)
 * ==================================================================== */

typedef enum {
    NTK_ACT_RELU = 0,
    NTK_ACT_LEAKY_RELU,   /* param a: slope below zero */
    NTK_ACT_ERF,
    NTK_ACT_TANH,
    NTK_ACT_SIGMOID,
    NTK_ACT_SOFTPLUS,
    NTK_ACT_GELU,         /* x·Φ(x), exact (erf-based) form */
    NTK_ACT_IDENTITY,
    NTK_ACT_COUNT
} ntk_act_kind;

typedef struct {
    ntk_act_kind kind;
    double param;         /* leaky_relu slope; ignored otherwise */
} ntk_act;

/* "relu", "leaky_relu", "erf", "tanh", "sigmoid", "softplus", "gelu", "identity". */
ntk_status ntk_act_parse(const char *name, double param, ntk_act *out);
const char *ntk_act_name(ntk_act_kind kind);
/* 1 for relu, leaky_relu and identity (φ'' = 0 almost everywhere). */
int ntk_act_piecewise_linear(ntk_act act);
double ntk_act_phi(ntk_act act, double x);
double ntk_act_dphi(ntk_act act, double x);
double ntk_act_d2phi(ntk_act act, double x);
/* Elementwise over count values: phi[i] = φ(z[i]), dphi[i] = φ'(z[i]).
 * Either output may be NULL; an output may alias z. */
void ntk_act_apply(ntk_act act, size_t count, const double *z, double *phi, double *dphi);

/* ======================================================================
 * The network (src/network.c), docs/theory.md §1:
 *   f(x) = α/√m · Σ_r v_r φ(w_r·x / s)
 * ==================================================================== */

typedef enum { NTK_INIT_GAUSSIAN = 0, NTK_INIT_SIGN, NTK_INIT_SYMMETRIC } ntk_init_kind;
typedef enum { NTK_LOSS_MEAN = 0, NTK_LOSS_SUM } ntk_loss_kind;
typedef enum { NTK_SCALE_SQRT_D = 0, NTK_SCALE_ONE } ntk_input_scale;
typedef enum { NTK_PARAM_NTK = 0, NTK_PARAM_STANDARD } ntk_param_kind;
#define NTK_MAX_DEPTH 16   /* hidden layers at most */

typedef struct {
    size_t d;                      /* input dimension */
    size_t m;                      /* width */
    ntk_act act;
    ntk_init_kind init;
    ntk_input_scale input_scale;   /* s = √d or s = 1 */
    double alpha;                  /* output scale α */
    int centered;                  /* 1: the model is f(x;θ) − f(x;θ0) */
    uint64_t seed;                 /* seed of the weight draw */
    /* Depth, per-layer widths and biases (docs/depth.md), appended so
     * that the two-layer fields keep their places:
     *   h_1 = σ_w W_1 x/s + σ_b b_1,
     *   h_{l+1} = σ_w/√m_l · W_{l+1} φ(h_l) + σ_b b_{l+1}  (l = 1..L),
     *   f = α h_{L+1},
     * every W_l, b_l drawn N(0,1) (NTK parameterisation); the standard one
     * draws W_l from N(0, σ_w²c_l²), b_l from N(0, σ_b²), c_1 = 1/s,
     * c_l = 1/√m_{l−1}, and has no factors in the forward pass (the same
     * function at initialisation, other gradients). L = 1, σ_w = 1, σ_b = 0,
     * NTK parameterisation is the two-layer network above (v = W_2ᵀ), which
     * keeps its own code (bit for bit). */
    size_t depth;                  /* L hidden layers (0 is read as 1) */
    size_t widths[NTK_MAX_DEPTH];  /* m_1..m_L; an entry 0 takes m */
    double weight_std;             /* σ_w > 0 (default 1) */
    double bias_std;               /* σ_b ≥ 0 (default 0: no biases, b_l not parameters) */
    ntk_param_kind parameterization;
    /* The output head (docs/depth.md §1.7), appended: k outputs,
     * f(x) = α h_{L+1} ∈ R^k with W_{L+1} (k, m_L) and b_{L+1} (k). 0 is
     * read as 1, the scalar network. Targets and predictions of a k-output
     * network are (n, k) row-major; its loss sums over the outputs
     * (L = c/2 Σ_i ‖f(x_i) − y_i‖², c = 1/n or 1). A k-output network runs
     * the deep code at any depth (ntk_net_is_deep). */
    size_t outputs;
} ntk_net_config;

/* d, m as given; relu, gaussian, s = √d, α = 1, not centred, seed 0. */
ntk_net_config ntk_net_config_default(size_t d, size_t m);
/* NTK_OK or NTK_ERR_ARG with a message (zero width, odd m with symmetric, α ≤ 0 ...). */
ntk_status ntk_net_config_check(const ntk_net_config *cfg);
double ntk_net_config_s(const ntk_net_config *cfg);
ntk_status ntk_init_parse(const char *name, ntk_init_kind *out);     /* gaussian|sign|symmetric */
const char *ntk_init_name(ntk_init_kind kind);
ntk_status ntk_loss_parse(const char *name, ntk_loss_kind *out);     /* mean|sum */
const char *ntk_loss_name(ntk_loss_kind kind);
ntk_status ntk_input_scale_parse(const char *name, ntk_input_scale *out); /* sqrt_d|one */
const char *ntk_input_scale_name(ntk_input_scale s);

ntk_status ntk_param_parse(const char *name, ntk_param_kind *out);   /* ntk|standard */
const char *ntk_param_name(ntk_param_kind p);

/* ---- depth (docs/depth.md) -----------------------------------------
 * Layers are numbered l = 1..L+1; layer l maps m_{l−1} to m_l values, with
 * m_0 = d and m_{L+1} = k (ntk_net_outputs, 1 for the scalar network). All
 * parameters sit in one flat vector θ, layer
 * by layer: W_l (m_l, m_{l−1}) row-major, then b_l (m_l) when σ_b > 0. For
 * the two-layer network θ = [W (m,d), v (m)], the order it always had. */
/* 0 for the two-layer network (L = 1, σ_w = 1, σ_b = 0, NTK
 * parameterisation), which runs the two-layer code; 1 otherwise. */
int ntk_net_is_deep(const ntk_net_config *cfg);
size_t ntk_net_depth(const ntk_net_config *cfg);             /* L ≥ 1 */
size_t ntk_net_width(const ntk_net_config *cfg, size_t l);   /* m_l, l = 0..L+1 */
/* Offset of W_l in θ (l = 1..L+1); *nW = m_l·m_{l−1}, *nb = m_l or 0
 * (no biases); b_l starts at offset + *nW. l = L+2 gives the count P. */
size_t ntk_net_layer_offset(const ntk_net_config *cfg, size_t l, size_t *nW, size_t *nb);
size_t ntk_net_nparams(const ntk_net_config *cfg);          /* P */
size_t ntk_net_outputs(const ntk_net_config *cfg);          /* k ≥ 1 */
/* The factor σ_w·c_l that multiplies W_l in the NTK parameterisation's
 * forward pass (c_1 = 1/s, c_l = 1/√m_{l−1}); 1 in the standard one. The
 * bias factor is σ_b (NTK) or 1 (standard). */
double ntk_net_weight_factor(const ntk_net_config *cfg, size_t l);
double ntk_net_bias_factor(const ntk_net_config *cfg);

/* Draw W0 (m,d) and v0 (m) as the config's init prescribes. */
ntk_status ntk_init_weights(const ntk_net_config *cfg, double *W0, double *v0);

typedef struct ntk_net ntk_net;

/* Create a network with weights drawn from cfg->seed; W = W0. Caller owns. */
ntk_status ntk_net_create(const ntk_net_config *cfg, ntk_net **out);
/* Create a network with given initial weights W0 (m,d), v0 (m) (copied);
 * cfg->init and cfg->seed are recorded but not used. Caller owns. */
ntk_status ntk_net_create_from(const ntk_net_config *cfg, const double *W0,
                               const double *v0, ntk_net **out);
void ntk_net_free(ntk_net *net);

const ntk_net_config *ntk_net_cfg(const ntk_net *net);
/* The two-layer weights. At depth (ntk_net_is_deep) W and W0 point at θ and
 * θ0 (W_1 (m_1, d) first) and v, v0 are NULL: use ntk_net_theta. */
const double *ntk_net_W(const ntk_net *net);   /* current weights (m,d), owned by net */
const double *ntk_net_v(const ntk_net *net);   /* (m) */
const double *ntk_net_W0(const ntk_net *net);
const double *ntk_net_v0(const ntk_net *net);
/* Copy in current weights (checked finite). NTK_ERR_ARG at depth
 * (ntk_net_create_from likewise): use ntk_net_set_theta. */
ntk_status ntk_net_set_weights(ntk_net *net, const double *W, const double *v);

/* Any depth, on the flat parameters θ (ntk_net_nparams values; for the
 * two-layer network θ = [W, v], and these give ntk_forward's numbers).
 * ntk_net_theta(0) are owned by the net; ntk_net_create_from_theta copies. */
const double *ntk_net_theta(const ntk_net *net);
const double *ntk_net_theta0(const ntk_net *net);
ntk_status ntk_net_set_theta(ntk_net *net, const double *theta);
ntk_status ntk_net_create_from_theta(const ntk_net_config *cfg, const double *theta0,
                                     ntk_net **out);
/* Draw θ0 (P) as the config's init prescribes, at any depth (for the
 * two-layer network the same numbers as ntk_init_weights). */
ntk_status ntk_init_theta(const ntk_net_config *cfg, double *theta0);
/* Uncentred f(x; θ) for X (n,d) -> f (n, k), in row blocks (k =
 * ntk_net_outputs, 1 for the scalar network). */
ntk_status ntk_forward_theta(const ntk_net_config *cfg, const double *theta, const double *X,
                             size_t n, double *f);
/* The Jacobian J = ∂f(X;θ)/∂θ (n·k, P) without forming it: out (n, k) =
 * J·dθ (forward mode), g (P) = Jᵀ·r for r (n, k) (backward mode, summed
 * over the rows). */
ntk_status ntk_net_jvp(const ntk_net_config *cfg, const double *theta, const double *X,
                       size_t n, const double *dtheta, double *out);
ntk_status ntk_net_vjp(const ntk_net_config *cfg, const double *theta, const double *X,
                       size_t n, const double *r, double *g);

/* Uncentred f(x; W, v) for X (n,d) -> f (n). Works in row blocks; allocates
 * O(block·m) scratch. */
ntk_status ntk_forward(const ntk_net_config *cfg, const double *W, const double *v,
                       const double *X, size_t n, double *f);
/* The model's output at the current weights: f(x;θ), or f(x;θ) − f(x;θ0)
 * when centred. */
ntk_status ntk_net_predict(const ntk_net *net, const double *X, size_t n, double *f);

/* Loss of predictions f against y: mean form 1/(2n)Σ r², sum form 1/2 Σ r². */
double ntk_loss_value(ntk_loss_kind loss, const double *f, const double *y, size_t n);
/* Factor c with ∇_f L = c · (f − y): 1/n for mean, 1 for sum. */
double ntk_loss_scale(ntk_loss_kind loss, size_t n);

/* A batch to evaluate the loss on: inputs X (n,d), targets y (n, k), the
 * loss form, and f0 (n, k) subtracted from the output when non-NULL (the
 * centred model); k = ntk_net_outputs, 1 for the scalar network. */
typedef struct {
    const double *X, *y;
    size_t n;
    ntk_loss_kind loss;
    const double *f0;
} ntk_batch;

/* What ntk_loss_grad writes: the loss, and each array that is not NULL:
 * gW (m,d), gv (m), f (n) the outputs. */
typedef struct {
    double loss;
    double *gW, *gv, *f;
} ntk_loss_out;

/* Loss and gradients at weights (W, v), docs/theory.md §1:
 *   ∇_v L = c·α/√m · φ(Z)ᵀ r,  ∇_W L = c·α/(√m s) · (φ'(Z) ⊙ r vᵀ)ᵀ X,
 *   Z = X Wᵀ/s, r = f − y, c = ntk_loss_scale. */
ntk_status ntk_loss_grad(const ntk_net_config *cfg, const double *W, const double *v,
                         const ntk_batch *b, ntk_loss_out *out);
/* Loss and gradient ∇_θ L (P) at θ on a batch (NULL g or f: not computed). */
ntk_status ntk_loss_grad_theta(const ntk_net_config *cfg, const double *theta,
                               const ntk_batch *b, double *loss, double *g, double *f);

/* Bytes a trainer on n points needs (weights, gradients, scratch). */
size_t ntk_trainer_mem_bytes(size_t n, size_t d, size_t m);
/* The same for any configuration (at depth: the gradient (P), the outputs
 * and the tape of src/deep.c); ntk_trainer_mem_bytes(n, d, m) for the
 * two-layer network. */
size_t ntk_trainer_mem_bytes_cfg(const ntk_net_config *cfg, size_t n);

typedef struct {
    double lr1;                /* η1, first layer; 0 freezes W */
    double lr2;                /* η2, second layer; 0 freezes v */
    ntk_loss_kind loss;
    /* Depth (appended): nlr = 0 gives layers 1..L the rate lr1 and layer
     * L+1 the rate lr2; otherwise nlr = L+1 rates, one per layer (W_l and b_l
     * together), 0 freezing that layer. */
    size_t nlr;
    double lrs[NTK_MAX_DEPTH + 1];
} ntk_gd_config;

/* Full-batch gradient descent on (X (n,d), y (n, k)). Borrows net, X and y
 * (they must outlive the trainer); caches f(X;θ0) when the net is centred.
 * Caller owns. */
typedef struct ntk_trainer ntk_trainer;
ntk_status ntk_trainer_create(ntk_net *net, const double *X, const double *y, size_t n,
                              ntk_gd_config gd, ntk_trainer **out);
void ntk_trainer_free(ntk_trainer *tr);
/* Evaluate predictions, loss and gradient at the current weights. Returns
 * NTK_ERR_DIVERGED if the loss or gradient is not finite. */
ntk_status ntk_trainer_eval(ntk_trainer *tr);
/* Apply W -= η1 gW, v -= η2 gv using the last evaluation (at depth
 * θ_l -= η_l ∇_{θ_l} L for each layer with η_l > 0). */
ntk_status ntk_trainer_apply(ntk_trainer *tr);
/* eval + apply. */
ntk_status ntk_trainer_step(ntk_trainer *tr);
/* Results of the last evaluation (valid after ntk_trainer_eval). */
double ntk_trainer_loss(const ntk_trainer *tr);
/* ‖∇_θ L‖ over the trained layers only. */
double ntk_trainer_grad_norm(const ntk_trainer *tr);
const double *ntk_trainer_pred(const ntk_trainer *tr);   /* (n, k) */
/* Gradients of the last evaluation; NULL for a frozen layer (rate 0), and
 * NULL at depth (two-layer only: use ntk_trainer_grad). */
const double *ntk_trainer_gW(const ntk_trainer *tr);     /* (m,d) */
const double *ntk_trainer_gv(const ntk_trainer *tr);     /* (m) */
/* The whole gradient ∇_θ L (P) of the last evaluation, at any depth (zero
 * on frozen layers). */
const double *ntk_trainer_grad(const ntk_trainer *tr);
/* Data-parallel training (the MPI build, docs/scaling.md): each process
 * holds a trainer on its own rows of a data set of n_total rows. After the
 * local loss and gradient, ntk_trainer_eval scales them by n / n_total (for
 * NTK_LOSS_MEAN; by 1 for NTK_LOSS_SUM) and calls reduce(ctx, buf, count)
 * once, which must replace buf by its sum over the processes: buf holds the
 * gradient (P values) and then the loss (count = P + 1). The sums are the
 * loss and gradient on all
 * rows, so every process applies the same step. reduce NULL: none (the
 * default). The library itself knows nothing of MPI. */
typedef ntk_status (*ntk_reduce_fn)(void *ctx, double *buf, size_t count);
ntk_status ntk_trainer_set_reduce(ntk_trainer *tr, ntk_reduce_fn reduce, void *ctx,
                                  size_t n_total);
/* η_l of layer l = 1..L+1 under gd for this network (the nlr rule above). */
double ntk_gd_layer_rate(const ntk_gd_config *gd, const ntk_net_config *cfg, size_t l);

/* Distances from init: ‖W − W0‖_F, ‖v − v0‖, max_r ‖w_r − w_r0‖. At depth:
 * w_fro = ‖θ − θ0‖ over the hidden layers 1..L (weights and biases), v_norm
 * over the output layer L+1 (W_{L+1}, b_{L+1}), w_max_row the largest
 * ‖row of W_l − its init‖ over the hidden layers' units, theta = ‖θ − θ0‖. */
typedef struct {
    double w_fro, v_norm, w_max_row, theta;   /* theta = sqrt(w_fro² + v_norm²) */
} ntk_weight_dist;
void ntk_net_weight_dist(const ntk_net *net, ntk_weight_dist *out);

/* ======================================================================
 * Arrays and .npy (src/npy.c)
 * ==================================================================== */

typedef struct {
    double *data;       /* rows*cols values, row-major, owned: release with ntk_array_free
                           only (it may point into a mapping, never free or realloc it) */
    size_t rows, cols;  /* a 1-d array has cols = 1 and ndim = 1 */
    int ndim;
    void *map;          /* NULL, or the mapping data points into (ntk_npy_map) */
    size_t map_len;     /* its length in bytes */
} ntk_array;

void ntk_array_free(ntk_array *a);   /* frees or unmaps data, zeroes the struct */

/* Read a C-order .npy of float32/float64 (either byte order), 1-d or 2-d,
 * into float64. Rejects Fortran order, other dtypes, truncation and NaN/Inf. */
ntk_status ntk_npy_read(const char *path, ntk_array *out);
/* As ntk_npy_read, with the same checks, but a little-endian float64 file
 * (numpy's default) is memory-mapped instead of copied: data points into a
 * private copy-on-write mapping (MAP_PRIVATE), so the values are read from
 * the file as they are used, the array may be modified in place and the file
 * never changes. Other files are loaded (out->map stays NULL). The file must
 * not be truncated while the array lives: pages not yet copied are read from
 * it. The NaN/Inf check reads every value once. */
ntk_status ntk_npy_map(const char *path, ntk_array *out);
/* Rows [r0, r0 + count) of a .npy that ntk_npy_read accepts (the elements
 * [r0, r0 + count) of a 1-d one), read by seeking past the others, so that
 * a process of a distributed run holds its own rows only: out (count, cols),
 * loaded (never mapped), ndim that of the file; count = 0 gives data NULL.
 * The header and the file's size are checked as by ntk_npy_read, NaN/Inf in
 * the rows read; a range beyond the array's rows is refused (NTK_ERR_ARG). */
ntk_status ntk_npy_read_rows(const char *path, size_t r0, size_t count, ntk_array *out);
/* The shape of a .npy that ntk_npy_read accepts, from its header alone
 * (checked as there, with the file's size; the values are not read):
 * rows, cols (1 for a 1-d array) and ndim. */
ntk_status ntk_npy_shape(const char *path, size_t *rows, size_t *cols, int *ndim);
/* Write float64 .npy (ndim 1: shape (rows,), ndim 2: (rows, cols)) through a
 * temporary file renamed into place. */
ntk_status ntk_npy_write(const char *path, const double *data, size_t rows, size_t cols,
                         int ndim);

/* A .npy larger than memory, written row block by row block: open checks
 * that the whole file fits (the destination file system's free space and
 * the file-size limit, NTK_ERR_IO naming both sizes) and writes the header
 * of a C-order little-endian (rows, cols) array, or (rows,) with ndim 1 and
 * cols 1, of float64, or of float32 with dtype_f32 = 1, into a temporary file
 * next to path (as ntk_stream_open: a signal handler's ntk_tmpfiles_remove
 * removes it); each call of rows appends nrows rows given as float64
 * (nrows*cols values); commit puts the file in place once every row is
 * written, discard removes it; both free the writer. float32 rounds each
 * value to the nearest float: relative error at most 2^-24 for |x| >=
 * 2^-126, absolute at most 2^-150 below; a value beyond ±FLT_MAX is
 * NTK_ERR_NONFINITE. After a failed call only discard (or commit, which
 * refuses) is left. */
typedef struct ntk_npy_writer ntk_npy_writer;
ntk_status ntk_npy_writer_open(const char *path, size_t rows, size_t cols, int ndim, int dtype_f32,
                               ntk_npy_writer **out);
ntk_status ntk_npy_writer_rows(ntk_npy_writer *w, const double *x, size_t nrows);
ntk_status ntk_npy_writer_commit(ntk_npy_writer *w);
void ntk_npy_writer_discard(ntk_npy_writer *w);

/* Output files (src/fileio.c). Every file the library writes goes to a
 * temporary file next to its destination and is renamed onto it only when
 * complete, so a failure or a signal never leaves a half-written file and
 * never removes the file that was there before. The destination is resolved
 * first: a symbolic link is followed (the link stays, its target is
 * replaced); a directory or a block device is refused; another non-regular
 * file (a character device such as /dev/null, a FIFO with a reader) is
 * written through. */

/* Write `len` bytes to path as described above. */
ntk_status ntk_write_file_atomic(const char *path, const void *buf, size_t len);

/* A file written piece by piece (a log, a CSV) and put in place by commit;
 * discard removes it. Both free the stream. */
typedef struct ntk_stream ntk_stream;
ntk_status ntk_stream_open(const char *path, ntk_stream **out);
ntk_status ntk_stream_write(ntk_stream *s, const void *buf, size_t len);
ntk_status ntk_stream_commit(ntk_stream *s);
void ntk_stream_discard(ntk_stream *s);

/* Several files that appear together or not at all: each add writes one
 * whole temporary file; commit renames them all into place; free removes
 * whatever was not committed. So a failure while producing the second
 * output leaves the earlier version of the first untouched. */
typedef struct ntk_outset ntk_outset;
ntk_status ntk_outset_create(ntk_outset **out);
ntk_status ntk_outset_add(ntk_outset *o, const char *path, const void *buf, size_t len);
ntk_status ntk_outset_add_npy(ntk_outset *o, const char *path, const double *data, size_t rows,
                              size_t cols, int ndim);
/* As ntk_outset_add_npy, written as float32 ('<f4', rounded as by
 * ntk_npy_writer_open; a float32 copy of the values is made). */
ntk_status ntk_outset_add_npy_f32(ntk_outset *o, const char *path, const double *data,
                                  size_t rows, size_t cols, int ndim);
ntk_status ntk_outset_commit(ntk_outset *o);
void ntk_outset_free(ntk_outset *o);

/* Remove every temporary file the library holds open at this moment. Uses
 * only unlink(), so a signal handler may call it before the process ends. */
void ntk_tmpfiles_remove(void);

/* ======================================================================
 * Data (src/data.c, src/loaders.c)
 * ==================================================================== */

/* Synthetic inputs X (n,d) by spec:
 *   "gaussian"                N(0, I)
 *   "gaussian:decay=P"        N(0, Σ), Σ = diag(k^-P) rescaled to Tr Σ = d
 *   "sphere"                  uniform on the sphere of radius √d
 *   "unit-sphere"             uniform on the unit sphere                         */
ntk_status ntk_inputs_generate(const char *spec, size_t n, size_t d, ntk_rng *rng, double *X);

/* A teacher function drawn once from its own seed, then evaluated on any X.
 * Specs (options after ':' separated by ','):
 *   "linear"                  y = βᵀx/√d, β ~ N(0, I)
 *   "relu-neuron"             y = √2·relu(uᵀx), u unit (formulas: see data.c)
 *   "two-layer:k=K"           y = 1/√K Σ_j a_j relu(u_jᵀx/√d), a_j = ±1
 *   "hermite:1=c1,2=c2,..."   y = Σ_k c_k He_k(uᵀx)/√(k!), u unit
 *   "poly:1=c1,3=c3,..."      y = Σ_k c_k (uᵀx)^k
 *   "gegenbauer:1=c1,2=c2"    unit-norm degree-k components on the sphere √d
 *   "noise"                   y ~ N(0,1), independent of x
 * Any spec may add ",noise=σ" (label noise N(0,σ²)). Caller owns. */
typedef struct ntk_target ntk_target;
ntk_status ntk_target_create(const char *spec, size_t d, uint64_t seed, ntk_target **out);
void ntk_target_free(ntk_target *t);
/* Evaluate on X (n,d); noise (if any) drawn from rng. */
ntk_status ntk_target_eval(const ntk_target *t, const double *X, size_t n, ntk_rng *rng,
                           double *y);

/* Loaders. Classes map to ±1: pos -> +1, neg -> -1; other classes dropped;
 * pos = neg = -1 keeps every class with y its label 0..9.
 * max_n = 0 loads all. Caller owns the arrays. Every reader (these and
 * ntk_npy_read) refuses a path that is not a regular file (a FIFO, a
 * directory, a device) with NTK_ERR_IO, without blocking on a FIFO. */
/* The first non-blank line of a CSV file:
 *   AUTO  a header when none of its cells is a number, data when all are,
 *         and an error (NTK_ERR_FORMAT) when it mixes numbers and text;
 *   YES   always a header (skipped; its width must match the data);
 *   NO    always data. */
typedef enum { NTK_CSV_HEADER_AUTO = 0, NTK_CSV_HEADER_YES, NTK_CSV_HEADER_NO } ntk_csv_header;
/* CSV: comma-separated numbers, after an optional UTF-8 byte order mark and
 * the header line `header` describes; target column `target_col` (-1 =
 * last). X (rows, cols−1), y (rows). */
ntk_status ntk_load_csv(const char *path, int target_col, ntk_csv_header header, ntk_array *X,
                        ntk_array *y);
/* CIFAR-10 binary batch file (records of 1 label byte + 3072 pixel bytes). */
ntk_status ntk_load_cifar10(const char *path, int pos, int neg, size_t max_n,
                            ntk_array *X, ntk_array *y);
/* MNIST idx3 images + idx1 labels. */
ntk_status ntk_load_mnist(const char *images, const char *labels, int pos, int neg,
                          size_t max_n, ntk_array *X, ntk_array *y);

/* Standardisation: centre each column by `mean` and multiply every entry by
 * one `scale`, chosen on X (n,d) so that Tr Σ = d. Apply the same to test
 * data with ntk_standardize_apply. */
ntk_status ntk_standardize_fit(const double *X, size_t n, size_t d, double *mean,
                               double *scale);
void ntk_standardize_apply(double *X, size_t n, size_t d, const double *mean, double scale);

/* A dataset resolved from --data/--target style specs:
 *   data:   a synthetic inputs spec (above), or
 *           "npy:X.npy[:y.npy]", "csv:FILE[:OPTIONS]",
 *           "cifar10:FILE:POS,NEG", "mnist:IMAGES:LABELS:POS,NEG" (POS,NEG
 *           "all": every class, one-hot targets);
 *           CSV OPTIONS are key=value pairs separated by ',':
 *           target=COL (default -1, the last column) and
 *           header=yes|no|auto (default auto), e.g. csv:f.csv:target=0,header=no.
 *           File inputs must have at least one row and one column.
 *   target: a target spec (above), "npy:y.npy", or NULL/"" when the data
 *           file carries labels.
 * Files are split: the first n rows train, the next n_test test (n = 0: all
 * but n_test). Synthetic data use seed for inputs and seed+1 for the teacher.
 * standardize: 1 to centre and rescale to Tr Σ = d with the training
 * statistics. */
typedef struct {
    double *X_train, *y_train, *X_test, *y_test;   /* owned; y (n, k), (n_test, k) */
    size_t n, n_test, d;
    size_t k;   /* target columns: 1, or k for an (n, k) y.npy and for the one-hot
                   targets of "cifar10:FILE:all" and "mnist:IMAGES:LABELS:all" (k = 10,
                   1 at the class's column, 0 elsewhere) */
} ntk_dataset;
/* What to make: the specs above and the split. */
typedef struct {
    const char *data;          /* inputs spec */
    const char *target;        /* target spec, or NULL/"" when the data file carries labels */
    size_t n, n_test;          /* training and test rows (files: n = 0 takes all but n_test) */
    size_t d;                  /* dimension of synthetic inputs (files: 0, or checked) */
    uint64_t seed;             /* inputs; the teacher uses seed + 1 */
    int standardize;           /* 1: centre and rescale to Tr Σ = d (training statistics) */
    const char *test;          /* NULL, or a file spec whose rows are the test set (n_test of
                                  them, or all when n_test = 0); data must then be a file */
} ntk_dataset_spec;
ntk_status ntk_dataset_make(const ntk_dataset_spec *spec, ntk_dataset *out);
void ntk_dataset_free(ntk_dataset *ds);

/* The network of a run directory (src/runcfg.c): the text of the
 * config.json that `ntkit train` writes -> *out (width, d, act, act_param,
 * init, input_scale, alpha, seed, centered), checked with
 * ntk_net_config_check. `source` names the file in messages (NULL:
 * "config.json"). NTK_ERR_FORMAT for text that is not such an object; *out
 * is written only on success. */
ntk_status ntk_net_config_from_json(const char *json, const char *source, ntk_net_config *out);
/* The same from the file at path (a regular file; a FIFO or a directory is
 * refused without blocking). */
ntk_status ntk_net_config_read(const char *path, ntk_net_config *out);

/* Gaussian constants of docs/theory.md §4 (g ~ N(0,1)). */
typedef struct {
    double zeta;      /* E[φ'(g)] */
    double nu;        /* E[g φ'(g)] · trace_factor */
    double theta0;    /* E[φ(g)] */
    double theta1;    /* E[g φ'(g)] */
    double theta2;    /* E[(g³/2 − g) φ'(g)] */
    double e_phi2;    /* E[φ(g)²] */
    double e_dphi2;   /* E[φ'(g)²] */
    double trace_factor; /* √(Tr Σ²/d) used for ν */
} ntk_constants;


/* ======================================================================
 * Kernels (src/kernel.c), docs/theory.md §2–§4
 * A kernel is requested as K = c1·Θ1 + c2·Θ2:
 *   ntk: (1,1)  ntk1: (1,0)  ntk2 = nngp: (0,1)  rate-weighted: (η1,η2).
 * X2 == NULL asks for the symmetric train×train block K (n1,n1), computed
 * half-and-mirrored; otherwise the cross block K (n1,n2).
 * ==================================================================== */

typedef enum {
    NTK_KERNEL_EMPIRICAL = 0,   /* at weights W, v (docs/theory.md §2):
                                   Θ1 = α²/m (φ'(Z1) diag(v²) φ'(Z2)ᵀ) ⊙ (X1 X2ᵀ/s²),
                                   Θ2 = α²/m φ(Z1) φ(Z2)ᵀ, in tiles under mem_limit */
    NTK_KERNEL_INFINITE,        /* infinite width, E[v²] = 1 (§3): closed forms for relu,
                                   leaky_relu, erf and identity, Gauss–Hermite otherwise */
    NTK_KERNEL_LIN              /* Hu et al.'s linear models (§4): c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ on
                                   the inputs rescaled to x·√d/s */
} ntk_kernel_source;

/* Which kernel. Start from ntk_kernel_desc_default and set what applies. */
typedef struct {
    ntk_kernel_source source;
    const ntk_net_config *net;    /* activation, α, s and d (and m for EMPIRICAL) */
    double c1, c2;                /* K = c1·Θ1 + c2·Θ2 (default 1, 1) */
    const double *W, *v;          /* EMPIRICAL: weights (m,d), (m) */
    size_t mem_limit;             /* EMPIRICAL: bytes for tiles (0: 1 GiB capped by 90% of
                                     available memory); NTK_ERR_NOMEM if no tile fits */
    int quad_order;               /* INFINITE and LIN: Gauss–Hermite order (0: default) */
    int quadrature;               /* INFINITE: 1 uses quadrature even where a closed form
                                     exists (to test the closed forms) */
    const ntk_constants *consts;  /* LIN: the Gaussian constants, or NULL to compute them */
    double trace_factor;          /* LIN with consts NULL: √(Tr Σ²/d); 0 estimates it from X1 */
    int threads;                  /* OpenBLAS threads for this call (0: the process-wide count) */
    int diagonal;                 /* 1: only K_ii, into K (n1) (X2 must be NULL): O(n·m·d)
                                     for EMPIRICAL, no n × n storage for any source */
    /* Depth (appended; used when ntk_net_is_deep(net), docs/depth.md):
     * EMPIRICAL takes the flat parameters theta (ntk_net_nparams) instead of
     * W, v; layer_weights (L+1 values, NULL: c1 for layers 1..L and c2 for
     * layer L+1) weigh each layer's share, K = Σ_l w_l Θ_l, for EMPIRICAL
     * and INFINITE. LIN is two-layer only (NTK_ERR_ARG at depth). */
    const double *theta;
    const double *layer_weights;
} ntk_kernel_desc;

ntk_kernel_desc ntk_kernel_desc_default(ntk_kernel_source source, const ntk_net_config *net);
const char *ntk_kernel_source_name(ntk_kernel_source source);
/* K (n1, n2), or (n1, n1) with X2 NULL, of the points X1 (n1, d), X2 (n2, d).
 * Every entry is checked finite (NTK_ERR_NONFINITE names the overflow). */
ntk_status ntk_kernel(const ntk_kernel_desc *k, const double *X1, size_t n1, const double *X2,
                      size_t n2, double *K);
/* The kernel of ntk_kernel written to a .npy at path without holding it in
 * memory (src/kernel_file.c): row blocks K(X1[rows], X2) (X2 NULL: X1, the
 * symmetric kernel; k->diagonal: the diagonal, shape (n1,)) appended to a
 * temporary file put in place when complete, as ntk_npy_writer_open (the
 * whole file's size is checked against the free space and the file-size
 * limit before any work). mem_limit: bytes for the row block and the kernel's
 * scratch, the inputs excluded (0: half of the available memory; the
 * empirical kernel's tiles get a quarter of it, k->mem_limit is not used);
 * NTK_ERR_NOMEM with the estimate when one row does not fit. dtype_f32 = 1
 * writes float32 (entries rounded to 2^-24 relative). Between row blocks a
 * nonzero *cancel (cancel may be NULL) stops with NTK_ERR_INTERRUPTED and no
 * file. A symmetric kernel costs twice the in-memory work (both triangles
 * are computed); entries match ntk_kernel's to rounding, not bit for bit. */
ntk_status ntk_kernel_write_npy(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2, const char *path, size_t mem_limit,
                                int dtype_f32, const volatile int *cancel);

/* ======================================================================
 * Kernel operators (src/operator*.c), docs/theory.md §9
 * A symmetric positive semi-definite kernel on n points X, with its cross
 * block to any other points, behind one interface: multiply a block of
 * vectors, extract the diagonal. What is stored follows the mode:
 *   DENSE        K (n,n) in float64, computed once;
 *   DENSE_F32    K in float32 (half the memory; entries rounded to 2^-24
 *                relative), products accumulated in float64;
 *   MATRIX_FREE  K never stored: the empirical NTK as Θ·U = J(JᵀU) in row
 *                tiles (O(tile·m + k·m·d) memory); the infinite-width
 *                kernels as tiles computed, multiplied and discarded
 *                (O(tile²)); Hu et al.'s kernels as Ψ(ΨᵀU) (O(n·d));
 *   AUTO         DENSE when K fits in the memory limit, else MATRIX_FREE.
 * ==================================================================== */

typedef enum {
    NTK_OP_AUTO = 0,
    NTK_OP_DENSE,
    NTK_OP_DENSE_F32,
    NTK_OP_MATRIX_FREE
} ntk_op_mode;
/* "auto", "dense", "dense-f32", "matrix-free" */
const char *ntk_op_mode_name(ntk_op_mode mode);
ntk_status ntk_op_mode_parse(const char *name, ntk_op_mode *out);

typedef struct ntk_op ntk_op;
/* The kernel of desc (copied; its weights W, v borrowed) on X (n, d)
 * (borrowed: both must outlive the operator). mem_limit: bytes the operator
 * may keep and use as scratch (0: half of the available memory).
 * NTK_ERR_NOMEM when even the mode's smallest footprint does not fit, with
 * the estimate in the message. Caller owns. */
ntk_status ntk_op_create(const ntk_kernel_desc *desc, const double *X, size_t n,
                         ntk_op_mode mode, size_t mem_limit, ntk_op **out);
/* A given matrix K (n,n), symmetric, borrowed: products only (no cross block,
 * no kernel to evaluate elsewhere). Caller owns. */
ntk_status ntk_op_from_matrix(const double *K, size_t n, ntk_op **out);
void ntk_op_free(ntk_op *op);
size_t ntk_op_size(const ntk_op *op);
/* The mode in use (AUTO resolved). */
ntk_op_mode ntk_op_get_mode(const ntk_op *op);
/* V (n,k) = K U for U (n,k). */
ntk_status ntk_op_apply(ntk_op *op, const double *U, size_t k, double *V);
/* D (n) = K_ii. */
ntk_status ntk_op_diag(ntk_op *op, double *D);
/* F (nt,k) = K(Xt, X) U for Xt (nt, d), U (n,k); NTK_ERR_ARG for a given
 * matrix. */
ntk_status ntk_op_cross_apply(ntk_op *op, const double *Xt, size_t nt, const double *U, size_t k,
                              double *F);
/* C (n, s) = K(X, X[idx]): s columns of K. */
ntk_status ntk_op_columns(ntk_op *op, const size_t *idx, size_t s, double *C);
/* Bytes an operator of this mode would hold for n points (the kernel for
 * DENSE, caches and one tile's scratch for MATRIX_FREE). */
size_t ntk_op_mem_bytes(const ntk_kernel_desc *desc, size_t n, ntk_op_mode mode, size_t mem_limit);

/* Bytes of scratch the empirical kernel uses for K (n1, n2) (n2 = 0: the
 * symmetric (n1, n1) block) under mem_limit, the output excluded; SIZE_MAX
 * if no tile fits. */
size_t ntk_kernel_empirical_scratch_bytes(size_t m, size_t n1, size_t n2, double c1, double c2,
                                          size_t mem_limit);

/* trace_factor: √(Tr Σ²/d); pass 1 for isotropic data. quad_order 0: default. */
ntk_status ntk_constants_compute(ntk_act act, double trace_factor, int quad_order,
                                 ntk_constants *out);
/* √(Tr Σ̂²/d) of the sample covariance of X (n,d), after rescaling Σ̂ to
 * Tr Σ̂ = d (so isotropic data give ≈ 1 plus a d/n bias). */
ntk_status ntk_trace_factor(const double *X, size_t n, size_t d, double *out);

/* Feature maps of Hu et al. 2020, docs/theory.md §4.3, scaled by α:
 *   layer 1: ψ1(x) = α/√d [ζx ; ν]                       Psi (n, d+1)
 *   layer 2: ψ2(x) = α [ζx/√d ; ν/√(2d) ; ϑ0 + ϑ1(‖x‖/√d−1) + ϑ2(‖x‖/√d−1)²]
 *                                                        Psi (n, d+2)   */
ntk_status ntk_lin_features(const ntk_constants *c, double alpha, int layer,
                            const double *X, size_t n, size_t d, double *Psi);
/* The inputs as the features expect them for a network with this config:
 * Xr = X·√d/s (the network sees only x/s, and ψ is written for s = √d).
 * X and Xr are (n, cfg->d); Xr may be X. */
void ntk_lin_inputs(const ntk_net_config *cfg, const double *X, size_t n, double *Xr);

/* ======================================================================
 * Spectra and distances (src/spectrum.c)
 * ==================================================================== */

/* Eigen-decomposition of symmetric K (n,n) (dsyevd): evals ascending (n);
 * evecs (n,n) row-major with eigenvector k in column k, or NULL for values
 * only. Checks symmetry to a relative 1e-8 first. */
ntk_status ntk_eigh(const double *K, size_t n, double *evals, double *evecs);

typedef struct {
    double lmin, lmax, cond;   /* cond = lmax / lmin (Inf if lmin <= 0) */
} ntk_spectrum_summary;
ntk_status ntk_spectrum_summary_of(const double *K, size_t n, ntk_spectrum_summary *out);

typedef struct {
    double op, fro;            /* ‖A − B‖_op, ‖A − B‖_F */
    double rel_op, rel_fro;    /* divided by ‖B‖_op, ‖B‖_F */
} ntk_kernel_dist;
/* Distances between symmetric A and B (n,n); B is the reference. */
ntk_status ntk_kernel_distance(const double *A, const double *B, size_t n,
                               ntk_kernel_dist *out);
/* ‖K^{-1/2} K_N K^{-1/2} − I‖_op (Montanari and Zhong 2022; docs/theory.md §8.1); K must be positive
 * definite. */
ntk_status ntk_normalized_distance(const double *K, const double *KN, size_t n, double *out);

/* ======================================================================
 * Closed-form kernel gradient descent (src/kgd.c), docs/theory.md §6
 * u(t) − y = (I − c·η K)^t (u(0) − y), c = ntk_loss_scale; flow: exp(−c η t K).
 * ==================================================================== */

typedef struct ntk_kgd ntk_kgd;
/* How the predictions' functions of K are applied to r0 = y − u0:
 *   EIG     K = QΛQᵀ once (dsyevd): exact, O(n³) time and ~3n² doubles;
 *   KRYLOV  Lanczos with full reorthogonalisation from r0: k <= min(n, 600)
 *           products K·v (dsymv), an n×k basis kept, k chosen by an error
 *           estimate over t in [0, t_max] (src/kgd.c); K is not needed
 *           after create;
 *   AUTO    EIG for n <= 2000, KRYLOV above. */
typedef enum { NTK_KGD_AUTO = 0, NTK_KGD_EIG, NTK_KGD_KRYLOV } ntk_kgd_method;
/* Kernel GD settings. */
typedef struct {
    double lr;                /* η; multiplies K (1 when K already holds η1Θ1 + η2Θ2) */
    ntk_loss_kind loss;       /* c = 1/n (mean) or 1 (sum) */
    ntk_kgd_method method;    /* AUTO, EIG or KRYLOV */
    double t_max;             /* KRYLOV: the largest t (steps, or time for flow) that will
                                 be predicted; the Krylov dimension is chosen for accuracy
                                 on [0, t_max] and later t are refused (NTK_ERR_ARG). 0:
                                 every t >= 0, which on ill-conditioned or rank-deficient
                                 kernels (K⁺r0 as t → ∞) can need many more products.
                                 EIG ignores it. */
    size_t outputs;           /* k, the columns of Y (n,k), U0 (n,k) and of every prediction
                                 (0 or 1: vectors); K acts on each column */
    int flow;                 /* 1: only gradient-flow predictions will be asked for */
    int allow_unstable;       /* 1: accept GD with c·lr·λ_max > 2, whose modes above
                                 λ = 2/(c·lr) grow as |1 − c·lr·λ|^t; 0 (default): such a
                                 rate is refused at creation (flow = 0) or at the first GD
                                 prediction (flow = 1) with NTK_ERR_ARG */
    size_t krylov_kmax;       /* KRYLOV: most Lanczos vectors kept (n·k_max doubles); 0:
                                 NTK_KGD_KRYLOV_KMAX. A smaller basis bounds the memory;
                                 if the stopping rule is not met by then, ntk_kgd_info
                                 reports the error estimate reached */
} ntk_kgd_config;
/* lr 1, mean loss, AUTO, no horizon, GD, unstable rates refused. */
ntk_kgd_config ntk_kgd_config_default(void);
/* K (n,n) symmetric (read during create only), y (n), u0 (n) the
 * predictions at t = 0. Caller owns. */
ntk_status ntk_kgd_create(const double *K, size_t n, const double *y, const double *u0,
                          const ntk_kgd_config *cfg, ntk_kgd **out);
/* The same on a kernel operator's products (src/operator.c): KRYLOV (AUTO
 * picks EIG only for a stored kernel of at most NTK_KGD_EIG_MAX_N points).
 * The operator is used during create only; test predictions then come from
 * ntk_kgd_predict_cross with the same operator. */
ntk_status ntk_kgd_create_op(ntk_op *op, const double *y, const double *u0,
                             const ntk_kgd_config *cfg, ntk_kgd **out);
void ntk_kgd_free(ntk_kgd *g);
/* Eigenvalues of K (n, ascending), owned by g; NULL for KRYLOV (no full
 * spectrum: use ntk_kgd_extremes). */
const double *ntk_kgd_evals(const ntk_kgd *g);
/* λ_min and λ_max of K (either pointer may be NULL). EIG: exact (*exact = 1).
 * KRYLOV: the extreme Ritz values θ_min >= λ_min and θ_max <= λ_max, with
 * *exact = 0 unless k = n. θ_max converges fast and matches λ_max when r0 has
 * a component along the top eigenvector (it is stopped only after its Ritz
 * residual is below 1e-8·θ_max); θ_min is only an upper bound on λ_min. */
ntk_status ntk_kgd_extremes(const ntk_kgd *g, double *lmin, double *lmax, int *exact);
/* The method used, the basis size k (n for EIG) and the estimated error of
 * the predictions on [0, t_max] relative to ‖y − u0‖₂ (0 for EIG or an exact
 * Krylov space; KRYLOV targets 1e-10 and reports more when it stopped at
 * its basis cap, +Inf when the cap came before a second estimate). Any
 * output may be NULL. */
ntk_status ntk_kgd_info(const ntk_kgd *g, ntk_kgd_method *method, size_t *k, double *err_est);
/* Training predictions u(t) (n, outputs); t is a step count, or a time when
 * flow = 1. */
ntk_status ntk_kgd_predict_train(const ntk_kgd *g, double t, int flow, double *u);
/* Test predictions: F_test(t) = F0_test + K_test · h_t(K) (Y − U0) (nt, outputs),
 * h_t(λ) = (1 − (1 − cηλ)^t)/λ (flow: (1 − e^{−cηλt})/λ), with K_test (nt,n)
 * the test×train kernel (scaled like K) and F0_test (nt, outputs) or NULL
 * (zeros). */
ntk_status ntk_kgd_predict_test(const ntk_kgd *g, double t, int flow, const double *K_test,
                                size_t nt, const double *f0_test, double *f_test);

/* Test predictions through the operator's cross block: F_test (nt, outputs)
 * = F0_test + K(Xt, X) h_t(K) (Y − U0), K(Xt, X) never stored. */
ntk_status ntk_kgd_predict_cross(const ntk_kgd *g, double t, int flow, ntk_op *op,
                                 const double *Xt, size_t nt, const double *f0_test,
                                 double *f_test);

/* Kernel ridge regression: alpha_out (n,k) = (λI + K)^{-1} Y for targets Y
 * (n,k) (k = 1: a vector y), by one Cholesky factorisation (dposv);
 * predictions are K_test · alpha_out. */
ntk_status ntk_kernel_ridge(const double *K, size_t n, const double *y, size_t k, double ridge,
                            double *alpha_out);

/* Kernel ridge regression on a kernel operator by preconditioned conjugate
 * gradients (src/ridge_cg.c): A (n,k) = (K + ridge·I)⁻¹ Y, K stored or
 * matrix-free, with a Nyström preconditioner built from a randomly pivoted
 * Cholesky factor of rank precond_rank. Each column stops when its true
 * relative residual ‖y_j − (K + ridge·I)a_j‖₂/‖y_j‖₂ is at most rtol; the
 * error of a_j is then at most rtol·‖y_j‖₂/(λ_min(K) + ridge). */
typedef struct {
    double rtol;              /* relative residual to reach (default 1e-8) */
    size_t max_iter;          /* operator products allowed (default 1000) */
    size_t precond_rank;      /* rank of the preconditioner; 0 (default): none */
    uint64_t seed;            /* the pivots' random draws */
    const volatile int *cancel;  /* set to stop (NTK_ERR_INTERRUPTED); may be NULL */
    const struct ntk_nystrom *precond;  /* a preconditioner built once (ntk_nystrom_create),
                                 used instead of precond_rank; NULL: built per call */
} ntk_cg_config;
ntk_cg_config ntk_cg_config_default(void);
/* The Nyström preconditioner of an operator from a randomly pivoted
 * Cholesky factor of the given rank (O(n·rank) memory, rank columns of K):
 * build it once for several ridges or targets. Caller owns. */
typedef struct ntk_nystrom ntk_nystrom;
ntk_status ntk_nystrom_create(ntk_op *op, size_t rank, uint64_t seed, ntk_nystrom **out);
void ntk_nystrom_free(ntk_nystrom *p);
/* The directions kept (the factor's numerical rank). */
size_t ntk_nystrom_rank(const ntk_nystrom *p);
typedef struct {
    size_t iterations;        /* operator products in the iteration */
    double residual;          /* the true relative residual at the end, max over columns */
    size_t precond_rank;      /* the directions the preconditioner keeps (its factor's
                                 numerical rank) */
    double precond_trace_err; /* trace(K − F Fᵀ) of that factor */
    int restarts;             /* restarts from the true residual */
} ntk_cg_info;
/* Y (n,k) and A (n,k) must not overlap. NTK_ERR_NOCONV when max_iter
 * products leave a column above rtol (A holds the last iterate, info the
 * residual reached); info may be NULL. */
ntk_status ntk_kernel_ridge_op(ntk_op *op, const double *Y, size_t k, double ridge,
                               const ntk_cg_config *cfg, double *A, ntk_cg_info *info);
/* Randomly pivoted Cholesky (Chen, Epperly, Tropp and Webber 2023; src/rpchol.c):
 * F (n, rank), row-major, with K ≈ F Fᵀ and K − F Fᵀ positive
 * semi-definite, from rank columns of K sampled by the residual diagonal.
 * Stops early once trace(K − F Fᵀ) <= rtol·trace(K); *rank_out columns are
 * filled (the rest zero) and *trace_err (may be NULL) is the final trace. */
ntk_status ntk_op_rpcholesky(ntk_op *op, size_t rank, double rtol, uint64_t seed, double *F,
                             size_t *rank_out, double *trace_err);

/* ======================================================================
 * Side-by-side runs (src/run.c, src/model_*.c, src/flow.c), docs/theory.md §1, §4–§7
 * The network and its surrogates, trained from the same θ0 on the same data
 * with the same rates:
 *   nn          the network;
 *   linearized  the first-order Taylor model at θ0, GD in parameter space;
 *   lin         Hu et al.'s linear model on ψ1 / ψ2 / both (blocks scaled by
 *               √η1, √η2), from f(θ0);
 *   ntk         closed-form kernel GD with η1Θ1 + η2Θ2 at θ0;
 *   ntk_inf     the same with η1Θ1∞ + η2Θ2∞.
 * ==================================================================== */

enum {
    NTK_MODEL_NN = 1u << 0,
    NTK_MODEL_LINEARIZED = 1u << 1,
    NTK_MODEL_LIN = 1u << 2,
    NTK_MODEL_NTK = 1u << 3,
    NTK_MODEL_NTK_INF = 1u << 4,
    NTK_MODEL_ALL = 31u
};
#define NTK_NMODELS 5
/* "nn", "linearized", "lin", "ntk", "ntk_inf" for model index 0..4. */
const char *ntk_model_name(int index);
/* Comma-separated list ("nn,linearized,ntk-inf"; '-' and '_' both accepted,
 * "all") to a bit mask. */
ntk_status ntk_models_parse(const char *list, unsigned *mask);

typedef struct {
    ntk_net_config net;
    ntk_gd_config gd;
    unsigned models;          /* NTK_MODEL_* bits; nn is always included */
    int flow;                 /* 1: gradient flow; t counts time, not steps */
    double flow_rtol;         /* ODE tolerance (relative and absolute), default 1e-6 */
    size_t kernel_every;      /* logged NTK drift every this many log points (0: never) */
    size_t kernel_subsample;  /* training points used for the drift (0: all) */
    int flips;                /* 1: track activation flips (piecewise-linear φ) */
    int quad_order;           /* Gauss–Hermite order for Θ∞ and constants (0: default) */
    size_t mem_limit;         /* bytes for kernel tiles (0: default) */
    double trace_factor;      /* √(Tr Σ²/d) for ν; 0: estimate from the training inputs */
    double t_max;             /* last time the run will reach (sizes the Krylov kernel
                                 models for n > NTK_KGD_EIG_MAX_N); 0: unbounded */
    ntk_op_mode kernel_operator;  /* the ntk and ntk_inf models' kernels: AUTO (default)
                                 stores K when it fits (mem_limit, else the available
                                 memory) and goes matrix-free otherwise; DENSE,
                                 DENSE_F32 or MATRIX_FREE force one (src/model_kernel.c) */
} ntk_run_config;

/* Defaults: all models, GD, rtol 1e-6, kernel drift at every 10th log point
 * on up to NTK_KERNEL_SUBSAMPLE points, flips tracked. */
ntk_run_config ntk_run_config_default(ntk_net_config net, ntk_gd_config gd);

/* Bytes a run on n train and nt test points needs: every allocation larger
 * than a few KiB that stays during the run, plus the largest temporary one. */
size_t ntk_run_mem_bytes(const ntk_run_config *cfg, size_t n, size_t nt);

/* The data of a run, borrowed: they must outlive it. */
typedef struct {
    const double *X, *y;             /* training inputs (n,d), targets (n) */
    size_t n;
    const double *X_test, *y_test;   /* test inputs (n_test,d), targets (n_test); NULL when 0 */
    size_t n_test;
} ntk_run_data;

typedef struct ntk_run ntk_run;
/* Set up every model at t = 0. W0/v0: initial weights, or NULL to draw them
 * from cfg->net. At depth (ntk_net_is_deep) W0 with v0 NULL is θ0, the flat
 * parameters (ntk_net_nparams values), the only way to give them; the
 * models are nn, linearized, ntk and ntk-inf (lin is refused). Caller owns. */
ntk_status ntk_run_create(const ntk_run_config *cfg, const ntk_run_data *data, const double *W0,
                          const double *v0, ntk_run **out);
void ntk_run_free(ntk_run *run);

/* Data-parallel runs (the MPI build, docs/scaling.md §6.4). Every process
 * holds the whole data set and makes the run with ntk_run_create_part on
 * its own contiguous block of training rows [row0, row0 + nrows) of data
 * (the test set stays whole on every process); the models are nn,
 * linearized and, under gradient descent, ntk and ntk-inf through the
 * caller's kernel operator (ntk_run_set_kernel_ops below). Then, on every
 * process, ntk_run_set_reduce(run, reduce, ctx, data->n): from then on the run sums over the processes through
 * reduce (which must replace buf by its sum over the processes and return
 * the same status on all of them): the network's loss and gradient at every
 * evaluation (ntk_trainer_set_reduce), the linearized model's gradient and
 * loss at every step or right-hand side (P + 1 values), and at every logged
 * row one array of sums (each model's squared residuals, accuracy hits and
 * gap to the network, the flips, the kernel drift; 19 values). The
 * first points' quantities (the kernel drift, ntk_run_theory_get,
 * ntk_run_beta_estimate) are computed by the process with row0 = 0 from the
 * whole set and handed to the others through the same sum. So every call
 * that advances, measures or asks for the theory is collective, and each
 * returns the same status and numbers on every process: those of one run on
 * all rows up to the order of the sums. ntk_run_predictions gives this
 * process's training rows. A run made by ntk_run_create and given a reduce
 * with n_total above its rows holds its rows alone: it may train (nn,
 * linearized, flips) but not measure the drift or the theory. The run is
 * evaluated again at θ0 inside (every process must call it), right after
 * the creation only. */
ntk_status ntk_run_create_part(const ntk_run_config *cfg, const ntk_run_data *data, size_t row0,
                               size_t nrows, const double *W0, const double *v0, ntk_run **out);
ntk_status ntk_run_set_reduce(ntk_run *run, ntk_reduce_fn reduce, void *ctx, size_t n_total);
/* The kernel models of a data-parallel run (docs/scaling.md §6.4). A run
 * made by ntk_run_create_part may have the models ntk and ntk-inf under
 * gradient descent (not flow): each then descends step by step on this
 * process's rows, u += c·K(Y − u), G += c(Y − u) from u = the network's
 * outputs at θ0 (0 when centred) and G = 0, with K the run's kernel
 * (ntk_run_kernel_desc) applied by the caller's operator:
 *   apply(ctx, U_loc, k, V_loc)   V_loc (nloc, k) = this process's rows of
 *                                 K·U, U given by its rows U_loc (nloc, k);
 *   cross(ctx, X, n, U_loc, k, F) F (n, k) = K(X, X_train)·U on inputs X
 *                                 (n, d) that every process holds whole;
 *                                 F whole on every process;
 * both collective (every process calls them in the same order: the run's
 * models step and log in a fixed order) and returning the same status on
 * every process. Test predictions and ntk_run_predict_at are f0 + cross(G).
 * ops (copied) must be set on every process for each kernel model that is
 * on (model 3: ntk, 4: ntk_inf) before the run moves or measures; ctx must
 * outlive the run. */
typedef struct {
    ntk_status (*apply)(void *ctx, const double *U_loc, size_t k, double *V_loc);
    ntk_status (*cross)(void *ctx, const double *X, size_t n, const double *U_loc, size_t k,
                        double *F);
    void *ctx;
} ntk_kernel_ops;
ntk_status ntk_run_set_kernel_ops(ntk_run *run, int model, const ntk_kernel_ops *ops);
/* The kernel of the run's kernel model ntk (inf = 0: empirical at θ0) or
 * ntk_inf (inf = 1), its layers weighted by their rates; what it points to
 * (θ0, the weights) lives as long as the run. */
ntk_status ntk_run_kernel_desc(const ntk_run *run, int inf, ntk_kernel_desc *desc);
/* Move every model to time t (a step count for GD, a time for flow); t must
 * not decrease. NTK_ERR_DIVERGED if the network's loss or weights become
 * non-finite (the state before the failing step is kept).
 * NTK_ERR_INTERRUPTED when the cancel flag is set: with GD the run stops
 * after the current step (ntk_run_time says where; every model is there);
 * with flow every model goes back to where this call started. */
ntk_status ntk_run_advance(ntk_run *run, double t);
/* A flag the caller sets (from a signal handler, another thread) to stop
 * ntk_run_advance within one step; NULL: never. The run reads it, never
 * writes it; it must outlive the run. */
void ntk_run_set_cancel(ntk_run *run, const volatile int *flag);
double ntk_run_time(const ntk_run *run);

/* Metrics at the current time, one value per column (NaN: not measured,
 * e.g. a model that is off or the kernel drift between kernel steps).
 * ntk_run_columns gives the names; with_kernel = 1 also measures the NTK
 * drift and λ_min now. NTK_ERR_DIVERGED when a model's loss is not finite. */
size_t ntk_run_ncolumns(const ntk_run *run);
const char *ntk_run_column(const ntk_run *run, size_t k);
ntk_status ntk_run_metrics(ntk_run *run, int with_kernel, double *row);

/* Predictions of a model (index 0..4) at the current time: train (n) and
 * test (nt), either may be NULL. NTK_ERR_ARG if the model is off. */
ntk_status ntk_run_predictions(ntk_run *run, int model, double *f_train, double *f_test);
/* Predictions of a model at the current time on any inputs X (n, d) -> f (n):
 * the network, its linearization and Hu et al.'s model evaluated there, the
 * kernel models through the cross kernel K(X, X_train). */
ntk_status ntk_run_predict_at(ntk_run *run, int model, const double *X, size_t n, double *f);
const ntk_net *ntk_run_net(const ntk_run *run);

/* Theory at t = 0 (docs/theory.md §7). At depth (docs/depth.md) the
 * two-layer quantities D_bound, flip_bound_D, beta_bound, horizon_T and the
 * alpha_condition built on beta_bound are NaN; the spectra, the stable rate,
 * the envelope and weight_bound hold at any depth, and
 * ntk_run_alpha_condition with ntk_run_beta_estimate (power iteration: a
 * lower estimate of Lip(J_h)) gives the α condition there. */
typedef struct {
    /* spectra of the trained-layer kernel Θ(0) and of Θ∞ (unweighted) */
    double ntk_lmin, ntk_lmax, inf_lmin, inf_lmax;
    double jac_smin, jac_smax;     /* σ(J0) = √λ(Θ(0)) */
    double lr_max_stable;          /* 2/(c·λ_max(Θ(0))): largest common stable rate */
    double stability;              /* c·λ_max(η1Θ1 + η2Θ2) (< 2 is stable) */
    double envelope_rate;          /* c·λ_min(η1Θ1 + η2Θ2) */
    double loss0;                  /* training loss at t = 0 */
    /* Du et al. 2019 (§7.1) */
    double D_bound;                /* 4αVL1√q_max √n‖y − u(0)‖ / (√m λ_min(Θ1∞)) */
    double flip_bound_D;           /* min(1, 2D/√(2π)) */
    /* Chizat, Oyallon and Bach 2019 (§7.3, §7.4), for h = f/α with the sum loss */
    double beta_bound;             /* upper bound on Lip(J_h) (smooth φ), NaN otherwise */
    double alpha_condition;        /* 6β√(8σ_max² L0)/σ_min³ with β = beta_bound */
    double weight_bound;           /* 3√(8σ_max² L0)/(α σ_min²) */
    /* Hu et al. 2020 (§7.5) */
    double horizon_T;              /* d·log d / (c·n·η), η = η1 (η2 when η1 = 0): the
                                      horizon in the mean loss's units */
    double spectra_exact;          /* 1: λ's from full eigendecompositions; 0: upper
                                      bounds for λ_min (Krylov or a subset of points) */
} ntk_run_theory;
/* Computes the spectra (the largest cost of a run's set-up after the kernel
 * models); the loss envelope column is filled from then on. */
ntk_status ntk_run_theory_get(ntk_run *run, ntk_run_theory *out);
/* Empirical Lipschitz estimate ‖J(θ) − J(θ0)‖_op / ‖θ − θ0‖ for h = f/α on
 * the kernel subsample, at the current weights (NaN at θ = θ0). */
ntk_status ntk_run_beta_estimate(ntk_run *run, double *beta);
/* Chizat et al.'s α condition 6β√(8σ_max² L0)/σ_min³ for a given β (the
 * estimate, where the bound does not apply); NaN without σ_min > 0. */
double ntk_run_alpha_condition(const ntk_run *run, const ntk_run_theory *th, double beta);

/* ----------------------------------------------------------------------
 * The driver of a whole run (src/driver.c): every front end trains through it.
 * -------------------------------------------------------------------- */

typedef enum {
    NTK_RUN_COMPLETED = 0,
    NTK_RUN_DIVERGED,         /* a model's loss or weights became non-finite */
    NTK_RUN_INTERRUPTED,      /* the cancel flag was set */
    NTK_RUN_FAILED            /* any other error, or the row callback asked to stop */
} ntk_run_status;
/* "completed", "diverged", "interrupted", "failed" */
const char *ntk_run_status_name(ntk_run_status s);

/* Called with each logged row (ntk_run_ncolumns values, NaN: not measured).
 * Return nonzero to stop the run (status FAILED; the callback reports its
 * own reason). */
typedef int (*ntk_row_fn)(void *ctx, const ntk_run *run, const double *row);

typedef struct {
    double t_final;            /* the last step (GD: a whole number) or time (flow) */
    double t_every;            /* logging period; 0 and the last time are always logged */
    int theory;                /* 1: the theory at t = 0 and its checks (default) */
    const volatile int *cancel;  /* stop flag (also set on the run while executing) */
    const volatile int *hurry;   /* a second stop: skip the final computations */
    ntk_row_fn on_row;         /* may be NULL */
    void *ctx;
    const double *times;       /* NULL, or ntimes ascending times to log at instead of
                                  0, t_every, ..., t_final (GD: whole numbers) */
    size_t ntimes;
} ntk_schedule;
ntk_schedule ntk_schedule_default(double t_final, double t_every);

/* What happened, with the checks of the theory against the run. Every number
 * is NaN where it was not measured. */
typedef struct {
    ntk_run_status status;
    double t;                  /* time reached */
    double diverged_at;        /* GD: the step whose loss was not finite; flow: the target time */
    size_t rows;               /* rows logged */
    double seconds;            /* wall time of the loop */
    double loss0, loss_growth; /* the network's initial training loss, final/initial */
    ntk_run_theory theory;     /* at t = 0, when the schedule asked for it */
    double envelope_max_ratio; /* max over rows of loss / envelope (<= 1: the envelope held) */
    double R_max;              /* max_t max_r ‖w_r − w_r0‖ */
    double flip_max;           /* max flip fraction */
    double theta_max;          /* max ‖θ − θ0‖ over the trained layers */
    double gap_lin_at_T, time_at_T;  /* gap_lin_train at the first logged time >= T */
    double beta_estimate;      /* empirical Lip(J_h) at the end */
    double beta_used;          /* the bound where sup|φ''| is finite, the estimate otherwise */
    int beta_from_bound;       /* 1: beta_used is theory.beta_bound; 0: the estimate (relu,
                                  leaky relu: J_h jumps, the theorem's assumption fails) */
    double alpha_condition;    /* Chizat et al.'s condition with beta_used */
    const double *final_row, *max_row;  /* the last row and the column maxima,
                                           owned by the run until it is executed
                                           again or freed */
} ntk_run_report;

/* Log at t = 0, t_every, 2·t_every, ..., t_final, advancing every model in
 * between; NTK_OK when it completed, else the status of what stopped it
 * (NTK_ERR_DIVERGED, NTK_ERR_INTERRUPTED, ...) with the report filled in
 * all cases. The kernel drift is measured at every cfg.kernel_every-th row
 * and the last. */
ntk_status ntk_run_execute(ntk_run *run, const ntk_schedule *s, ntk_run_report *rep);

#ifdef __cplusplus
}
#endif
#endif /* NTKIT_H */
