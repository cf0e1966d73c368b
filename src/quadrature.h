/* Gauss–Hermite quadrature for Gaussian expectations (docs/theory.md §3, §4).
 * Private to the library: used by kernel_inf.c, kernel_deep_inf.c and
 * constants.c. */
#ifndef NTK_QUADRATURE_H
#define NTK_QUADRATURE_H

#include "internal.h"

#define NTK_QUAD_DEFAULT_2D 64    /* ntk_kernel_infinite{,_quad}: order 0 */
#define NTK_QUAD_DEFAULT_1D 200   /* ntk_constants_compute: order 0 */
#define NTK_QUAD_MAX 4096         /* largest accepted order */

/* order 0 -> dflt; anything outside [2, NTK_QUAD_MAX] -> NTK_ERR_ARG. */
ntk_status ntk_quad_order(int order, int dflt, int *out);

/* x, w are (order): nodes ascending, weights summing to 1, so that
 * E[f(g)] ≈ Σ_i w_i f(x_i) for g ~ N(0,1). Golub–Welsch nodes; no caching,
 * so it is safe to call from any thread. */
ntk_status ntk_gauss_hermite(int order, double *x, double *w);

/* Tensor-product rule for the pair expectations of docs/theory.md §3,
 *   Σ = E[φ(u)φ(u')],  Σ' = E[φ'(u)φ'(u')],  (u,u') ~ N(0, [[q,c],[c,q']]),
 * with u = √q g1, u' = √q'(ρ g1 + √(1−ρ²) g2). One allocation holds every
 * array; set_row caches the g1 side so that a pair costs order² evaluations. */
typedef struct {
    ntk_act act;
    size_t N;                 /* nodes kept (negligible weights dropped) */
    double *x, *w;            /* (N) nodes and weights */
    double *row_phi, *row_dphi;   /* (N) w_a φ(√q x_a), w_a φ'(√q x_a) */
    double *z, *phi, *dphi;   /* (N) scratch for the g2 side */
    double *block;            /* the single allocation */
} ntk_gauss2;

ntk_status ntk_gauss2_init(ntk_gauss2 *g, ntk_act act, int order);
/* A second workspace with src's rule (one per thread). */
ntk_status ntk_gauss2_copy(ntk_gauss2 *dst, const ntk_gauss2 *src);
void ntk_gauss2_free(ntk_gauss2 *g);
/* Fix q = ‖x‖²/s² of the first argument. */
void ntk_gauss2_set_row(ntk_gauss2 *g, double q);
/* Σ and Σ' for the current row against q' = q2 at angle θ, given as
 * rho = cos θ and sin_t = sin θ ≥ 0. Either output may be NULL to skip it. */
void ntk_gauss2_pair(ntk_gauss2 *g, double q2, double rho, double sin_t, double *Sigma,
                     double *dSigma);

/* ---- The pair maps of src/kernel_inf.c, for the deep recursion ----------
 * (src/kernel_deep_inf.c, docs/depth.md). For each pair,
 *   S = E[φ(u)φ(u')],  D = E[φ'(u)φ'(u')],  (u,u') ~ N(0, [[q,c],[c,q']]),
 * by the closed forms of relu, leaky relu, erf and identity (the SLEEF block
 * path at the width ntk_act_simd_get chooses, the libm path for flagged
 * entries) or by the tensor Gauss–Hermite rule above (other activations, or
 * force_quad): exactly the Σ, Σ' that ntk_kernel_infinite combines into
 * its K, entry by entry. Nearly parallel pairs (|ρ| > 1 − 10⁻⁴) take the
 * angle from the points' vectors when given, else from ρ = c/√(qq') with
 * |1 − |ρ|| ≤ 4ε read as exactly parallel; kernel_inf.c documents the
 * accuracy of both. */
typedef struct {
    ntk_act act;
    int use_quad, order;   /* quadrature (order resolved by ntk_quad_order) */
    ntk_gauss2 rule;       /* use_quad: the rule, copied per thread */
} ntk_pair_map;

/* One set of points: q (n) the variances, sq = √q and g = 1/√(½ + q)
 * (ntk_pair_pts_fill), V (n, dv) or NULL vectors whose Gram is c up to a
 * positive factor (the inputs at the first layer), for the angle. */
typedef struct {
    const double *q, *sq, *g;
    const double *V;
} ntk_pair_pts;

ntk_status ntk_pair_map_init(ntk_pair_map *pm, ntk_act act, int force_quad, int order);
void ntk_pair_map_free(ntk_pair_map *pm);
void ntk_pair_pts_fill(size_t n, const double *q, double *sq, double *g);
/* C (n1, n2) holds c on entry and S on return; D (n1, n2) or NULL gets
 * E[φ'φ']. sym: the columns continue the rows' points (column k is row k's
 * point for k < n1; n2 ≥ n1) and only the entries k ≥ i of C and D are read
 * and written (a symmetric block's upper triangle, or a row block's upper
 * trapezoid). Vectors are used only when both sets have them. Threads over
 * rows; each entry computed alone. */
ntk_status ntk_pair_map_block(const ntk_pair_map *pm, const ntk_pair_pts *p1, size_t n1,
                              const ntk_pair_pts *p2, size_t n2, size_t dv, int sym, double *C,
                              double *D);
/* Each point with itself (c = q; no vectors needed: ρ reads as 1): S (n),
 * D (n) or NULL. The same values as the diagonal of a symmetric block whose
 * diagonal c equals q, bit for bit. S must not alias p->q. */
ntk_status ntk_pair_map_diag(const ntk_pair_map *pm, const ntk_pair_pts *p, size_t n, double *S,
                             double *D);

/* src/kernel_deep_inf.c, for the tests: rows per row block forced to `rows`
 * (0: chosen from the sizes), process-wide, set between computations only. */
void kernel_deep_inf_block_rows(size_t rows);
/* src/kernel_deep_inf.c: bytes of scratch kernel_deep_infinite allocates for
 * K (n1, n2) (n2 = 0: the symmetric kernel of n1 points; k->diagonal: the
 * diagonal), besides K itself; SIZE_MAX on overflow. For planners such as
 * ntk_kernel_write_npy and the tiled operators: about
 * 8·(n1 + n2)·(1 + 3L + [σ_b > 0](d + 1)) + 16·max(2^18, 64·n2) bytes. */
size_t kernel_deep_infinite_scratch_bytes(const ntk_kernel_desc *k, size_t n1, size_t n2);

#endif
