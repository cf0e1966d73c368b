/* The network's state and the pieces of its forward and backward passes
 * that the network, the passes and the trainer share (src/network.c,
 * src/forward.c, src/trainer.c). */
#ifndef NTK_NETWORK_INTERNAL_H
#define NTK_NETWORK_INTERNAL_H

#include "internal.h"
#include "deep_internal.h"

/* One allocation of 2P doubles: θ then θ0. For the two-layer network
 * θ = [W (m,d), v (m)], so W, v, W0, v0 point into it; at depth
 * (ntk_net_is_deep) W = θ and W0 = θ0 (W_1 first), v = v0 = NULL. */
struct ntk_net {
    ntk_net_config cfg;
    size_t P;          /* ntk_net_nparams */
    double *theta, *theta0;
    double *W, *v;     /* current weights (m,d), (m) */
    double *W0, *v0;   /* initial weights */
};

/* Scratch of the passes over row blocks of X: Z (B,m), φ(Z) (B,m), the
 * residuals of the block (B); B is about 2 MiB of Z, at least 32 rows. */
typedef struct {
    size_t rows;       /* block capacity B */
    double *Z;         /* (B,m): pre-activations, then φ'(Z), then G = φ'(Z) ⊙ r vᵀ */
    double *A;         /* (B,m): φ(Z) */
    double *r;         /* (B): residuals of the block */
} scratch;

ntk_status net_scratch_init(scratch *s, size_t n, size_t m);
void net_scratch_free(scratch *s);
/* rows per block of n points at width m */
size_t net_block_rows(size_t n, size_t m);
/* NTK_OK if cfg is valid, W, v, X are given, n > 0 and X is finite. */
ntk_status net_check_args(const ntk_net_config *cfg, const double *W, const double *v,
                          const double *X, size_t n);
/* Loss at (W, v) on (X, y) with caller scratch; f (n) gets the outputs (minus
 * f0 when f0 is not NULL); gW, gv (NULL: not computed) the gradients. */
double net_loss_grad_ws(const ntk_net_config *cfg, const double *W, const double *v,
                        const double *X, const double *y, size_t n, ntk_loss_kind loss,
                        const double *f0, scratch *s, double *f, double *gW, double *gv);

/* ‖θ_l − θ0_l‖² of each layer l = 1..L+1 into lay2[l−1] (W_l and b_l);
 * returns the largest squared move of one hidden unit's incoming weights (a
 * row of W_l, l ≤ L, without its bias). Any depth. */
double net_layer_dist2(const ntk_net *net, double *lay2);

/* The deep passes over n points (src/deep.c): a tape of deep_block_rows
 * rows under about 16 MiB, the block's residuals r, a column of ones, the
 * block's outputs fb (cap each). */
typedef struct {
    deep_tape t;
    double *r, *ones, *fb;
} deep_ws;
size_t deep_ws_bytes(const ntk_net_config *cfg, size_t n);
ntk_status deep_ws_init(deep_ws *w, const ntk_net_config *cfg, size_t n);
void deep_ws_free(deep_ws *w);
/* Loss at θ on (X, y) (any configuration, through the tape); f (n, NULL:
 * not kept) the outputs minus f0 (NULL: none); g (P, NULL: not computed)
 * ∇_θ L, with the layers l where train[l−1] == 0 set to 0 and not computed
 * (train NULL: every layer). Returns the loss. */
/* ntk_net_jvp and ntk_net_vjp on a workspace made by deep_ws_init: no
 * allocation and no checks, for loops that call them every step (the
 * linearized model); non-finite values pass through. */
void deep_jvp_ws(const ntk_net_config *cfg, const double *theta, const double *X, size_t n,
                 const double *dtheta, double *out, deep_ws *w);
void deep_vjp_ws(const ntk_net_config *cfg, const double *theta, const double *X, size_t n,
                 const double *r, double *g, deep_ws *w);
double deep_loss_grad_ws(const ntk_net_config *cfg, const double *theta, const double *X,
                         const double *y, size_t n, ntk_loss_kind loss, const double *f0,
                         deep_ws *w, double *f, double *g, const int *train);

#endif
