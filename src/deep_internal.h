/* Networks with L hidden layers and biases (docs/depth.md): the per-block
 * record of a forward and backward pass that the network (src/deep.c), its
 * empirical kernels (src/kernel_deep_emp.c) and its infinite-width kernels
 * (src/kernel_deep_inf.c) share.
 *
 * With κ_l = ntk_net_weight_factor(cfg, l) and β = ntk_net_bias_factor(cfg),
 *   h_1 = κ_1 W_1 x + β b_1,  a_l = φ(h_l),
 *   h_{l+1} = κ_{l+1} W_{l+1} a_l + β b_{l+1},  f = α h_{L+1}
 * (biases only when σ_b > 0), and for a row with seed r (1 for ∂f itself):
 *   δ_{L+1} = α r,  δ_l = φ'(h_l) ⊙ κ_{l+1} W_{l+1}ᵀ δ_{l+1},
 *   ∂/∂W_l = κ_l δ_l a_{l−1}ᵀ,  ∂/∂b_l = β δ_l. */
#ifndef NTK_DEEP_INTERNAL_H
#define NTK_DEEP_INTERNAL_H

#include "internal.h"

/* One row block (rows ≤ cap) of a pass: for l = 1..L+1 (index l; entry 0 of
 * H, D and G unused): H[l] (cap, m_l) pre-activations h_l, A[l] (cap, m_l)
 * φ(h_l) (l ≤ L; A[0] points at the block's inputs, not copied), D[l]
 * (cap, m_l) φ'(h_l) (l ≤ L), G[l] (cap, m_l) back-propagated signals δ_l.
 * The output layer (m_{L+1} = k outputs) has H[L+1] and G[L+1] only. */
typedef struct {
    size_t cap, L;
    double *H[NTK_MAX_DEPTH + 2];
    const double *A0;
    double *A[NTK_MAX_DEPTH + 2];
    double *D[NTK_MAX_DEPTH + 2];
    double *G[NTK_MAX_DEPTH + 2];
    double *mem;   /* one allocation behind all of them */
} deep_tape;

/* Bytes of a tape of cap rows. */
size_t deep_tape_bytes(const ntk_net_config *cfg, size_t cap);
ntk_status deep_tape_init(deep_tape *t, const ntk_net_config *cfg, size_t cap);
void deep_tape_free(deep_tape *t);
/* Forward pass of rows X (nb ≤ cap, d) at θ: H, A, D filled; f (nb) the
 * uncentred outputs (f may be NULL). */
void deep_tape_forward(deep_tape *t, const ntk_net_config *cfg, const double *theta,
                       const double *X, size_t nb, double *f);
/* Backward pass after deep_tape_forward: G[l] for every layer, with row i's
 * seed r[i] (r NULL: 1, the per-row ∂f/∂h_l). */
void deep_tape_backward(deep_tape *t, const ntk_net_config *cfg, const double *theta, size_t nb,
                        const double *r);
/* After deep_tape_forward on nb rows of a network of k outputs: the
 * signals δ_l of every output side by side, output o's from the seed e_o in
 * columns [o·m_l, (o+1)·m_l) of row i of Gs[l] (nb, k·m_l), for each l =
 * 1..L with Gs[l] not NULL; seed: scratch of nb·k doubles. (The mean
 * per-output kernel of docs/depth.md §1.7 is then (1/k)·Gs[l] Gs[l]ᵀ ⊙ ….) */
void deep_tape_signals(deep_tape *t, const ntk_net_config *cfg, const double *theta, size_t nb,
                       double *seed, double *const *Gs);
/* Rows per block for n points under about `budget` bytes of tape (at least 1). */
size_t deep_block_rows(const ntk_net_config *cfg, size_t n, size_t budget);

/* ntk_net_jvp and ntk_net_vjp without the final finite check: for the
 * linearized model, whose divergence the run detects from its loss. */
ntk_status deep_jvp_unchecked(const ntk_net_config *cfg, const double *theta, const double *X,
                              size_t n, const double *dtheta, double *out);
ntk_status deep_vjp_unchecked(const ntk_net_config *cfg, const double *theta, const double *X,
                              size_t n, const double *r, double *g);

/* The deep kernels behind ntk_kernel (same arguments and output layout;
 * k->diagonal: K (n1) = K_ii). */
ntk_status kernel_deep_empirical(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                 const double *X2, size_t n2, double *K);
ntk_status kernel_deep_infinite(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2, double *K);
/* Bytes of scratch kernel_deep_empirical uses for K (n1, n2) (n2 = 0: the
 * symmetric block) under mem_limit, the tape included and the output
 * excluded; SIZE_MAX when no tile fits. */
size_t kernel_deep_empirical_scratch_bytes(const ntk_kernel_desc *k, size_t n1, size_t n2,
                                           size_t mem_limit);
/* The weight w_l of layer l (1..L+1) in K = Σ_l w_l Θ_l (the layer_weights
 * rule of ntk_kernel_desc). */
double kernel_layer_weight(const ntk_kernel_desc *k, size_t l);

#endif
