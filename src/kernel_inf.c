/* Infinite-width kernels Θ1∞ = α² c Σ', Θ2∞ = α² Σ (docs/theory.md §3), by closed
 * forms for relu, leaky_relu, erf and identity and by Gauss–Hermite
 * quadrature for every other activation.
 *
 * Leaky relu, φ(u) = relu(u) − a·relu(−u), derived here and in agreement with
 * docs/theory.md §3. With J(θ) = (sin θ + (π − θ) cos θ)/(2π), which is
 * E[relu(u)relu(u')]/√(qq'): (−u,−u') has the law of (u,u') and (u,−u') has
 * angle π − θ, so, with J(π − θ) = (sin θ − θ cos θ)/(2π),
 *   Σ  = √(qq') [(1 + a²) J(θ) − 2a J(π − θ)],
 *   Σ' = (1 + a²) P(u>0,u'>0) + 2a P(u>0,u'<0) = (1 + a²)(π − θ)/(2π) + a θ/π.
 * a = 1 gives back the identity (Σ = c, Σ' = 1), a = 0 relu.
 *
 * ---- vector widths --------------------------------------------------------
 *
 * After the GEMM (or SYRK) of c = x·x'/s², the closed forms are an
 * elementwise map per entry, which costs more than the GEMM itself at
 * d = 784 and far more at d = 100 in scalar code. A row is mapped in blocks
 * of MAP_BLOCK entries: plain arithmetic in the compiler's generic vectors,
 * arccos (relu, leaky relu) or arcsin (erf) by SLEEF's vector functions
 * (Shibata and Petrogalli 2020), square roots by the instruction set's own
 * (correctly rounded, as libm's). The width is the one src/activation.c
 * chooses from the CPU at run time (ntk_act_simd_get: AVX-512F, AVX2 with
 * FMA, SSE2, or scalar), and ntk_act_simd_set switches both; "scalar" here
 * is the libm path entry by entry (kernel_entry), kept as the reference the
 * tests compare the vector widths against. The identity map has no
 * transcendental function and takes the scalar path at every width.
 *
 * The entries where the angle is ill-conditioned in ρ (|ρ| > 1 − NEAR_PARALLEL,
 * the angle then comes from the vectors) and those with a zero input
 * (√(qq') = 0) are flagged inside the block and recomputed by kernel_entry,
 * so they have the same bits at every width. Every other step of the
 * vector path is the same IEEE operation, in the same order, as in
 * kernel_entry; only arccos and arcsin differ. No contraction to FMA: the
 * project compiles with -std=c11 (GCC: -ffp-contract=off), and the pragma
 * below says the same to clang. Each entry's value depends only on its
 * q, q', c and the width (SLEEF's functions work lane by lane; a row's
 * short tail is padded to whole vectors), never on its position in a block
 * or on the thread count.
 *
 * ---- accuracy -------------------------------------------------------------
 *
 * Against the exact kernel of the rounded q, q', c, with u = 2^−53 and
 * ulp(y) ≤ 2u|y|. A transcendental function within U ulp: U = 3.5 for
 * SLEEF's u35 functions used here (documented bound), and we count U = 1
 * for libm's acos and asin (glibc's own tests find no error in its double
 * acos and asin; 1 ulp is what we assume of any libm).
 *
 *  ρ = c/(√q·√q'): 4 roundings, |ρ̂ − ρ| ≤ 4u|ρ| (clamping to [−1,1] only
 *    moves it closer). sin θ = √((1 − ρ)(1 + ρ)) within 2.5u of sin(acos ρ̂).
 *
 *  relu, leaky relu. θ̂ = acos(ρ̂) within U ulp: |θ̂ − θ| ≤ 4u/sin θ + 2πU·u.
 *    The first term is the conditioning of acos near ±1, 1/sin θ; it is
 *    below 283u because this path only sees |ρ| ≤ 1 − 10⁻⁴ (sin θ >
 *    0.01414), and beyond that the angle comes from the vectors. (The same
 *    1/sin θ multiplies the error of c itself, d products, which is why
 *    that branch exists.) Given ρ and sin θ, Σ/√(qq') and Σ' are affine in θ
 *    with slopes −ρ(1 − a)²/(2π) and −(1 − a)²/(2π), so an angle error δθ
 *    moves K by α²(1 − a)²(|c1 c| + |c2 c|)/(2π)·δθ. With
 *    W = α²(1 + |a|)²(|c1||c| + |c2|√(qq')), the roundings after θ add at
 *    most 4.5u·W (every intermediate, carried to K, is at most W: J and
 *    J(π − θ) lie in [0, ½], (π − θ)ρ and θρ in [−π, π]; 3.5u·W for Σ,
 *    2u·W for Σ', u·W for the four operations that combine them) and the
 *    rounded constants 1/π and 1/(2π) 0.5u·W more. In all
 *      |K̂ − K| ≤ α²(1 − a)²(|c1|+|c2|)|c|·(4u/sin θ + 2πU·u)/(2π) + 5u·W,
 *    of which SLEEF's share is U(1 − a)²·u·α²(|c1|+|c2|)|c| ≤ 3.5u·W.
 *
 *  erf. Σ = (2/π)·asin(arg) with arg = c·g·g', g = 1/√(½ + q) (the same
 *    as 2c/√((1+2q)(1+2q')), without overflow): 7u in arg,
 *    condition 1/√(1 − arg²) (large only when q and q' are both large and
 *    x ∥ x': 1 − arg² ≥ (1 + 2q + 2q')/((1+2q)(1+2q'))), and asin within U
 *    ulp: |Σ̂ − Σ| ≤ (2/π)(7u|arg|/√(1 − arg²) + πU·u) + u. Σ' has no
 *    transcendental function (two square roots and a division, as libm's).
 *
 *  Vector width against libm, entry by entry: every operation but the
 *    arccos or arcsin is the same, so the two differ by the two functions'
 *    errors (U_v + U_l ulp) carried through the affine map above and by the
 *    roundings after them, twice:
 *      relu, leaky: |K_vec − K_libm| ≤ u·α²(|c1|+|c2|)√(qq')
 *                                         ·[(1 − a)²(U_v + U_l) + 9(1 + |a|)²],
 *      erf:         |K_vec − K_libm| ≤ u·α²[2(U_v + U_l)|c2|
 *                                           + 8(|c1||c|Σ' + |c2|)],
 *    (|c| ≤ √(qq'), θ ≤ π, |asin| ≤ π/2, and for erf 4u(|c1 c Σ'| + |c2|)
 *    per path after arcsin: Σ, c2·Σ, the sum and α²). tests/test_kernel_inf.c
 *    checks these at every width this CPU runs, over random pairs, nearly
 *    parallel and antiparallel ones, zero inputs and norms from 1e-150 to
 *    1e150.
 *
 * ---- no vectors (the deep recursion, quadrature.h) --------------------------
 *
 * ntk_pair_map_block and ntk_pair_map_diag run the same rows, blocks and
 * entries in "raw" mode: Σ and Σ' themselves, not K. At a deep network's
 * layers l ≥ 2 (src/kernel_deep_inf.c) the covariance (q, q', c) has no
 * vectors behind it, so a nearly parallel pair takes θ = arccos ρ. With
 * |δρ| the error of ρ̂ (4u of its own roundings, the error that c, q, q'
 * bring from the layers below relative to √(qq'), and up to 8u more where
 * |ρ̂| ≥ 1 − 4ε is read as ±1, which makes a point with itself exactly
 * parallel: c/(√q·√q) misses 1 by up to 5u), arccos is Hölder-½:
 *   |arccos a − arccos b| ≤ (π/√2)·√|a − b|   (a, b ∈ [−1, 1]),
 * equality at a = 1, b = −1. Only leaky relu's and relu's Σ' feel it: it
 * is affine in θ with slope −(1 − a)²/(2π), so
 *   |δΣ'| ≤ (1 − a)²/(2√2)·√|δρ|,
 * about 1.5e-8·(1 − a)² at |δρ| = 16u, against Σ' ≈ (1 + a²)/2 near
 * ρ = 1: a relative 3e-8 for relu, which Θ_{l+1} = Θ_l Σ̇ + Σ carries on.
 * This is the function's own conditioning (Σ'(ρ) = ½ − √(2(1 − ρ))/(2π) + …
 * for relu), not the formula's. Σ is Lipschitz in ρ (slope ≤ (1 + |a|)²/2
 * times √(qq')), erf's Σ and Σ' do not use θ and depend on ρ through
 * qq' − c² = qq' sin²θ only (Lipschitz), and the quadrature's Σ, Σ' for
 * smooth φ are even in sin θ (a symmetric rule over g2), so functions of
 * sin²θ = 1 − ρ²: all lose no more than |δρ| times their slope. */
#include "quadrature.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF   /* the same rounding at every width */
#endif

#define TWO_OVER_PI 0.63661977236758134308  /* 2/π */
#define INV_PI 0.31830988618379067154       /* 1/π */
#define INV_2PI 0.15915494309189533577      /* 1/(2π) */

/* Everything a pair (x, x') needs: q, q', c, k = √(qq'), ρ = cos θ, sin θ, θ. */
typedef struct {
    double q1, q2, c, k, rho, sin_t, theta;
} pair_geom;

#define NEAR_PARALLEL 1e-4   /* |ρ| > 1 − this: take θ from the vectors */
/* Without vectors, |ρ| ≥ 1 − this is read as ±1: 4ε = 8u, above the ≤ 5u
 * by which c/(√q·√q') misses 1 when c = q = q' (one point with itself). */
#define SNAP_PARALLEL (4.0 * DBL_EPSILON)

/* x, y (d). θ between x and y from the unit vectors, accurate where arccos(ρ)
 * is not (θ ≈ √(2(1−ρ)) keeps half the digits of a rounded ρ):
 *   θ = 2 arcsin(‖x̂ − ŷ‖/2) (ρ > 0),  θ = π − 2 arcsin(‖x̂ + ŷ‖/2) (ρ < 0). */
static double angle_from_vectors(const double *x, const double *y, size_t d, double rho)
{
    double nx = 0.0, ny = 0.0;
    for (size_t k = 0; k < d; k++) {
        nx += x[k] * x[k];
        ny += y[k] * y[k];
    }
    nx = sqrt(nx);
    ny = sqrt(ny);
    if (nx == 0.0 || ny == 0.0) return acos(rho);   /* underflowed norms */
    double sgn = rho > 0 ? -1.0 : 1.0, dist2 = 0.0;
    for (size_t k = 0; k < d; k++) {
        double e = x[k] / nx + sgn * y[k] / ny;
        dist2 += e * e;
    }
    double half = 0.5 * sqrt(dist2);
    double t = 2.0 * asin(half < 1.0 ? half : 1.0);
    return rho > 0 ? t : M_PI - t;
}

/* x, y (d) with q1, q2, their square roots sq1, sq2 and c already known.
 * Zero inputs (k = 0): u ≡ 0, any angle will do; we take θ = π/2. ρ is
 * clamped to [−1,1] before arccos. need_theta = 0 (erf, quadrature): θ is
 * left at π/2 away from the near-parallel case, where nothing reads it.
 * x = y = NULL (the deep recursion's layers ≥ 2, which have a covariance but
 * no vectors): nearly parallel pairs take θ = arccos ρ, with |ρ| within
 * SNAP_PARALLEL of 1 read as exactly ±1 (see "no vectors" above). */
static pair_geom pair_geometry(const double *x, const double *y, size_t d, double q1, double q2,
                               double sq1, double sq2, double c, int need_theta)
{
    pair_geom p = {q1, q2, c, sq1 * sq2, 0.0, 1.0, 0.5 * M_PI};
    if (p.k == 0.0) return p;
    double rho = c / p.k;
    if (rho > 1.0) rho = 1.0;
    if (rho < -1.0) rho = -1.0;
    if (fabs(rho) > 1.0 - NEAR_PARALLEL && !x) {
        if (1.0 - fabs(rho) <= SNAP_PARALLEL) rho = rho > 0 ? 1.0 : -1.0;
        p.theta = acos(rho);
        p.rho = rho;
        p.sin_t = sqrt((1.0 - rho) * (1.0 + rho));
    } else if (fabs(rho) > 1.0 - NEAR_PARALLEL) {
        p.theta = angle_from_vectors(x, y, d, rho);
        p.rho = cos(p.theta);
        p.sin_t = sin(p.theta);
    } else {
        if (need_theta) p.theta = acos(rho);
        p.rho = rho;
        p.sin_t = sqrt((1.0 - rho) * (1.0 + rho));
    }
    return p;
}

/* Σ, Σ' of leaky relu with slope a (docs/theory.md §3, derivation above). Zero
 * inputs: k = 0 makes Σ = 0 and leaves Σ' bounded (it is multiplied by c = 0).
 * The vector path (closed_block) evaluates the same expressions. */
static void leaky_relu_closed(double a, const pair_geom *p, double *Sigma, double *dSigma)
{
    double th = p->theta;
    double J = (p->sin_t + (M_PI - th) * p->rho) * INV_2PI;   /* J(θ) */
    double Jm = (p->sin_t - th * p->rho) * INV_2PI;           /* J(π − θ) */
    *Sigma = p->k * ((1.0 + a * a) * J - 2.0 * a * Jm);
    *dSigma = (1.0 + a * a) * (M_PI - th) * INV_2PI + a * th * INV_PI;
}

/* erf (Williams 1997), docs/theory.md §3:
 *   Σ  = (2/π) arcsin(2c / √((1+2q)(1+2q'))),
 *   Σ' = (4/π) / √((1+2q)(1+2q') − 4c²),
 * the arcsin's argument written c·g·g' with g = 1/√(½ + q) (no overflow for
 * any finite q), the last denominator 1 + 2q + 2q' + 4qq' sin²θ
 * (qq' − c² ≥ 0). g1, g2 are 1/√(½ + q) of the two inputs. The vector path
 * (closed_block) evaluates the same expressions. */
static void erf_closed(const pair_geom *p, double g1, double g2, double *Sigma, double *dSigma)
{
    double arg = p->c * g1 * g2;
    if (arg > 1.0) arg = 1.0;
    if (arg < -1.0) arg = -1.0;
    double gap = p->k * p->sin_t;   /* √(qq' − c²) */
    *Sigma = TWO_OVER_PI * asin(arg);
    *dSigma = 2.0 * TWO_OVER_PI / sqrt(1.0 + 2.0 * p->q1 + 2.0 * p->q2 + 4.0 * gap * gap);
}

// 1 for the activations with a closed form in docs/theory.md §3
static int has_closed_form(ntk_act act)
{
    return act.kind == NTK_ACT_RELU || act.kind == NTK_ACT_LEAKY_RELU ||
           act.kind == NTK_ACT_ERF || act.kind == NTK_ACT_IDENTITY;
}

// validates the arguments of kernel_infinite and resolves the quadrature order
static ntk_status check_args(const ntk_net_config *cfg, const double *X1, size_t n1, size_t n2,
                             double c1, double c2, int quad_order, const double *K, int *order)
{
    if (!cfg)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: network configuration is missing");
    if (cfg->d == 0)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: input dimension d must be positive");
    if ((int)cfg->act.kind < 0 || cfg->act.kind >= NTK_ACT_COUNT)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: unknown activation %d",
                             (int)cfg->act.kind);
    if (!isfinite(cfg->act.param))
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: activation parameter must be finite");
    if (cfg->input_scale != NTK_SCALE_SQRT_D && cfg->input_scale != NTK_SCALE_ONE)
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: input scale must be sqrt_d or one");
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: output scale alpha must be positive and finite");
    if (!isfinite(c1) || !isfinite(c2))
        return ntk_set_error(NTK_ERR_ARG, "infinite kernel: coefficients c1, c2 must be finite");
    if (!X1 || !K)
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: X1 and the output K must not be NULL");
    if (cfg->d > INT_MAX || n1 > INT_MAX || n2 > INT_MAX)
        return ntk_set_error(NTK_ERR_ARG,
                             "infinite kernel: sizes above %d are not supported by BLAS", INT_MAX);
    return ntk_quad_order(quad_order, NTK_QUAD_DEFAULT_2D, order);
}

typedef struct map_job map_job;
/* Row i of the closed forms from column k0 on, at one vector width. */
typedef void (*row_fn)(const map_job *j, size_t i, size_t k0, double *Ki);

struct map_job {
    ntk_act act;
    double a2, c1, c2;
    int sym;
    const double *X1, *X2;
    /* per input: q = ‖x‖²/s², √q and g = 1/√(½ + q) */
    const double *q1, *q2, *sq1, *sq2, *g1, *g2;
    size_t n1, n2, d;
    const ntk_gauss2 *rule;   /* NULL: closed forms */
    row_fn row;               /* NULL: the closed forms entry by entry (libm) */
    double *K;
    atomic_int failed;        /* a worker could not allocate its workspace */
    /* raw = 1 (the deep recursion, ntk_pair_map_block): K gets Σ = E[φφ]
     * in place of c, and D (the same layout; NULL: not wanted) Σ' = E[φ'φ'];
     * a2, c1, c2 play no part. X1 = X2 = NULL: no vectors. */
    int raw;
    double *D;
};

/* Σ and Σ' of entry (i,k) with c = K_ik (either skipped by the quadrature
 * when its want_ flag is 0; it is then left at c or 1); g is NULL for the
 * closed forms, else a workspace whose row is set to q1[i]. */
static void pair_values(const map_job *j, ntk_gauss2 *g, size_t i, size_t k, double c,
                        int want_S, int want_dS, double *S, double *dS)
{
    size_t d = j->d;
    double Sigma = c, dSigma = 1.0;   /* identity: Σ = c, Σ' = 1, no geometry */
    if (g || j->act.kind != NTK_ACT_IDENTITY) {
        int need_theta = !g && j->act.kind != NTK_ACT_ERF;
        const double *x = j->X1 ? j->X1 + i * d : NULL, *y = j->X2 ? j->X2 + k * d : NULL;
        pair_geom p = pair_geometry(x, y, d, j->q1[i], j->q2[k], j->sq1[i], j->sq2[k], c,
                                    need_theta);
        if (g)
            ntk_gauss2_pair(g, p.q2, p.rho, p.sin_t, want_S ? &Sigma : NULL,
                            want_dS ? &dSigma : NULL);
        else if (j->act.kind == NTK_ACT_ERF)
            erf_closed(&p, j->g1[i], j->g2[k], &Sigma, &dSigma);
        else
            leaky_relu_closed(j->act.kind == NTK_ACT_RELU ? 0.0 : j->act.param, &p, &Sigma,
                              &dSigma);
    }
    *S = Sigma;
    *dS = dSigma;
}

/* Entry (i,k): c = x_i·x'_k/s² in, K = α²(c1·c·Σ' + c2·Σ) out; g is NULL for
 * the closed forms, else a workspace whose row is set to q1[i]. */
static double kernel_entry(const map_job *j, ntk_gauss2 *g, size_t i, size_t k, double c)
{
    double Sigma, dSigma;
    pair_values(j, g, i, k, c, j->c2 != 0.0, j->c1 != 0.0, &Sigma, &dSigma);
    // docs/theory.md §3.1: Θ1∞ = α² c Σ', Θ2∞ = α² Σ, K = c1Θ1∞ + c2Θ2∞
    double K1 = j->c1 != 0.0 ? j->c1 * c * dSigma : 0.0;
    double K2 = j->c2 != 0.0 ? j->c2 * Sigma : 0.0;
    return j->a2 * (K1 + K2);
}

/* Entry (i,k) in raw mode: K_ik = c in, Σ out, and Σ' into *dS. */
static void raw_entry(const map_job *j, ntk_gauss2 *g, size_t i, size_t k, double *Kik,
                      double *dS)
{
    double S, dSigma;
    pair_values(j, g, i, k, *Kik, 1, j->D != NULL, &S, &dSigma);
    *Kik = S;
    *dS = dSigma;
}

/* ---- the closed forms a block at a time (see "vector widths" above) ---- */

#define MAP_VEC 8       /* the widest vector, in doubles */
#define MAP_BLOCK 128   /* entries per block, a multiple of MAP_VEC */

/* Maps over n values, n a multiple of MAP_VEC: y[i] = f(x[i]) (y may be x);
 * clamp: y = min(max(x, −1), 1); flags: f[i] = 1 where k[i] = 0 or
 * |rho[i]| > 1 − NEAR_PARALLEL (the tests of pair_geometry), else 0, and
 * nonzero if any f[i] is. Comparisons are written with the instruction
 * set's own (the compilers lower comparisons of generic vectors wider than
 * the target's to scalar code). */
typedef void (*vmap)(size_t n, const double *x, double *y);
typedef int (*vflags)(size_t n, const double *k, const double *rho, double *f);
typedef struct {
    vmap acos, asin, sqrt, clamp;
    vflags flags;
} vmaps;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KINF_X86 1
#include <immintrin.h>
#include <sleef.h>

/* sleef.h declares the 256- and 512-bit functions only when the whole file
 * is compiled for AVX; these are the library's own symbols, called only
 * from functions compiled for their instruction set (as in activation.c). */
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
AVX2 __m256d Sleef_acosd4_u35avx2(__m256d);
AVX2 __m256d Sleef_asind4_u35avx2(__m256d);
AVX512 __m512d Sleef_acosd8_u35avx512f(__m512d);
AVX512 __m512d Sleef_asind8_u35avx512f(__m512d);

#define VEC_MAP(name, fn, attr, w, load, store)                               \
    attr static void name(size_t n, const double *x, double *y)               \
    {                                                                         \
        for (size_t i = 0; i < n; i += w) store(y + i, fn(load(x + i)));      \
    }
#define CLAMP_MAP(name, attr, w, T, load, store, set1, vmin, vmax)            \
    attr static void name(size_t n, const double *x, double *y)               \
    {                                                                         \
        const T one = set1(1.0), mone = set1(-1.0);                           \
        for (size_t i = 0; i < n; i += w)                                     \
            store(y + i, vmax(vmin(load(x + i), one), mone));                 \
    }
VEC_MAP(acos_2, Sleef_acosd2_u35sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(asin_2, Sleef_asind2_u35sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(sqrt_2, _mm_sqrt_pd, , 2, _mm_loadu_pd, _mm_storeu_pd)
CLAMP_MAP(clamp_2, , 2, __m128d, _mm_loadu_pd, _mm_storeu_pd, _mm_set1_pd, _mm_min_pd,
          _mm_max_pd)
VEC_MAP(acos_4, Sleef_acosd4_u35avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(asin_4, Sleef_asind4_u35avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(sqrt_4, _mm256_sqrt_pd, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
CLAMP_MAP(clamp_4, AVX2, 4, __m256d, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd,
          _mm256_min_pd, _mm256_max_pd)
VEC_MAP(acos_8, Sleef_acosd8_u35avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(asin_8, Sleef_asind8_u35avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(sqrt_8, _mm512_sqrt_pd, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
CLAMP_MAP(clamp_8, AVX512, 8, __m512d, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd,
          _mm512_min_pd, _mm512_max_pd)

static int flags_2(size_t n, const double *k, const double *rho, double *f)
{
    const __m128d zero = _mm_setzero_pd(), one = _mm_set1_pd(1.0), sign = _mm_set1_pd(-0.0);
    const __m128d thr = _mm_set1_pd(1.0 - NEAR_PARALLEL);
    __m128d any = zero;
    for (size_t i = 0; i < n; i += 2) {
        __m128d m = _mm_or_pd(_mm_cmpeq_pd(_mm_loadu_pd(k + i), zero),
                              _mm_cmpgt_pd(_mm_andnot_pd(sign, _mm_loadu_pd(rho + i)), thr));
        _mm_storeu_pd(f + i, _mm_and_pd(m, one));
        any = _mm_or_pd(any, m);
    }
    return _mm_movemask_pd(any);
}
AVX2 static int flags_4(size_t n, const double *k, const double *rho, double *f)
{
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d sign = _mm256_set1_pd(-0.0), thr = _mm256_set1_pd(1.0 - NEAR_PARALLEL);
    __m256d any = zero;
    for (size_t i = 0; i < n; i += 4) {
        __m256d r = _mm256_andnot_pd(sign, _mm256_loadu_pd(rho + i));
        __m256d m = _mm256_or_pd(_mm256_cmp_pd(_mm256_loadu_pd(k + i), zero, _CMP_EQ_OQ),
                                 _mm256_cmp_pd(r, thr, _CMP_GT_OQ));
        _mm256_storeu_pd(f + i, _mm256_and_pd(m, one));
        any = _mm256_or_pd(any, m);
    }
    return _mm256_movemask_pd(any);
}
AVX512 static int flags_8(size_t n, const double *k, const double *rho, double *f)
{
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d thr = _mm512_set1_pd(1.0 - NEAR_PARALLEL);
    __mmask8 any = 0;
    for (size_t i = 0; i < n; i += 8) {
        __mmask8 m = _mm512_cmp_pd_mask(_mm512_loadu_pd(k + i), zero, _CMP_EQ_OQ) |
                     _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_loadu_pd(rho + i)), thr, _CMP_GT_OQ);
        _mm512_storeu_pd(f + i, _mm512_maskz_mov_pd(m, one));
        any |= m;
    }
    return any;
}
static const vmaps maps_sse2 = {acos_2, asin_2, sqrt_2, clamp_2, flags_2};
static const vmaps maps_avx2 = {acos_4, asin_4, sqrt_4, clamp_4, flags_4};
static const vmaps maps_avx512 = {acos_8, asin_8, sqrt_8, clamp_8, flags_8};

/* The arithmetic, MAP_VEC values at a time in the compilers' generic
 * vectors (lowered to what the function's target has; +, −, ×, ÷ only, each
 * an IEEE operation, so the width does not change a value). */
typedef double vd __attribute__((vector_size(8 * MAP_VEC), aligned(8)));
#define LD(p) (*(const vd *)(const void *)(p))
#define ST(p, v) (*(vd *)(void *)(p) = (v))

/* One block of row i: columns k0 .. k0+len−1 (len ≤ MAP_BLOCK), c in
 * Ki[k0..] on entry and K on return; the flagged entries (zero input,
 * nearly parallel) by kernel_entry. */
static inline __attribute__((always_inline)) void
closed_block(const vmaps *V, const map_job *j, size_t i, size_t k0, size_t len, double *Ki)
{
    double cb[MAP_BLOCK], sqb[MAP_BLOCK], qb[MAP_BLOCK], gb[MAP_BLOCK], kb[MAP_BLOCK];
    double rb[MAP_BLOCK], sb[MAP_BLOCK], tb[MAP_BLOCK], ab[MAP_BLOCK], fb[MAP_BLOCK];
    double out[MAP_BLOCK], dout[MAP_BLOCK];
    const int erf = j->act.kind == NTK_ACT_ERF, raw = j->raw;
    const double a = j->act.kind == NTK_ACT_LEAKY_RELU ? j->act.param : 0.0;
    const double A1 = 1.0 + a * a, A2 = 2.0 * a;
    const double sq1 = j->sq1[i], g1 = j->g1[i], e1 = 1.0 + 2.0 * j->q1[i];
    const double c1 = j->c1, c2 = j->c2, a2 = j->a2;
    const vd zero = {0};
    size_t n = (len + MAP_VEC - 1) / MAP_VEC * MAP_VEC, e;
    /* the block's inputs in place, or a short tail copied and padded with a
     * harmless pair (c = 0, q' = 1) */
    const double *cp = Ki + k0, *sqp = j->sq2 + k0, *qp = j->q2 + k0, *gp = j->g2 + k0;
    if (n != len) {
        for (e = 0; e < len; e++) cb[e] = cp[e], sqb[e] = sqp[e], qb[e] = qp[e], gb[e] = gp[e];
        for (; e < n; e++) cb[e] = 0.0, sqb[e] = qb[e] = gb[e] = 1.0;
        cp = cb, sqp = sqb, qp = qb, gp = gb;
    }
    /* as pair_geometry: k = √q·√q', ρ = c/k clamped, the flags, sin θ */
    for (e = 0; e < n; e += MAP_VEC) {
        vd k = sq1 * LD(sqp + e);
        ST(kb + e, k);
        ST(rb + e, LD(cp + e) / k);
    }
    V->clamp(n, rb, rb);
    int flagged = V->flags(n, kb, rb, fb);
    for (e = 0; e < n; e += MAP_VEC) {
        vd rho = LD(rb + e);
        ST(tb + e, (1.0 - rho) * (1.0 + rho));
    }
    V->sqrt(n, tb, sb);
    if (erf) {   /* as erf_closed */
        for (e = 0; e < n; e += MAP_VEC) {
            ST(ab + e, LD(cp + e) * g1 * LD(gp + e));
            vd gap = LD(kb + e) * LD(sb + e);   /* √(qq') sin θ */
            ST(tb + e, e1 + 2.0 * LD(qp + e) + 4.0 * gap * gap);
        }
        V->clamp(n, ab, ab);
        V->asin(n, ab, ab);
        V->sqrt(n, tb, tb);
        if (raw)
            for (e = 0; e < n; e += MAP_VEC) {
                ST(out + e, TWO_OVER_PI * LD(ab + e));
                ST(dout + e, 2.0 * TWO_OVER_PI / LD(tb + e));
            }
        else
            for (e = 0; e < n; e += MAP_VEC) {
                vd c = LD(cp + e), S = TWO_OVER_PI * LD(ab + e);
                vd dS = 2.0 * TWO_OVER_PI / LD(tb + e);
                vd K1 = c1 != 0.0 ? c1 * c * dS : zero, K2 = c2 != 0.0 ? c2 * S : zero;
                ST(out + e, a2 * (K1 + K2));
            }
    } else {   /* as leaky_relu_closed */
        V->acos(n, rb, tb);   /* θ */
        for (e = 0; e < n; e += MAP_VEC) {
            vd c = LD(cp + e), k = LD(kb + e), rho = LD(rb + e), st = LD(sb + e);
            vd th = LD(tb + e);
            vd J = (st + (M_PI - th) * rho) * INV_2PI;
            vd Jm = (st - th * rho) * INV_2PI;
            vd S = k * (A1 * J - A2 * Jm);
            vd dS = A1 * (M_PI - th) * INV_2PI + a * th * INV_PI;
            if (raw) {
                ST(out + e, S);
                ST(dout + e, dS);
                continue;
            }
            vd K1 = c1 != 0.0 ? c1 * c * dS : zero, K2 = c2 != 0.0 ? c2 * S : zero;
            ST(out + e, a2 * (K1 + K2));
        }
    }
    if (flagged)
        for (e = 0; e < len; e++) {
            if (fb[e] == 0.0) continue;
            if (raw) {
                out[e] = cp[e];
                raw_entry(j, NULL, i, k0 + e, out + e, dout + e);
            } else {
                out[e] = kernel_entry(j, NULL, i, k0 + e, cp[e]);
            }
        }
    memcpy(Ki + k0, out, len * sizeof(double));
    if (raw && j->D) memcpy(j->D + i * j->n2 + k0, dout, len * sizeof(double));
}

static inline __attribute__((always_inline)) void
closed_row(const vmaps *V, const map_job *j, size_t i, size_t k0, double *Ki)
{
    for (size_t k = k0; k < j->n2; k += MAP_BLOCK)
        closed_block(V, j, i, k, j->n2 - k < MAP_BLOCK ? j->n2 - k : MAP_BLOCK, Ki);
}
static void row_sse2(const map_job *j, size_t i, size_t k0, double *Ki)
{
    closed_row(&maps_sse2, j, i, k0, Ki);
}
AVX2 static void row_avx2(const map_job *j, size_t i, size_t k0, double *Ki)
{
    closed_row(&maps_avx2, j, i, k0, Ki);
}
AVX512 static void row_avx512(const map_job *j, size_t i, size_t k0, double *Ki)
{
    closed_row(&maps_avx512, j, i, k0, Ki);
}
#endif

/* The row function of a width (ntk_act_simd_get's numbering), NULL for the
 * libm path: scalar, the identity, or a CPU other than x86-64. */
static row_fn closed_row_fn(ntk_act act, int level)
{
#ifdef KINF_X86
    if (act.kind == NTK_ACT_IDENTITY) return NULL;
    if (level == 3) return row_avx512;
    if (level == 2) return row_avx2;
    if (level == 1) return row_sse2;
#endif
    (void)act, (void)level;
    return NULL;
}

/* Rows p and n1−1−p for p in [p0,p1): pairing a long row of the triangle
 * with a short one keeps the threads' shares of the work equal. */
static void map_rows(void *ctx, size_t p0, size_t p1)
{
    map_job *j = ctx;
    ntk_gauss2 g, *gp = NULL;
    if (j->rule) {
        if (ntk_gauss2_copy(&g, j->rule) != NTK_OK) {
            atomic_store(&j->failed, 1);
            return;
        }
        gp = &g;
    }
    for (size_t p = p0; p < p1; p++) {
        size_t rows[2] = {p, j->n1 - 1 - p};
        for (int r = 0; r < (rows[0] == rows[1] ? 1 : 2); r++) {
            size_t i = rows[r], k0 = j->sym ? i : 0;
            double *Ki = j->K + i * j->n2;
            if (gp) ntk_gauss2_set_row(gp, j->q1[i]);
            if (!gp && j->row) {
                j->row(j, i, k0, Ki);
            } else if (j->raw) {
                double *Di = j->D ? j->D + i * j->n2 : NULL, unused;
                for (size_t k = k0; k < j->n2; k++)
                    raw_entry(j, gp, i, k, Ki + k, Di ? Di + k : &unused);
            } else {
                for (size_t k = k0; k < j->n2; k++) Ki[k] = kernel_entry(j, gp, i, k, Ki[k]);
            }
        }
    }
    if (gp) ntk_gauss2_free(gp);
}

/* j->K (n1,n2), or its upper triangle (n1,n1) when sym, holds c = x·x'/s²
 * on entry and the kernel on return. Rows are split over threads
 * (ntk_parallel_for), each with its own copy of the quadrature rule; every
 * entry is computed alone, so the result does not depend on the thread count. */
static ntk_status map_run(map_job *j, const ntk_gauss2 *rule, int order)
{
    j->rule = rule;
    /* one width for the whole call (set between computations only) */
    j->row = rule ? NULL : closed_row_fn(j->act, ntk_act_simd_get());
    /* work per index (two rows): ~n2 entries of N² or ~16 (closed form) units */
    size_t per_entry = rule ? rule->N * rule->N : 16;
    size_t grain = ntk_size_mul(j->n2, per_entry, 1, 1);
    if (grain > 65536) grain = 65536;   /* enough to say "worth threads"; avoids overflow */
    ntk_parallel_for_grain((j->n1 + 1) / 2, grain, map_rows, j);
    j->rule = NULL;
    if (atomic_load(&j->failed))
        return ntk_set_error(NTK_ERR_NOMEM,
                             "infinite kernel: could not allocate a quadrature workspace of "
                             "order %d; lower the quadrature order",
                             order);
    return NTK_OK;
}

static ntk_status map_kernel(map_job *j, int use_quad, int order)
{
    ntk_gauss2 rule;
    if (use_quad) NTK_TRY(ntk_gauss2_init(&rule, j->act, order));
    ntk_status st = map_run(j, use_quad ? &rule : NULL, order);
    if (use_quad) ntk_gauss2_free(&rule);
    return st;
}

/* X1 (n1,d), X2 (n2,d) or NULL, K (n1,n2) or (n1,n1). */
static ntk_status kernel_infinite(const ntk_net_config *cfg, const double *X1, size_t n1,
                                  const double *X2, size_t n2, double c1, double c2,
                                  int quad_order, int force_quad, double *K)
{
    int order;
    NTK_TRY(check_args(cfg, X1, n1, n2, c1, c2, quad_order, K, &order));
    int sym = X2 == NULL;
    if (sym) {
        X2 = X1;
        n2 = n1;
    }
    if (n1 == 0 || n2 == 0) return NTK_OK;
    size_t d = cfg->d;
    NTK_TRY(ntk_check_finite(X1, n1 * d, "X1"));
    if (!sym) NTK_TRY(ntk_check_finite(X2, n2 * d, "X2"));

    double s = ntk_net_config_s(cfg), inv_s2 = 1.0 / (s * s);
    NTK_TRY(ntk_check_input_scale(X1, n1, d, s, "X1"));
    if (!sym) NTK_TRY(ntk_check_input_scale(X2, n2, d, s, "X2"));
    size_t np = sym ? n1 : n1 + n2;   /* points: X1's rows, then X2's */
    double *q1 = ntk_alloc(ntk_size_mul(np, 3, 1, 1), sizeof(double), "infinite kernel norms");
    if (!q1) return NTK_ERR_NOMEM;
    double *q2 = sym ? q1 : q1 + n1, *sq = q1 + np, *g = q1 + 2 * np;
    // docs/theory.md §3: q = ‖x‖²/s², q' = ‖x'‖²/s²
    for (size_t i = 0; i < n1; i++)
        q1[i] = cblas_ddot((int)d, X1 + i * d, 1, X1 + i * d, 1) * inv_s2;
    if (!sym)
        for (size_t k = 0; k < n2; k++)
            q2[k] = cblas_ddot((int)d, X2 + k * d, 1, X2 + k * d, 1) * inv_s2;
    for (size_t p = 0; p < np; p++) {   /* √q (for √(qq')) and erf's 1/√(½ + q) */
        sq[p] = sqrt(q1[p]);
        g[p] = 1.0 / sqrt(0.5 + q1[p]);
    }
    // docs/theory.md §3: c = x·x'/s², all pairs at once (upper triangle when symmetric)
    if (sym)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n1, (int)d, inv_s2, X1,
                    (int)d, 0.0, K, (int)n1);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)d, inv_s2,
                    X1, (int)d, X2, (int)d, 0.0, K, (int)n2);

    map_job j = {cfg->act, cfg->alpha * cfg->alpha, c1, c2, sym, X1, X2,
                 q1, q2, sq, sym ? sq : sq + n1, g, sym ? g : g + n1,
                 n1, n2, d, NULL, NULL, K, 0, 0, NULL};
    int use_quad = force_quad || !has_closed_form(cfg->act);
    ntk_status st = map_kernel(&j, use_quad, order);
    free(q1);
    if (st != NTK_OK) return st;
    if (sym)
        for (size_t i = 1; i < n1; i++)
            for (size_t k = 0; k < i; k++) K[i * n1 + k] = K[k * n1 + i];
    return ntk_check_result(K, n1, n2, "the infinite-width kernel",
                            "an entry overflows double precision; rescale the inputs or alpha");
}

// X1 (n1,d), X2 (n2,d) or NULL -> K; closed form where there is one
ntk_status ntk_kernel_infinite(const ntk_net_config *cfg, const double *X1, size_t n1,
                               const double *X2, size_t n2, double c1, double c2,
                               int quad_order, double *K)
{
    return kernel_infinite(cfg, X1, n1, X2, n2, c1, c2, quad_order, 0, K);
}

// X1 (n1,d), X2 (n2,d) or NULL -> K; quadrature for every activation
ntk_status ntk_kernel_infinite_quad(const ntk_net_config *cfg, const double *X1, size_t n1,
                                    const double *X2, size_t n2, double c1, double c2,
                                    int quad_order, double *K)
{
    return kernel_infinite(cfg, X1, n1, X2, n2, c1, c2, quad_order, 1, K);
}

/* ---- the pair maps of the deep recursion (quadrature.h) ------------------ */

ntk_status ntk_pair_map_init(ntk_pair_map *pm, ntk_act act, int force_quad, int order)
{
    memset(pm, 0, sizeof *pm);
    pm->act = act;
    pm->order = order;
    pm->use_quad = force_quad || !has_closed_form(act);
    if (pm->use_quad) NTK_TRY(ntk_gauss2_init(&pm->rule, act, order));
    return NTK_OK;
}

void ntk_pair_map_free(ntk_pair_map *pm)
{
    if (pm && pm->use_quad) ntk_gauss2_free(&pm->rule);
}

// q (n) -> sq = √q, g = 1/√(½ + q) (n), as kernel_infinite computes them
void ntk_pair_pts_fill(size_t n, const double *q, double *sq, double *g)
{
    for (size_t p = 0; p < n; p++) {
        sq[p] = sqrt(q[p]);
        g[p] = 1.0 / sqrt(0.5 + q[p]);
    }
}

/* The same map_job as kernel_infinite in raw mode: the same rows, widths,
 * flags and per-entry paths, so an entry's Σ, Σ' are what kernel_infinite
 * combines into its K. */
ntk_status ntk_pair_map_block(const ntk_pair_map *pm, const ntk_pair_pts *p1, size_t n1,
                              const ntk_pair_pts *p2, size_t n2, size_t dv, int sym, double *C,
                              double *D)
{
    if (n1 == 0 || n2 == 0) return NTK_OK;
    int vec = p1->V && p2->V;
    map_job j = {pm->act, 1.0, 1.0, 1.0, sym, vec ? p1->V : NULL, vec ? p2->V : NULL,
                 p1->q, p2->q, p1->sq, p2->sq, p1->g, p2->g,
                 n1, n2, vec ? dv : 0, NULL, NULL, C, 0, 1, D};
    return map_run(&j, pm->use_quad ? &pm->rule : NULL, pm->order);
}

/* Entry by entry (no vectors): each point with itself. */
ntk_status ntk_pair_map_diag(const ntk_pair_map *pm, const ntk_pair_pts *p, size_t n, double *S,
                             double *D)
{
    if (n == 0) return NTK_OK;
    map_job j = {pm->act, 1.0, 1.0, 1.0, 0, NULL, NULL, p->q, p->q, p->sq, p->sq, p->g, p->g,
                 n, n, 0, NULL, NULL, S, 0, 1, D};
    ntk_gauss2 g, *gp = NULL;
    if (pm->use_quad) {
        NTK_TRY(ntk_gauss2_copy(&g, &pm->rule));
        gp = &g;
    }
    for (size_t i = 0; i < n; i++) {
        double unused;
        if (gp) ntk_gauss2_set_row(gp, p->q[i]);
        S[i] = p->q[i];
        raw_entry(&j, gp, i, i, S + i, D ? D + i : &unused);
    }
    if (gp) ntk_gauss2_free(gp);
    return NTK_OK;
}
