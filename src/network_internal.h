/* The network's state and the pieces of its forward and backward passes
 * that the network, the passes and the trainer share (src/network.c,
 * src/forward.c, src/trainer.c). */
#ifndef NTK_NETWORK_INTERNAL_H
#define NTK_NETWORK_INTERNAL_H

#include "internal.h"

struct ntk_net {
    ntk_net_config cfg;
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

#endif
