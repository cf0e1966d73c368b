/* Private helpers shared by the library's source files. */
#ifndef NTK_INTERNAL_H
#define NTK_INTERNAL_H

#include "ntkit.h"

#include <stdlib.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* malloc/calloc that set the error message on failure (count*elt checked). */
void *ntk_alloc(size_t count, size_t elt, const char *what);
void *ntk_calloc(size_t count, size_t elt, const char *what);

/* Run fn(ctx, i0, i1) over [0,count) split across ntk_get_threads() threads
 * (plain pthreads, joined before returning, so no thread spins afterwards
 * and competes with OpenBLAS). Small ranges run inline. */
typedef void (*ntk_range_fn)(void *ctx, size_t i0, size_t i1);
void ntk_parallel_for(size_t count, ntk_range_fn fn, void *ctx);
/* Same, where each index stands for `grain` units of work. */
void ntk_parallel_for_grain(size_t count, size_t grain, ntk_range_fn fn, void *ctx);

/* G (B,m) = S ⊙ r vᵀ (v NULL: ones; G may be S), threaded like the activations. */
void ntk_scale_rows_cols(double *G, const double *S, size_t B, size_t m, const double *r,
                         const double *v);

/* NTK_OK if K (n,n) is finite and symmetric to a relative 1e-8 (spectrum.c). */
ntk_status ntk_check_symmetric(const double *K, size_t n, const char *what);

/* NTK_ERR_NONFINITE naming `what`, the first bad entry of x (rows,cols) and
 * `fix`, if any entry is NaN or Inf: every number the library hands out is
 * checked with it. */
ntk_status ntk_check_result(const double *x, size_t rows, size_t cols, const char *what,
                            const char *fix);
/* NTK_ERR_NONFINITE if ‖x_i‖²/s² of a row of X (n,d) overflows. */
ntk_status ntk_check_input_scale(const double *X, size_t n, size_t d, double s, const char *what);

/* BLAS level-1 over counts of any size (the BLAS takes int counts): chunks
 * of at most NTK_BLAS_INT_MAX. */
double ntk_nrm2(size_t count, const double *x);
double ntk_dot(size_t count, const double *x, const double *y);
void ntk_axpy(size_t count, double a, const double *x, double *y);
void ntk_scal(size_t count, double a, double *x);

/* Bytes written in order by the output functions of src/fileio.c. */
typedef struct {
    const void *buf;
    size_t len;
} ntk_span;
/* Stage the spans as one file of the set (see ntk_outset_add). */
ntk_status ntk_outset_add_spans(ntk_outset *o, const char *path, const ntk_span *spans, int nspans);
/* One file written whole or not at all (ntk_write_file_atomic of the spans). */
ntk_status ntk_write_spans_atomic(const char *path, const ntk_span *spans, int nspans);

/* The thread count of one call: ntk_threads_enter(t) sets the OpenBLAS
 * threads to t when t > 0 and returns what to restore (0: nothing). */
int ntk_threads_enter(int threads);
void ntk_threads_leave(int saved);

/* K (n,n) symmetric from one triangle: the upper one copied onto the lower
 * (from_upper = 1) or the lower onto the upper (0), blocked and threaded. */
void ntk_mirror(double *K, size_t n, int from_upper);

/* The empirical kernels' tile plan (src/kernel_emp.c): scratch doubles of
 * row blocks bI and column blocks bJ with feat feature doubles a point and
 * pair tile doubles an entry, and the largest plan within budget doubles
 * (*bI = 0: not even a 64-point tile fits). */
size_t ntk_tile_scratch(size_t bI, size_t bJ, size_t feat, size_t pair, int row_scratch);
void ntk_tile_plan(size_t budget, size_t n1, size_t N2, size_t feat, size_t pair, int sym,
                   size_t *bI, size_t *bJ);

/* The vector width of the elementwise maps, chosen once per call from the
 * CPU by src/activation.c and shared by the kernel maps of src/kernel_inf.c:
 * 0 scalar, 1 SSE2, 2 AVX2, 3 AVX-512F. ntk_act_simd_set forces one (-1:
 * back to the widest; returns -1 if this CPU or build lacks it); it is
 * process-wide, for the tests and benchmarks, between computations only. */
int ntk_act_simd_get(void);
int ntk_act_simd_set(int level);
const char *ntk_act_simd_name(int level);

/* sup |φ'| and sup |φ''| over the real line (Inf for φ'' of the
 * piecewise-linear activations, a Dirac mass at the kink). */
void ntk_act_sup(ntk_act act, double *L1, double *L2);

/* The kernels behind ntk_kernel (src/kernel_emp.c, kernel_inf.c,
 * constants.c), with their arguments spelled out (for the tests). */
ntk_status ntk_kernel_empirical(const ntk_net_config *cfg, const double *W, const double *v,
                                const double *X1, size_t n1, const double *X2, size_t n2,
                                double c1, double c2, size_t mem_limit, double *K);
/* K_ii (n) of the empirical kernel, O(n·m·d). */
ntk_status ntk_kernel_empirical_diag(const ntk_net_config *cfg, const double *W, const double *v,
                                     const double *X, size_t n, double c1, double c2, double *K);
ntk_status ntk_kernel_infinite(const ntk_net_config *cfg, const double *X1, size_t n1,
                               const double *X2, size_t n2, double c1, double c2,
                               int quad_order, double *K);
ntk_status ntk_kernel_infinite_quad(const ntk_net_config *cfg, const double *X1, size_t n1,
                                    const double *X2, size_t n2, double c1, double c2,
                                    int quad_order, double *K);
/* K = c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ on inputs already on the √d scale. */
ntk_status ntk_kernel_lin(const ntk_constants *c, double alpha, const double *X1, size_t n1,
                          const double *X2, size_t n2, size_t d, double c1, double c2,
                          double *K);
/* ntk_kgd_create with the settings spelled out and flow predictions assumed
 * possible (an unstable GD rate is refused at the first GD prediction). */
ntk_status ntk_kgd_create_method(const double *K, size_t n, const double *y, const double *u0,
                                 double lr, ntk_loss_kind loss, ntk_kgd_method method,
                                 double t_max, ntk_kgd **out);
/* ntk_loss_grad with the batch and outputs spelled out. */
ntk_status ntk_loss_grad_args(const ntk_net_config *cfg, const double *W, const double *v,
                              const double *X, const double *y, size_t n, ntk_loss_kind loss,
                              const double *f0, double *loss_out, double *gW, double *gv,
                              double *f_out);

/* x (d) uniform on the unit sphere (src/rng.c). */
void ntk_rng_unit_vector(ntk_rng *rng, size_t d, double *x);

/* Return early with the status of a failing call. */
#define NTK_TRY(expr)                         \
    do {                                      \
        ntk_status ntk_try_st_ = (expr);      \
        if (ntk_try_st_ != NTK_OK) return ntk_try_st_; \
    } while (0)

/* ---------------------------------------------------------------------
 * The linearized network (src/model_linearized.c), docs/theory.md §5.1:
 *   f_lin(x; θ) = f0(x) + α/√m Σ_r [Δv_r φ(z_r0) + v_r0 φ'(z_r0) Δw_r·x/s]
 * Parameters p = [ΔW (m,d) row-major ; Δv (m)], stored with the model.
 * ------------------------------------------------------------------- */
typedef struct ntk_linz ntk_linz;
/* X (n,d), Xt (nt,d) borrowed; f0 (n), ft0 (nt) copied (model outputs at θ0). */
ntk_status ntk_linz_create(const ntk_net_config *cfg, const double *W0, const double *v0,
                           const double *X, size_t n, const double *Xt, size_t nt,
                           const double *f0, const double *ft0, ntk_linz **out);
void ntk_linz_free(ntk_linz *lz);
size_t ntk_linz_nparams(const ntk_linz *lz);
double *ntk_linz_params(ntk_linz *lz);
/* f (n or nt) at parameters p; test = 1 for the test inputs. */
void ntk_linz_predict(ntk_linz *lz, const double *p, int test, double *f);
/* Loss at p and its gradient g (nparams), for targets y (n). f (n) gets the
 * train predictions. */
double ntk_linz_loss_grad(ntk_linz *lz, const double *p, const double *y, ntk_loss_kind loss,
                          double *f, double *g);
size_t ntk_linz_mem_bytes(size_t n, size_t nt, size_t d, size_t m);

/* ---------------------------------------------------------------------
 * Adaptive ODE integration (src/flow.c): GSL's embedded Runge–Kutta
 * pairs with error control |err| <= rtol (|y| + 1): Prince–Dormand 8(9)
 * for a smooth right-hand side, Fehlberg 4(5) for one that jumps (the
 * relu and leaky relu networks, whose φ′ is discontinuous).
 * ------------------------------------------------------------------- */
typedef ntk_status (*ntk_rhs_fn)(void *ctx, double t, const double *y, double *dydt);
typedef struct ntk_ode ntk_ode;
/* smooth: 1 when f is smooth in y, 0 when it jumps across surfaces. */
ntk_status ntk_ode_create(size_t dim, double rtol, int smooth, ntk_rhs_fn f, void *ctx,
                          ntk_ode **out);
/* Integrate y from *t to t1; *t is updated. Returns the rhs's failure, or
 * NTK_ERR_DIVERGED when the integrator cannot meet the tolerance. */
ntk_status ntk_ode_advance(ntk_ode *ode, double *t, double t1, double *y);
/* Accepted steps since creation. */
size_t ntk_ode_nsteps(const ntk_ode *ode);
/* Forget the step size and history (after a failed or abandoned advance). */
void ntk_ode_reset(ntk_ode *ode);
void ntk_ode_free(ntk_ode *ode);

#endif
