/* The infinite-width NNGP and NTK of the deep network (docs/depth.md §4, §5):
 * the layer recursion of Jacot et al. 2018, Lee et al. 2019 and Arora et al.
 * 2019 on whole blocks of points, in both parameterisations, with a weight
 * per layer.
 *
 * NTK parameterisation. Σ_1 = σ_w² x·x'/s² + σ_b², and for l = 1..L, with
 * S_l = E[φ(u)φ(v)], D_l = E[φ'(u)φ'(v)] over (u, v) ~ N(0, Σ_l on {x, x'}),
 *   Σ_{l+1} = σ_w² S_l + σ_b²,   Σ̇_{l+1} = σ_w² D_l.
 * Layer l's share is Θ^{(l)} = α² P_l Π_{j=l+1}^{L+1} Σ̇_j with P_l = Σ_l,
 * and K = Σ_l w_l Θ^{(l)}; all w_l = 1 gives the NTK α²Θ_{L+1}
 * (Θ_1 = Σ_1, Θ_{l+1} = Θ_l Σ̇_{l+1} + Σ_{l+1}), w = (0, …, 0, 1) the NNGP
 * α² Σ_{L+1}. Accumulated as
 *   T_1 = w_1 P_1,   T_{l+1} = T_l Σ̇_{l+1} + w_{l+1} P_{l+1},   K = α² T_{L+1}.
 * Standard parameterisation (neural-tangents' convention, the large-width
 * limit at the given widths): the same Σ_l, Σ̇_l (the same function), with
 * P_1 = x·x' + [σ_b > 0] and P_{l+1} = m_l S_l + [σ_b > 0], each share the
 * NTK one's weight part divided by κ_l² and its bias part by σ_b².
 *
 * Work. Row blocks of R rows (the upper trapezoid of a symmetric block):
 * one GEMM gives x·x' for the block, then each layer is the elementwise pair
 * map of src/kernel_inf.c (closed forms in SLEEF blocks, or Gauss–Hermite;
 * quadrature.h) and one fused pass for T and Σ_{l+1}. The block stays in
 * cache through its L layers, and the scratch is 2·R·n2 doubles besides K.
 * Every entry needs Σ_l(x, x) and Σ_l(x', x') of its two points at every
 * layer: a diagonal recursion over each point set first (O(n·L)).
 *
 * Nearly parallel pairs. The first layer's covariance is a Gram of the
 * vectors x̃ = (x, σ_b s/σ_w), so its map takes the angle of such pairs from
 * them, as the two-layer kernel does. Deeper layers have no vectors: the
 * angle comes from ρ = Σ_l(x,x')/√(Σ_l(x,x)Σ_l(x',x')), and relu's and leaky
 * relu's Σ̇ lose about half their digits as ρ → 1 (error ≈ (1 − a)²/(2√2)
 * ·√|δρ|, about 1.5e-8 absolute for the δρ ≈ 16u the layers below leave;
 * src/kernel_inf.c "no vectors"). A point meets itself exactly: the diagonal
 * of a symmetric block and the diagonal recursion run the same operations
 * on the same numbers, and c = q = q' reads as ρ = 1, so K(x, x) has the
 * same bits in the full kernel and in k->diagonal mode (in a cross block
 * whose two sets share the point it agrees to rounding: its x·x' comes from
 * the GEMM). */
#include "deep_internal.h"
#include "quadrature.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* Entries per row block (2 MiB a matrix): C, D and the block of K stay in
 * the last-level cache through the block's L layers, and each block's
 * GEMM and threaded passes are long enough to pay for starting the
 * threads; at least DEEP_MIN_ROWS rows, so that the GEMM stays efficient
 * and the threads have rows to share. (Measured at n = 4000, d = 100 on
 * one and two threads: 2^18 and 64 against 2^15..2^20 and 16..64.) */
#define DEEP_BLOCK_ENTRIES ((size_t)1 << 18)
#define DEEP_MIN_ROWS 64

/* rows per block forced by the tests (0: the rule above); set between calls */
static size_t forced_rows = 0;
void kernel_deep_inf_block_rows(size_t rows) { forced_rows = rows; }

/* The recursion's constants (see the top of the file). */
typedef struct {
    size_t L;
    int std;                       /* standard parameterisation */
    double f1;                     /* σ_w²/s²: Σ_1 = f1·x·x' + σ_b² */
    double sw2, sb2;               /* σ_w², σ_b² */
    double bias;                   /* standard: [σ_b > 0], the bias gradient's Gram */
    double a2;                     /* α² */
    double w[NTK_MAX_DEPTH + 2];   /* w_l, l = 1..L+1 */
    double m[NTK_MAX_DEPTH + 1];   /* m_l, l = 1..L */
    int need_D[NTK_MAX_DEPTH + 1]; /* layer l's map needs D_l: some w_j ≠ 0, j ≤ l */
} recursion;

/* Layer 1 from G = x·x': Σ_1 into *sig, T_1 = w_1 P_1 returned. */
static inline double layer1(const recursion *r, double G, double *sig)
{
    double s1 = r->f1 * G + r->sb2;
    *sig = s1;
    return r->w[1] * (r->std ? G + r->bias : s1);
}

/* Layer l → l+1 from S_l, D_l: T updated, Σ_{l+1} returned. The same
 * operations for an entry of a block and for a point of the diagonal. */
static inline double layer_next(const recursion *r, size_t l, double S, double D, double *T)
{
    double next = r->sw2 * S + r->sb2;
    double P = r->std ? r->m[l] * S + r->bias : next;
    *T = r->need_D[l] ? *T * (r->sw2 * D) + r->w[l + 1] * P : r->w[l + 1] * P;
    return next;
}

/* One set of n points and its diagonal recursion: G (n) = x·x; for layers
 * l = 1..L, q_l = Σ_l(x, x) with √q_l and 1/√(½ + q_l) (layer l at
 * offset (l − 1)·n of q, sq, g); V the first layer's vectors (X itself, or
 * X with the column σ_b s/σ_w appended into Vown). */
typedef struct {
    size_t n, dv;
    const double *X, *V;
    double *G, *q, *sq, *g;
    double *Vown;
} point_set;

/* doubles a point set of n points needs (G, q, sq, g, and Vown when aug) */
static size_t set_doubles(size_t n, size_t d, size_t L, int aug)
{
    size_t per = 1 + 3 * L + (aug ? d + 1 : 0);
    return ntk_size_mul(n, per, 1, 1);
}

/* carves the set's arrays out of mem (set_doubles of them) */
static void set_init(point_set *p, const double *X, size_t n, size_t d, size_t L, double vcol,
                     int aug, double *mem)
{
    p->n = n;
    p->X = X;
    p->G = mem;
    p->q = mem + n;
    p->sq = p->q + n * L;
    p->g = p->sq + n * L;
    p->Vown = aug ? p->g + n * L : NULL;
    if (aug) {
        for (size_t i = 0; i < n; i++) {
            memcpy(p->Vown + i * (d + 1), X + i * d, d * sizeof(double));
            p->Vown[i * (d + 1) + d] = vcol;
        }
        p->V = p->Vown;
        p->dv = d + 1;
    } else {
        p->V = X;
        p->dv = d;
    }
}

/* Layer l's view of the points i0.. of a set (vectors at layer 1 only). */
static ntk_pair_pts set_pts(const point_set *p, size_t l, size_t i0)
{
    size_t o = (l - 1) * p->n + i0;
    ntk_pair_pts t = {p->q + o, p->sq + o, p->g + o, l == 1 ? p->V + i0 * p->dv : NULL};
    return t;
}

/* The diagonal recursion of a set: G, q_l, sq_l, g_l for every layer; Kd
 * (n) or NULL gets K(x, x). S, D, T are (n) scratch. */
static ntk_status set_diagonal(const recursion *r, const ntk_pair_map *pm, point_set *p,
                               size_t d, double *S, double *D, double *T, double *Kd)
{
    size_t n = p->n, L = r->L;
    for (size_t i = 0; i < n; i++) {
        p->G[i] = cblas_ddot((int)d, p->X + i * d, 1, p->X + i * d, 1);
        T[i] = layer1(r, p->G[i], p->q + i);
    }
    for (size_t l = 1; l <= L; l++) {
        double *ql = p->q + (l - 1) * n;
        ntk_pair_pts_fill(n, ql, p->sq + (l - 1) * n, p->g + (l - 1) * n);
        ntk_pair_pts pts = set_pts(p, l, 0);
        NTK_TRY(ntk_pair_map_diag(pm, &pts, n, S, r->need_D[l] ? D : NULL));
        double *qn = l < L ? ql + n : NULL;
        for (size_t i = 0; i < n; i++) {
            double next = layer_next(r, l, S[i], r->need_D[l] ? D[i] : 0.0, T + i);
            if (qn) qn[i] = next;
        }
    }
    if (Kd)
        for (size_t i = 0; i < n; i++) Kd[i] = r->a2 * T[i];
    return NTK_OK;
}

/* One row block: rows i0..i0+R−1 of set a against columns j0..j0+nc−1 of
 * set b (sym: b = a, j0 = i0, only k ≥ the row's own index). C, D (R, nc)
 * scratch; T the block of K (row stride ldk). Runs over rows in threads. */
typedef struct {
    const recursion *r;
    size_t l, nc, ldk, j0;
    int sym;
    double *C, *D, *T;
    const double *G1;   /* layer 1, sym: the rows' x·x (the diagonal's G) */
} block_job;

static void block_layer_rows(void *ctx, size_t r0, size_t r1)
{
    const block_job *b = ctx;
    const recursion *r = b->r;
    for (size_t i = r0; i < r1; i++) {
        size_t k0 = b->sym ? i : 0;
        double *Ci = b->C + i * b->nc, *Di = b->D + i * b->nc, *Ti = b->T + i * b->ldk;
        if (b->l == 0) {   /* layer 1 from the GEMM's x·x' */
            if (b->sym) Ci[i] = b->G1[i];   /* a point meets itself as on the diagonal */
            for (size_t k = k0; k < b->nc; k++) Ti[k] = layer1(r, Ci[k], Ci + k);
        } else {
            int nd = r->need_D[b->l];
            for (size_t k = k0; k < b->nc; k++)
                Ci[k] = layer_next(r, b->l, Ci[k], nd ? Di[k] : 0.0, Ti + k);
            if (b->l == r->L)   /* K = α² T */
                for (size_t k = k0; k < b->nc; k++) Ti[k] *= r->a2;
        }
    }
}

static ntk_status block(const recursion *r, const ntk_pair_map *pm, const point_set *a,
                        size_t i0, size_t R, const point_set *bset, size_t j0, size_t nc, int sym,
                        size_t d, double *C, double *D, double *T, size_t ldk)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)nc, (int)d, 1.0,
                a->X + i0 * d, (int)d, bset->X + j0 * d, (int)d, 0.0, C, (int)nc);
    block_job job = {r, 0, nc, ldk, j0, sym, C, D, T, a->G + i0};
    size_t grain = ntk_size_mul(nc, 4, 1, 1);
    ntk_parallel_for_grain(R, grain, block_layer_rows, &job);
    for (size_t l = 1; l <= r->L; l++) {
        ntk_pair_pts pa = set_pts(a, l, i0), pb = set_pts(bset, l, j0);
        NTK_TRY(ntk_pair_map_block(pm, &pa, R, &pb, nc, a->dv, sym, C, r->need_D[l] ? D : NULL));
        job.l = l;
        ntk_parallel_for_grain(R, grain, block_layer_rows, &job);
    }
    return NTK_OK;
}

// validates the description and the sizes; fills the recursion's constants
static ntk_status deep_setup(const ntk_kernel_desc *k, const double *X1, size_t n1, size_t n2,
                             const double *K, recursion *r, int *order)
{
    if (!k || !k->net)
        return ntk_set_error(NTK_ERR_ARG,
                             "deep infinite kernel: the description or its network is NULL");
    NTK_TRY(ntk_net_config_check(k->net));
    const ntk_net_config *cfg = k->net;
    if (!X1 || !K)
        return ntk_set_error(NTK_ERR_ARG,
                             "deep infinite kernel: X1 and the output K must not be NULL");
    if (cfg->d > INT_MAX || n1 > INT_MAX || n2 > INT_MAX)
        return ntk_set_error(NTK_ERR_ARG,
                             "deep infinite kernel: sizes above %d are not supported by BLAS",
                             INT_MAX);
    NTK_TRY(ntk_quad_order(k->quad_order, NTK_QUAD_DEFAULT_2D, order));
    memset(r, 0, sizeof *r);
    r->L = ntk_net_depth(cfg);
    r->std = cfg->parameterization == NTK_PARAM_STANDARD;
    double s = ntk_net_config_s(cfg);
    r->sw2 = cfg->weight_std * cfg->weight_std;
    r->sb2 = cfg->bias_std * cfg->bias_std;
    r->f1 = r->sw2 / (s * s);
    r->bias = cfg->bias_std > 0.0 ? 1.0 : 0.0;
    r->a2 = cfg->alpha * cfg->alpha;
    int any = 0;
    for (size_t l = 1; l <= r->L + 1; l++) {
        r->w[l] = kernel_layer_weight(k, l);
        if (!isfinite(r->w[l]))
            return ntk_set_error(NTK_ERR_ARG,
                                 "deep infinite kernel: the weight of layer %zu is %g; give "
                                 "finite layer weights (or c1, c2)",
                                 l, r->w[l]);
        if (l <= r->L) {
            r->m[l] = (double)ntk_net_width(cfg, l);
            any |= r->w[l] != 0.0;
            r->need_D[l] = any;
        }
    }
    if (!isfinite(r->f1) || !isfinite(r->sw2) || !isfinite(r->sb2) || !isfinite(r->a2))
        return ntk_set_error(NTK_ERR_ARG,
                             "deep infinite kernel: sigma_w^2, sigma_b^2 or alpha^2 overflows; "
                             "use smaller values");
    return NTK_OK;
}

/* The scratch of one call, in doubles (SIZE_MAX on overflow): the point
 * sets (set_doubles), the diagonal recursion's S, D, T (3 per point of the
 * larger set) and the block's C, D (2·R·n2); *rows gets R. n2 = 0: the
 * symmetric kernel of n1 points. */
static size_t scratch_doubles(const ntk_net_config *cfg, size_t n1, size_t n2, int diag,
                              size_t *rows)
{
    int sym = n2 == 0, aug = cfg->bias_std > 0.0;
    size_t d = cfg->d, L = ntk_net_depth(cfg), nc = sym ? n1 : n2;
    size_t R = nc ? DEEP_BLOCK_ENTRIES / nc : 0;
    if (R < DEEP_MIN_ROWS) R = DEEP_MIN_ROWS;
    if (forced_rows) R = forced_rows;
    if (R > n1) R = n1;
    if (diag) R = 0;
    if (rows) *rows = R;
    size_t nmax = n1 > n2 ? n1 : n2;
    size_t parts[4] = {set_doubles(n1, d, L, aug), sym ? 0 : set_doubles(n2, d, L, aug),
                       ntk_size_mul(nmax, 3, 1, 1), ntk_size_mul(R, nc, 2, 1)};
    size_t total = 0;
    for (int t = 0; t < 4; t++) total = total > SIZE_MAX - parts[t] ? SIZE_MAX : total + parts[t];
    return total;
}

size_t kernel_deep_infinite_scratch_bytes(const ntk_kernel_desc *k, size_t n1, size_t n2)
{
    return ntk_size_mul(scratch_doubles(k->net, n1, n2, k->diagonal, NULL), sizeof(double), 1, 1);
}

ntk_status kernel_deep_infinite(const ntk_kernel_desc *k, const double *X1, size_t n1,
                                const double *X2, size_t n2, double *K)
{
    recursion r;
    int order;
    NTK_TRY(deep_setup(k, X1, n1, X2 ? n2 : 0, K, &r, &order));
    if (k->diagonal && X2)
        return ntk_set_error(NTK_ERR_ARG, "kernel: the diagonal is of a symmetric kernel; pass "
                             "X2 = NULL");
    int sym = X2 == NULL, diag = k->diagonal;
    if (sym) n2 = n1;
    if (n1 == 0 || n2 == 0) return NTK_OK;
    const ntk_net_config *cfg = k->net;
    size_t d = cfg->d, L = r.L;
    int aug = cfg->bias_std > 0.0;

    /* memory, checked before anything is read or allocated */
    size_t R, nb = sym ? 0 : n2, nmax = n1 > nb ? n1 : nb;
    size_t total = scratch_doubles(cfg, n1, nb, diag, &R);
    size_t da = set_doubles(n1, d, L, aug), db = sym ? 0 : set_doubles(n2, d, L, aug);
    NTK_TRY(ntk_mem_check(ntk_size_mul(total, sizeof(double), 1, 1), 0,
                          "the deep infinite-width kernel's scratch"));

    double s = ntk_net_config_s(cfg);
    NTK_TRY(ntk_check_finite(X1, n1 * d, "X1"));
    NTK_TRY(ntk_check_input_scale(X1, n1, d, s, "X1"));
    if (!sym) {
        NTK_TRY(ntk_check_finite(X2, n2 * d, "X2"));
        NTK_TRY(ntk_check_input_scale(X2, n2, d, s, "X2"));
    }
    ntk_pair_map pm;
    NTK_TRY(ntk_pair_map_init(&pm, cfg->act, k->quadrature, order));
    double *mem = ntk_alloc(total, sizeof(double), "the deep infinite-width kernel's scratch");
    if (!mem) {
        ntk_pair_map_free(&pm);
        return NTK_ERR_NOMEM;
    }
    /* x̃ = (x, σ_b s/σ_w): σ_w²/s²·x̃·x̃' = Σ_1 */
    double vcol = cfg->bias_std * s / cfg->weight_std;
    point_set A, B;
    set_init(&A, X1, n1, d, L, vcol, aug, mem);
    if (!sym) set_init(&B, X2, n2, d, L, vcol, aug, mem + da);
    double *S = mem + da + db, *D = S + nmax, *T = D + nmax;
    double *C = T + nmax, *Dk = C + R * n2;

    ntk_status st = set_diagonal(&r, &pm, &A, d, S, D, T, diag ? K : NULL);
    if (st == NTK_OK && !sym) st = set_diagonal(&r, &pm, &B, d, S, D, T, NULL);
    const point_set *Bp = sym ? &A : &B;
    for (size_t i0 = 0; st == NTK_OK && !diag && i0 < n1; i0 += R) {
        size_t rows = n1 - i0 < R ? n1 - i0 : R;
        size_t j0 = sym ? i0 : 0, nc = n2 - j0;
        st = block(&r, &pm, &A, i0, rows, Bp, j0, nc, sym, d, C, Dk, K + i0 * n2 + j0, n2);
    }
    free(mem);
    ntk_pair_map_free(&pm);
    if (st != NTK_OK) return st;
    if (diag)
        return ntk_check_result(K, n1, 1, "the deep infinite-width kernel's diagonal",
                                "an entry overflows double precision; rescale the inputs, "
                                "sigma_w, sigma_b or alpha");
    if (sym) ntk_mirror(K, n1, 1);
    return ntk_check_result(K, n1, n2, "the deep infinite-width kernel",
                            "an entry overflows double precision; rescale the inputs, sigma_w, "
                            "sigma_b or alpha (or use fewer layers)");
}
