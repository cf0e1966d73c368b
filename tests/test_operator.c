/* Kernel operators against the dense kernel computed by ntk_kernel: products
 * with blocks of vectors, the diagonal, the cross block to other points and
 * selected columns, for every source (empirical, infinite width, Hu et al.'s)
 * and every mode (dense float64, dense float32, matrix-free). */
#include "harness.h"
#include "internal.h"
#include "ntkit.h"

#include <cblas.h>
#include <float.h>

/* A product of the operator sums the same n (or m·d) terms as K·U with the
 * dense K, in another order and blocking: |V − K U| <= C·(n + m + d)·ε·(|K| |U|)
 * entrywise, with |K| |U| the product of absolute values (the standard
 * bound for a dot product, with the sums behind each entry of K folded into
 * the length). Float32 storage adds the 2^-24 relative rounding of every
 * entry of K: 2^-24·(|K| |U|). */
#define C_ROUND 4.0

/* max over entries of |A − B| / S with S (rows,k) the bound's scale */
static double scaled_err(const double *A, const double *B, const double *S, size_t count)
{
    double e = 0.0;
    for (size_t i = 0; i < count; i++) {
        double r = fabs(A[i] - B[i]) / (S[i] > 0 ? S[i] : DBL_MIN);
        if (!(r <= e)) e = r;
    }
    return e;
}

/* S (rows,k) = |K| |U| for K (rows,n) */
static void abs_product(const double *K, const double *U, size_t rows, size_t n, size_t k, double *S)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < k; c++) {
            double s = 0.0;
            for (size_t j = 0; j < n; j++) s += fabs(K[i * n + j]) * fabs(U[j * k + c]);
            S[i * k + c] = s;
        }
}

static void check_operator(ntk_kernel_desc *kd, const double *X, size_t n, const double *Xt,
                           size_t nt, ntk_op_mode mode, size_t mem_limit, const char *what)
{
    const size_t k = 3, len = n + kd->net->m + kd->net->d;
    double *K = malloc(n * n * sizeof(double)), *Kt = malloc(nt * n * sizeof(double));
    double *U = malloc(n * k * sizeof(double)), *V = malloc(n * k * sizeof(double));
    double *R = malloc((n > nt ? n : nt) * k * sizeof(double)), *S = malloc((n > nt ? n : nt) * k * sizeof(double));
    double *F = malloc(nt * k * sizeof(double)), *D = malloc(n * sizeof(double));
    double *C = malloc(n * 4 * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 17);
    ntk_rng_normal_fill(&rng, U, n * k);
    CHECK_OK(ntk_kernel(kd, X, n, NULL, 0, K));
    CHECK_OK(ntk_kernel(kd, Xt, nt, X, n, Kt));
    ntk_op *op = NULL;
    CHECK_OK(ntk_op_create(kd, X, n, mode, mem_limit, &op));
    if (!op) goto out;
    CHECK(ntk_op_get_mode(op) == mode, "%s: mode %d", what, (int)ntk_op_get_mode(op));
    double tol = C_ROUND * (double)len * DBL_EPSILON + (mode == NTK_OP_DENSE_F32 ? 0x1p-24 : 0.0);
    /* products */
    CHECK_OK(ntk_op_apply(op, U, k, V));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)n, 1.0, K, (int)n, U,
                (int)k, 0.0, R, (int)k);
    abs_product(K, U, n, n, k, S);
    CHECK_LE(scaled_err(V, R, S, n * k), tol, "%s: K U", what);
    /* cross block */
    CHECK_OK(ntk_op_cross_apply(op, Xt, nt, U, k, F));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nt, (int)k, (int)n, 1.0, Kt, (int)n,
                U, (int)k, 0.0, R, (int)k);
    abs_product(Kt, U, nt, n, k, S);
    CHECK_LE(scaled_err(F, R, S, nt * k), C_ROUND * (double)len * DBL_EPSILON, "%s: K(Xt, X) U", what);
    /* diagonal */
    CHECK_OK(ntk_op_diag(op, D));
    double de = 0.0, ds = 0.0;
    for (size_t i = 0; i < n; i++) de = fmax(de, fabs(D[i] - K[i * n + i])), ds = fmax(ds, fabs(K[i * n + i]));
    CHECK_LE(de, C_ROUND * (double)len * DBL_EPSILON * ds, "%s: diagonal", what);
    /* columns */
    size_t idx[4] = {0, n / 3, n / 2, n - 1};
    CHECK_OK(ntk_op_columns(op, idx, 4, C));
    double ce = 0.0, cs = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 4; j++) {
            ce = fmax(ce, fabs(C[i * 4 + j] - K[i * n + idx[j]]));
            cs = fmax(cs, fabs(K[i * n + idx[j]]));
        }
    CHECK_LE(ce, (tol + C_ROUND * (double)len * DBL_EPSILON) * cs, "%s: columns", what);
    ntk_op_free(op);
out:
    free(K), free(Kt), free(U), free(V), free(R), free(S), free(F), free(D), free(C);
}

static void test_operators(void)
{
    const size_t n = 57, nt = 13, d = 6, m = 35;
    double *X = malloc(n * d * sizeof(double)), *Xt = malloc(nt * d * sizeof(double));
    ntk_rng rng;
    ntk_rng_seed(&rng, 3);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, Xt, nt * d);
    ntk_kernel_source srcs[] = {NTK_KERNEL_EMPIRICAL, NTK_KERNEL_INFINITE, NTK_KERNEL_LIN};
    ntk_op_mode modes[] = {NTK_OP_DENSE, NTK_OP_DENSE_F32, NTK_OP_MATRIX_FREE};
    ntk_act_kind acts[] = {NTK_ACT_RELU, NTK_ACT_ERF};
    for (size_t a = 0; a < 2; a++) {
        ntk_net_config cfg = ntk_net_config_default(d, m);
        cfg.act.kind = acts[a];
        cfg.alpha = 0.8;
        ntk_net *net = NULL;
        CHECK_OK(ntk_net_create(&cfg, &net));
        for (size_t si = 0; si < 3; si++)
            for (size_t mi = 0; mi < 3; mi++)
                for (int w = 0; w < 3; w++) {
                    ntk_kernel_desc kd = ntk_kernel_desc_default(srcs[si], &cfg);
                    kd.W = ntk_net_W0(net), kd.v = ntk_net_v0(net);
                    kd.c1 = w == 2 ? 0.0 : 1.5, kd.c2 = w == 1 ? 0.0 : 0.5;
                    kd.trace_factor = 1.0;
                    char what[96];
                    snprintf(what, sizeof what, "%s %s %s w%d", ntk_act_name(acts[a]),
                             ntk_kernel_source_name(srcs[si]), ntk_op_mode_name(modes[mi]), w);
                    /* a small memory limit forces several tiles (and no feature cache) */
                    check_operator(&kd, X, n, Xt, nt, modes[mi], mi == 2 ? 20000 : 0, what);
                }
        ntk_net_free(net);
    }
    free(X), free(Xt);
}

/* AUTO picks the stored kernel when it fits and matrix-free when it does
 * not; a given matrix multiplies but has no cross block. */
static void test_modes(void)
{
    const size_t n = 40, d = 3;
    double X[40 * 3], K[40 * 40], U[40], V[40];
    ntk_rng rng;
    ntk_rng_seed(&rng, 5);
    ntk_rng_normal_fill(&rng, X, n * d);
    ntk_rng_normal_fill(&rng, U, n);
    ntk_net_config cfg = ntk_net_config_default(d, 8);
    ntk_kernel_desc kd = ntk_kernel_desc_default(NTK_KERNEL_INFINITE, &cfg);
    ntk_op *op = NULL;
    CHECK_OK(ntk_op_create(&kd, X, n, NTK_OP_AUTO, 1 << 20, &op));
    CHECK(op && ntk_op_get_mode(op) == NTK_OP_DENSE, "AUTO with room: dense");
    ntk_op_free(op);
    CHECK_OK(ntk_op_create(&kd, X, n, NTK_OP_AUTO, 8000, &op));
    CHECK(op && ntk_op_get_mode(op) == NTK_OP_MATRIX_FREE, "AUTO without room: matrix-free");
    ntk_op_free(op);
    CHECK_ERR(ntk_op_create(&kd, X, n, NTK_OP_DENSE, 8000, &op), NTK_ERR_NOMEM);
    CHECK(strstr(ntk_errmsg(), "GiB") != NULL, "%s", ntk_errmsg());
    CHECK_OK(ntk_kernel(&kd, X, n, NULL, 0, K));
    CHECK_OK(ntk_op_from_matrix(K, n, &op));
    CHECK_OK(ntk_op_apply(op, U, 1, V));
    CHECK_ERR(ntk_op_cross_apply(op, X, n, U, 1, V), NTK_ERR_ARG);
    ntk_op_free(op);
    K[1] += 1.0;   /* not symmetric */
    CHECK_ERR(ntk_op_from_matrix(K, n, &op), NTK_ERR_ARG);
    ntk_op_mode md;
    CHECK_OK(ntk_op_mode_parse("matrix-free", &md));
    CHECK(md == NTK_OP_MATRIX_FREE, "parse");
    CHECK_ERR(ntk_op_mode_parse("sparse", &md), NTK_ERR_ARG);
}

int main(void)
{
    test_operators();
    test_modes();
    return t_finish();
}
