/* The one kernel entry point, ntk_kernel: each source against the function
 * behind it, the diagonal against the diagonal of the full kernel, and the
 * description's validation. */
#include "harness.h"
#include "internal.h"
#include "ntkit.h"

#include <float.h>

/* The diagonal is computed by other code (one pass over the points for the
 * empirical kernel, 1 × 1 kernels otherwise) from the same terms: the full
 * kernel's K_ii sums the same m (or d + 2) products in another blocking, so
 * they agree to C·(m + d)·ε relative to the largest K_ii. */
#define C_ROUND 4.0

static void test_diagonal(void)
{
    const size_t n = 23, d = 7, m = 40;
    double X[23 * 7], K[23 * 23], D[23];
    ntk_rng rng;
    ntk_rng_seed(&rng, 4);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_act_kind acts[] = {NTK_ACT_RELU, NTK_ACT_ERF, NTK_ACT_GELU};
    ntk_kernel_source srcs[] = {NTK_KERNEL_EMPIRICAL, NTK_KERNEL_INFINITE, NTK_KERNEL_LIN};
    for (size_t a = 0; a < 3; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act.kind = acts[a];
        cfg.alpha = 1.3;
        ntk_net *net = NULL;
        CHECK_OK(ntk_net_create(&cfg, &net));
        for (size_t si = 0; si < 3; si++) {
            for (int layer = 0; layer < 3; layer++) {
                ntk_kernel_desc k = ntk_kernel_desc_default(srcs[si], &cfg);
                k.c1 = layer == 2 ? 0.0 : 1.0;
                k.c2 = layer == 1 ? 0.0 : 0.7;
                k.W = ntk_net_W0(net);
                k.v = ntk_net_v0(net);
                k.trace_factor = 1.0;
                CHECK_OK(ntk_kernel(&k, X, n, NULL, 0, K));
                k.diagonal = 1;
                CHECK_OK(ntk_kernel(&k, X, n, NULL, 0, D));
                double err = 0.0, scale = 0.0;
                for (size_t i = 0; i < n; i++) {
                    err = fmax(err, fabs(D[i] - K[i * n + i]));
                    scale = fmax(scale, fabs(K[i * n + i]));
                }
                CHECK_LE(err, C_ROUND * (double)(m + d) * DBL_EPSILON * scale,
                         "%s %s layer %d: diagonal vs full", ntk_act_name(acts[a]),
                         ntk_kernel_source_name(srcs[si]), layer);
                k.diagonal = 1;
                CHECK_ERR(ntk_kernel(&k, X, n, X, n, D), NTK_ERR_ARG);
            }
        }
        ntk_net_free(net);
    }
}

/* Each source equals the function it dispatches to, bit for bit. */
static void test_dispatch(void)
{
    const size_t n = 11, n2 = 5, d = 4, m = 16;
    double X[11 * 4], Z[5 * 4], K[11 * 5], R[11 * 5];
    ntk_rng rng;
    ntk_rng_seed(&rng, 8);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, Z, n2 * d);
    ntk_net_config cfg = ntk_net_config_default(d, m);
    cfg.act.kind = NTK_ACT_TANH;
    ntk_net *net = NULL;
    CHECK_OK(ntk_net_create(&cfg, &net));
    ntk_kernel_desc k = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    k.W = ntk_net_W0(net), k.v = ntk_net_v0(net), k.c1 = 0.5, k.c2 = 2.0;
    CHECK_OK(ntk_kernel(&k, X, n, Z, n2, K));
    CHECK_OK(ntk_kernel_empirical(&cfg, k.W, k.v, X, n, Z, n2, 0.5, 2.0, 0, R));
    CHECK(memcmp(K, R, sizeof K) == 0, "empirical dispatch");
    k.source = NTK_KERNEL_INFINITE;
    CHECK_OK(ntk_kernel(&k, X, n, Z, n2, K));
    CHECK_OK(ntk_kernel_infinite(&cfg, X, n, Z, n2, 0.5, 2.0, 0, R));
    CHECK(memcmp(K, R, sizeof K) == 0, "infinite dispatch");
    k.quadrature = 1;
    CHECK_OK(ntk_kernel(&k, X, n, Z, n2, K));
    CHECK_OK(ntk_kernel_infinite_quad(&cfg, X, n, Z, n2, 0.5, 2.0, 0, R));
    CHECK(memcmp(K, R, sizeof K) == 0, "quadrature dispatch");
    /* invalid descriptions */
    k = ntk_kernel_desc_default(NTK_KERNEL_EMPIRICAL, &cfg);
    CHECK_ERR(ntk_kernel(&k, X, n, NULL, 0, K), NTK_ERR_ARG);   /* no weights */
    k.source = (ntk_kernel_source)7;
    CHECK_ERR(ntk_kernel(&k, X, n, NULL, 0, K), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel(NULL, X, n, NULL, 0, K), NTK_ERR_ARG);
    ntk_net_free(net);
}

int main(void)
{
    test_diagonal();
    test_dispatch();
    return t_finish();
}
