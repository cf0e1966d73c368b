/* Activations φ with φ' and φ'' (docs/theory.md §1). */
#include "internal.h"

#include <math.h>
#include <sleef.h>
#include <stdint.h>
#include <string.h>

static const char *const act_names[NTK_ACT_COUNT] = {
    "relu", "leaky_relu", "erf", "tanh", "sigmoid", "softplus", "gelu", "identity",
};

const char *ntk_act_name(ntk_act_kind kind)
{
    return (kind >= 0 && kind < NTK_ACT_COUNT) ? act_names[kind] : "unknown";
}

ntk_status ntk_act_parse(const char *name, double param, ntk_act *out)
{
    ntk_clear_error();
    if (!name || !out) return ntk_set_error(NTK_ERR_ARG, "activation name is missing");
    for (int k = 0; k < NTK_ACT_COUNT; k++) {
        if (strcmp(name, act_names[k]) == 0 ||
            (k == NTK_ACT_LEAKY_RELU && strcmp(name, "leaky-relu") == 0)) {
            if (!isfinite(param))
                return ntk_set_error(NTK_ERR_ARG, "activation parameter must be finite");
            out->kind = (ntk_act_kind)k;
            out->param = k == NTK_ACT_LEAKY_RELU ? param : 0.0;
            return NTK_OK;
        }
    }
    return ntk_set_error(NTK_ERR_ARG,
                         "unknown activation '%s'; choose relu, leaky_relu, erf, tanh, sigmoid, "
                         "softplus, gelu or identity",
                         name);
}

int ntk_act_piecewise_linear(ntk_act act)
{
    return act.kind == NTK_ACT_RELU || act.kind == NTK_ACT_LEAKY_RELU ||
           act.kind == NTK_ACT_IDENTITY;
}

/* ---- accuracy -----------------------------------------------------------
 *
 * The smooth maps (erf, tanh, sigmoid, softplus, gelu) evaluate their
 * transcendental functions with SLEEF (Shibata and Petrogalli 2020), a
 * vectorised libm whose functions carry documented error bounds: exp, erf,
 * tanh, log1p within 1.0 ulp; erfc within max(1.5 ulp, DBL_MIN) below
 * argument 26.2 and max(2.5 ulp, DBL_MIN) above. Around them is a little
 * plain arithmetic, written so that no step loses more than a rounding.
 *
 * Bounds, against the exact φ and φ' of the double input x, with
 * ulp(y) = 2^(⌊log2|y|⌋ − 52) (2^−1074 below DBL_MIN) and u = 2^−53.
 * Counting: a SLEEF function within k ulp has relative error <= 2k·u, each
 * IEEE operation <= u, a rounded constant its own error (2/√π and 1/√π:
 * 0.13u, 1/√(2π): 0.57u), each carried through the condition number of the
 * rest of the formula (written [≤ c] below); a relative error K·u is less
 * than K ulp. Terms of second order (below 1e−24 relative) are left out.
 *
 *   erf      φ  = erf(x)                                          1 ulp
 *            φ' = 2/√π·e^{−x²}: x² = h + l exactly (Dekker's
 *                 product), φ' = c·e^{−h}·(1 − l): 2 + .13 + 1 + 1  4.2 ulp
 *   tanh     φ  = tanh(x)                                         1 ulp
 *            φ' = 4e/(1+e)², e = e^{−2|x|}: 2[≤1] + 2 + 1 + 1       6 ulp
 *   sigmoid  e = e^{−|x|}: φ = 1/(1+e) for x >= 0: 2[≤½] + 1 + 1,
 *            φ = e/(1+e) for x < 0: 2[≤1] + 1 + 1                 4 ulp
 *            φ' = e/(1+e)²: 2[≤1] + 2 + 1 + 1                       6 ulp
 *   softplus φ  = max(x, 0) + log1p(e): log1p 2 + e 2[≤1], then
 *                 + 1 for the sum when x > 0                      5 ulp
 *            φ' = σ(x), as sigmoid's φ                            4 ulp
 *   gelu     Φ(x) = ½·erfc(−x/√2) with the argument's rounding
 *                 corrected to first order: −x/√2 = y + δ exactly up
 *                 to O(u²) (Dekker's product against 1/√2 in two
 *                 parts) and erfc(y − δ) = erfc(y) + δ·2/√π·e^{−x²/2};
 *                 Φ within 3 + 1 (5 + 1 when x <= −37.05, erfc's
 *                 argument >= 26.2)
 *            φ  = x·Φ(x)                                5 ulp (7 ulp)
 *                 + |x|·DBL_MIN (erfc's absolute floor)
 *            φ' = Φ + x·ϕ(x), ϕ = e^{−x²/2}/√(2π) as for erf' (5.6u):
 *                 |error| <= 7u·(Φ + |x|ϕ) + DBL_MIN: 7 ulp for x >= 0;
 *                 near φ' = 0 (x ≈ −0.75) no ulp bound is possible.
 *
 * Where a result is below DBL_MIN the same counts hold in units of 2^−1074
 * (each product by a constant c <= 4 carries c times the error of its
 * factor, e.g. 4·e for tanh', within its bound). The rewriting keeps the
 * tails accurate where the textbook forms are not: 1 − tanh², σ(1 − σ) and
 * e^{−x·x} lose all their digits (or up to 2x² ulp) for large |x|, and
 * erfc(−x·(1/√2)) loses x² ulp in the left tail.
 *
 * tests/test_activation.c checks each bound against long-double libm at
 * every vector width this CPU runs, over ±0, subnormals, each binade to
 * DBL_MAX, the tails, ±Inf and NaN (propagated: φ(NaN) = φ'(NaN) = NaN for
 * every activation).
 *
 * ---- vector widths -------------------------------------------------------
 *
 * One width is chosen per call from the CPU (never from the compiler's
 * flags): AVX-512F, else AVX2 with FMA, else SSE2 on x86-64, else SLEEF's
 * scalar functions. Each element's value depends only on its input and that
 * width: a short tail is padded to a whole vector, so where the threads
 * split an array cannot change a value. Another CPU may choose another width
 * and differ in the last bits, within the bounds above. */

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF   /* one rounding per operation, as counted */
#endif

#define INV_SQRT_PI 0.56418958354775628695   /* 1/√π */
#define INV_SQRT_2PI 0.39894228040143267794  /* 1/√(2π) */
#define TWO_INV_SQRT_PI 1.1283791670955125739 /* 2/√π */
/* 1/√2 = S2 + S2_TAIL to 2^−106; S2 = S2_HI + S2_LO splits it in 26-bit halves */
#define S2 0x1.6a09e667f3bcdp-1
#define S2_TAIL -4.8336466567264565e-17
#define S2_HI 0x1.6a09e68p-1
#define S2_LO -0x1.80c433p-29
#define SPLITTER 134217729.0   /* 2^27 + 1 */

/* Elementary maps y[i] = f(x[i]) over n values, n a multiple of ACT_VEC. */
typedef void (*emap)(size_t n, const double *x, double *y);
typedef struct {
    emap exp, erf, erfc, tanh, log1p;
} emaps;

#define ACT_VEC 8       /* the widest vector, in doubles */
#define ACT_PIECE 512   /* values per piece, a multiple of ACT_VEC */

#define SCALAR_MAP(name, fn)                                                  \
    static void name(size_t n, const double *x, double *y)                    \
    {                                                                         \
        for (size_t i = 0; i < n; i++) y[i] = fn(x[i]);                       \
    }
SCALAR_MAP(exp_s, Sleef_exp_u10)
SCALAR_MAP(erf_s, Sleef_erf_u10)
SCALAR_MAP(erfc_s, Sleef_erfc_u15)
SCALAR_MAP(tanh_s, Sleef_tanh_u10)
SCALAR_MAP(log1p_s, Sleef_log1p_u10)
static const emaps maps_scalar = {exp_s, erf_s, erfc_s, tanh_s, log1p_s};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ACT_X86 1
#include <immintrin.h>

/* sleef.h declares the 256- and 512-bit functions only when the whole file
 * is compiled for AVX; these are the library's own symbols, called only
 * from functions compiled for their instruction set. */
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
AVX2 __m256d Sleef_expd4_u10avx2(__m256d);
AVX2 __m256d Sleef_erfd4_u10avx2(__m256d);
AVX2 __m256d Sleef_erfcd4_u15avx2(__m256d);
AVX2 __m256d Sleef_tanhd4_u10avx2(__m256d);
AVX2 __m256d Sleef_log1pd4_u10avx2(__m256d);
AVX512 __m512d Sleef_expd8_u10avx512f(__m512d);
AVX512 __m512d Sleef_erfd8_u10avx512f(__m512d);
AVX512 __m512d Sleef_erfcd8_u15avx512f(__m512d);
AVX512 __m512d Sleef_tanhd8_u10avx512f(__m512d);
AVX512 __m512d Sleef_log1pd8_u10avx512f(__m512d);

#define VEC_MAP(name, fn, attr, w, load, store)                               \
    attr static void name(size_t n, const double *x, double *y)               \
    {                                                                         \
        for (size_t i = 0; i < n; i += w) store(y + i, fn(load(x + i)));      \
    }
VEC_MAP(exp_2, Sleef_expd2_u10sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(erf_2, Sleef_erfd2_u10sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(erfc_2, Sleef_erfcd2_u15sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(tanh_2, Sleef_tanhd2_u10sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(log1p_2, Sleef_log1pd2_u10sse2, , 2, _mm_loadu_pd, _mm_storeu_pd)
VEC_MAP(exp_4, Sleef_expd4_u10avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(erf_4, Sleef_erfd4_u10avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(erfc_4, Sleef_erfcd4_u15avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(tanh_4, Sleef_tanhd4_u10avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(log1p_4, Sleef_log1pd4_u10avx2, AVX2, 4, _mm256_loadu_pd, _mm256_storeu_pd)
VEC_MAP(exp_8, Sleef_expd8_u10avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(erf_8, Sleef_erfd8_u10avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(erfc_8, Sleef_erfcd8_u15avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(tanh_8, Sleef_tanhd8_u10avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
VEC_MAP(log1p_8, Sleef_log1pd8_u10avx512f, AVX512, 8, _mm512_loadu_pd, _mm512_storeu_pd)
static const emaps maps_sse2 = {exp_2, erf_2, erfc_2, tanh_2, log1p_2};
static const emaps maps_avx2 = {exp_4, erf_4, erfc_4, tanh_4, log1p_4};
static const emaps maps_avx512 = {exp_8, erf_8, erfc_8, tanh_8, log1p_8};
#endif

/* The arithmetic around the maps, ACT_VEC values at a time in the
 * compilers' generic vectors (lowered to whatever the function's target
 * has; every operation is IEEE, so the width does not change a value). */
typedef double vd __attribute__((vector_size(8 * ACT_VEC), aligned(8)));
typedef int64_t vi __attribute__((vector_size(8 * ACT_VEC)));
#define LD(p) (*(const vd *)(const void *)(p))
#define ST(p, v) (*(vd *)(void *)(p) = (v))
#define SEL(m, a, b) ((vd)(((m) & (vi)(a)) | (~(m) & (vi)(b))))
#define VABS(a) ((vd)((vi)(a) & INT64_MAX))
#define VSET(c) (zero + (c))
/* hi + lo = a with hi the top 26 bits (Veltkamp), for |a| <= 64 */
#define SPLIT(a, hi, lo)                                                      \
    do {                                                                      \
        vd c_ = (a) * SPLITTER;                                               \
        hi = c_ - (c_ - (a));                                                 \
        lo = (a) - hi;                                                        \
    } while (0)

/* φ and φ' (either may be NULL) of a smooth activation for n values,
 * n a multiple of ACT_VEC and at most ACT_PIECE; nothing aliases. */
static inline __attribute__((always_inline)) void
smooth_piece(const emaps *E, ntk_act_kind kind, size_t n, const double *restrict x,
             double *restrict phi, double *restrict dphi)
{
    double t1[ACT_PIECE], t2[ACT_PIECE], t3[ACT_PIECE], t4[ACT_PIECE];
    const vd zero = {0};
    size_t i;
    switch (kind) {
    case NTK_ACT_ERF:
        if (phi) E->erf(n, x, phi);
        if (!dphi) return;
        for (i = 0; i < n; i += ACT_VEC) {
            vd a = VABS(LD(x + i)), hi, lo;
            a = SEL(a > 64.0, VSET(64.0), a);   /* e^{-4096} = 0 already; NaN stays */
            SPLIT(a, hi, lo);
            vd h = a * a;
            ST(t1 + i, -h);
            ST(t2 + i, ((hi * hi - h) + 2.0 * (hi * lo)) + lo * lo);   /* a² − h */
        }
        E->exp(n, t1, t1);
        for (i = 0; i < n; i += ACT_VEC) {
            vd p = LD(t1 + i) * TWO_INV_SQRT_PI;
            ST(dphi + i, p - p * LD(t2 + i));
        }
        return;
    case NTK_ACT_TANH:
        if (phi) E->tanh(n, x, phi);
        if (!dphi) return;
        for (i = 0; i < n; i += ACT_VEC) ST(t1 + i, -2.0 * VABS(LD(x + i)));
        E->exp(n, t1, t1);
        for (i = 0; i < n; i += ACT_VEC) {
            vd e = LD(t1 + i), q = 1.0 + e;
            ST(dphi + i, 4.0 * e / (q * q));
        }
        return;
    case NTK_ACT_SIGMOID:
    case NTK_ACT_SOFTPLUS: {
        const int sig = kind == NTK_ACT_SIGMOID;
        for (i = 0; i < n; i += ACT_VEC) ST(t1 + i, -VABS(LD(x + i)));
        E->exp(n, t1, t1);
        if (phi && !sig) E->log1p(n, t1, t2);
        for (i = 0; i < n; i += ACT_VEC) {
            vd xv = LD(x + i), e = LD(t1 + i), q = 1.0 + e;
            vd s = SEL(xv >= 0.0, VSET(1.0), e) / q;   /* σ(x) */
            if (sig) {
                if (phi) ST(phi + i, s);
                if (dphi) ST(dphi + i, e / (q * q));
            } else {
                if (phi) ST(phi + i, SEL(xv > 0.0, xv, zero) + LD(t2 + i));
                if (dphi) ST(dphi + i, s);
            }
        }
        return;
    }
    case NTK_ACT_GELU:
        for (i = 0; i < n; i += ACT_VEC) {
            vd xv = LD(x + i);
            vd a = SEL(xv > 64.0, VSET(64.0), SEL(xv < -64.0, VSET(-64.0), xv));
            vd hi, lo;
            SPLIT(a, hi, lo);
            vd p = a * S2;                                   /* a/√2 = p + δ */
            vd d = (((hi * S2_HI - p) + hi * S2_LO) + lo * S2_HI) + lo * S2_LO + a * S2_TAIL;
            vd h = a * a;
            ST(t1 + i, -p);
            ST(t2 + i, -0.5 * h);
            ST(t3 + i, ((hi * hi - h) + 2.0 * (hi * lo)) + lo * lo);   /* a² − h */
            ST(t4 + i, d);
        }
        E->erfc(n, t1, t1);
        E->exp(n, t2, t2);
        for (i = 0; i < n; i += ACT_VEC) {
            vd xv = LD(x + i);
            vd a = SEL(xv > 64.0, VSET(64.0), SEL(xv < -64.0, VSET(-64.0), xv));
            vd e2 = LD(t2 + i);
            vd g = e2 - e2 * (0.5 * LD(t3 + i));             /* e^{−a²/2} */
            vd Phi = 0.5 * LD(t1 + i) + LD(t4 + i) * g * INV_SQRT_PI;
            /* x·Φ(x) with x itself above −64 (so φ(+Inf) = +Inf), −64·0 below */
            if (phi) ST(phi + i, SEL(xv < -64.0, VSET(-64.0), xv) * Phi);
            if (dphi) ST(dphi + i, Phi + a * (g * INV_SQRT_2PI));
        }
        return;
    default: /* not reached: the piecewise-linear maps have their own path */
        for (i = 0; i < n; i++) {
            if (phi) phi[i] = NAN;
            if (dphi) dphi[i] = NAN;
        }
        return;
    }
}

static void piece_scalar(ntk_act_kind k, size_t n, const double *x, double *p, double *d)
{
    smooth_piece(&maps_scalar, k, n, x, p, d);
}
#ifdef ACT_X86
static void piece_sse2(ntk_act_kind k, size_t n, const double *x, double *p, double *d)
{
    smooth_piece(&maps_sse2, k, n, x, p, d);
}
AVX2 static void piece_avx2(ntk_act_kind k, size_t n, const double *x, double *p, double *d)
{
    smooth_piece(&maps_avx2, k, n, x, p, d);
}
AVX512 static void piece_avx512(ntk_act_kind k, size_t n, const double *x, double *p, double *d)
{
    smooth_piece(&maps_avx512, k, n, x, p, d);
}
#endif

typedef void (*piece_fn)(ntk_act_kind k, size_t n, const double *x, double *p, double *d);

enum { SIMD_SCALAR, SIMD_SSE2, SIMD_AVX2, SIMD_AVX512, SIMD_COUNT };
static const char *const simd_names[SIMD_COUNT] = {"scalar", "sse2", "avx2", "avx512f"};
static int simd_forced = -1;

static int simd_supported(int level)
{
    if (level == SIMD_SCALAR) return 1;
#ifdef ACT_X86
    __builtin_cpu_init();
    if (level == SIMD_SSE2) return 1;
    if (level == SIMD_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (level == SIMD_AVX512) return __builtin_cpu_supports("avx512f");
#endif
    return 0;
}

static int simd_level(void)
{
    if (simd_forced >= 0) return simd_forced;
    for (int l = SIMD_COUNT - 1; l > 0; l--)
        if (simd_supported(l)) return l;
    return SIMD_SCALAR;
}

static piece_fn simd_piece(int level)
{
#ifdef ACT_X86
    if (level == SIMD_AVX512) return piece_avx512;
    if (level == SIMD_AVX2) return piece_avx2;
    if (level == SIMD_SSE2) return piece_sse2;
#endif
    (void)level;
    return piece_scalar;
}

/* For the tests and the benchmark (declared there, not in ntkit.h): the
 * vector width in use, 0 scalar, 1 SSE2, 2 AVX2, 3 AVX-512F. Setting one
 * (-1: back to the CPU's widest) returns 0, or -1 if this CPU or build
 * lacks it; it is process-wide, so set it between computations only. */
int ntk_act_simd_get(void) { return simd_level(); }
const char *ntk_act_simd_name(int level)
{
    return level >= 0 && level < SIMD_COUNT ? simd_names[level] : "unknown";
}
int ntk_act_simd_set(int level)
{
    if (level < 0) {
        simd_forced = -1;
        return 0;
    }
    if (level >= SIMD_COUNT || !simd_supported(level)) return -1;
#ifndef ACT_X86
    if (level != SIMD_SCALAR) return -1;
#endif
    simd_forced = level;
    return 0;
}

/* φ and φ' of count values at one width, in pieces; the input is copied
 * (zero-padded to whole vectors) so the outputs may alias it. */
static void smooth_run(piece_fn piece, ntk_act_kind kind, size_t count, const double *z,
                       double *phi, double *dphi)
{
    double x[ACT_PIECE], p[ACT_PIECE], d[ACT_PIECE];
    for (size_t b = 0; b < count; b += ACT_PIECE) {
        size_t len = count - b < ACT_PIECE ? count - b : ACT_PIECE;
        size_t n = (len + ACT_VEC - 1) / ACT_VEC * ACT_VEC;
        memcpy(x, z + b, len * sizeof(double));
        for (size_t i = len; i < n; i++) x[i] = 0.0;
        piece(kind, n, x, phi ? p : NULL, dphi ? d : NULL);
        if (phi) memcpy(phi + b, p, len * sizeof(double));
        if (dphi) memcpy(dphi + b, d, len * sizeof(double));
    }
}

/* The piecewise-linear maps, one value: the same expressions as
 * act_piecewise, so both give the same bits. The sign selects have constant
 * arms (masks, no branches); NaN is passed on by a separate test that is
 * never true on real data. */
static inline double pl_phi(ntk_act_kind k, double a, double x)
{
    double p = k == NTK_ACT_RELU ? (x > 0 ? x : 0.0) : k == NTK_ACT_LEAKY_RELU ? (x > 0 ? x : a * x) : x;
    return x != x ? x : p;
}
static inline double pl_dphi(ntk_act_kind k, double a, double x)
{
    double d = k == NTK_ACT_RELU ? (x > 0 ? 1.0 : 0.0) : k == NTK_ACT_LEAKY_RELU ? (x > 0 ? 1.0 : a) : 1.0;
    return x != x ? x : d;
}

static int act_known(ntk_act act) { return act.kind >= 0 && act.kind < NTK_ACT_COUNT; }

double ntk_act_phi(ntk_act act, double x)
{
    if (!act_known(act)) return NAN;
    if (ntk_act_piecewise_linear(act)) return pl_phi(act.kind, act.param, x);
    double p;
    smooth_run(simd_piece(simd_level()), act.kind, 1, &x, &p, NULL);
    return p;
}

double ntk_act_dphi(ntk_act act, double x)
{
    if (!act_known(act)) return NAN;
    if (ntk_act_piecewise_linear(act)) return pl_dphi(act.kind, act.param, x);
    double d;
    smooth_run(simd_piece(simd_level()), act.kind, 1, &x, NULL, &d);
    return d;
}

/* φ'' (not on a hot path): libm and the maps above. */
double ntk_act_d2phi(ntk_act act, double x)
{
    if (!act_known(act)) return NAN;
    if (ntk_act_piecewise_linear(act)) return x != x ? x : 0.0; /* almost everywhere */
    if (isinf(x)) return 0.0;
    double p = 0.0, d;
    ntk_act_kind k = act.kind == NTK_ACT_SOFTPLUS ? NTK_ACT_SIGMOID : act.kind;
    smooth_run(simd_piece(simd_level()), k, 1, &x, &p, &d);
    switch (act.kind) {
    case NTK_ACT_ERF: return -2.0 * x * d;                    /* φ'' = −2x·φ' */
    case NTK_ACT_TANH: return -2.0 * p * d;                   /* −2·tanh·sech² */
    case NTK_ACT_SIGMOID: return -d * tanh(0.5 * x);          /* σ'·(1 − 2σ) */
    case NTK_ACT_SOFTPLUS: return d;                          /* σ' */
    default: /* gelu: ϕ(x)(2 − x²) */
        return INV_SQRT_2PI * exp(-0.5 * x * x) * (2.0 - x * x);
    }
}

typedef struct {
    piece_fn piece;
    ntk_act_kind kind;
    const double *z;
    double *phi, *dphi;
} act_job;

/* One chunk [i0,i1) of an elementwise map. */
static void act_chunk(void *ctx, size_t i0, size_t i1)
{
    const act_job *j = ctx;
    smooth_run(j->piece, j->kind, i1 - i0, j->z + i0, j->phi ? j->phi + i0 : NULL,
               j->dphi ? j->dphi + i0 : NULL);
}

/* The piecewise-linear maps are memory-bound: one pass over z, no threads
 * (splitting them costs more in thread start-up than it saves). Each element
 * is read before either output is written, so the outputs may alias z. */
static void act_piecewise(ntk_act act, size_t count, const double *z, double *phi, double *dphi)
{
    /* the per-element NULL tests are hoisted by the compiler; with constant
     * arms the conditionals compile to masks (measured 3x faster than forms
     * with a variable slope, which compile to branches) */
    double a = act.param;
    size_t i;
    switch (act.kind) {
    case NTK_ACT_RELU:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = pl_phi(NTK_ACT_RELU, 0.0, x);
            if (dphi) dphi[i] = pl_dphi(NTK_ACT_RELU, 0.0, x);
        }
        return;
    case NTK_ACT_LEAKY_RELU:
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = pl_phi(NTK_ACT_LEAKY_RELU, a, x);
            if (dphi) dphi[i] = pl_dphi(NTK_ACT_LEAKY_RELU, a, x);
        }
        return;
    default: /* identity */
        for (i = 0; i < count; i++) {
            double x = z[i];
            if (phi) phi[i] = x;
            if (dphi) dphi[i] = pl_dphi(NTK_ACT_IDENTITY, 0.0, x);
        }
        return;
    }
}

/* z, phi, dphi are (count); phi/dphi may be NULL or alias z. The smooth maps
 * (transcendental, compute-bound) are split over threads; each element's
 * value depends only on its input and the vector width, so the result does
 * not depend on the thread count. */
void ntk_act_apply(ntk_act act, size_t count, const double *z, double *phi, double *dphi)
{
    if (!act_known(act)) {
        for (size_t i = 0; i < count; i++) {
            if (phi) phi[i] = NAN;
            if (dphi) dphi[i] = NAN;
        }
        return;
    }
    if (ntk_act_piecewise_linear(act)) {
        act_piecewise(act, count, z, phi, dphi);
        return;
    }
    act_job j = {simd_piece(simd_level()), act.kind, z, phi, dphi};
    ntk_parallel_for(count, act_chunk, &j);
}

typedef struct {
    double *G;
    const double *S;
    size_t m;
    const double *r, *v;
} scale_job;

static void scale_chunk(void *ctx, size_t i0, size_t i1)
{
    const scale_job *j = ctx;
    for (size_t i = i0; i < i1; i++) {
        double *Gi = j->G + i * j->m;
        const double *Si = j->S + i * j->m;
        double ri = j->r[i];
        if (j->v)
            for (size_t k = 0; k < j->m; k++) Gi[k] = Si[k] * ri * j->v[k];
        else
            for (size_t k = 0; k < j->m; k++) Gi[k] = Si[k] * ri;
    }
}

/* G (B,m) = S ⊙ r vᵀ, i.e. G_ik = S_ik · r_i · v_k (v NULL: all ones); G may
 * be S. */
void ntk_scale_rows_cols(double *G, const double *S, size_t B, size_t m, const double *r,
                         const double *v)
{
    /* memory-bound: one pass, no threads */
    scale_job j = {G, S, m, r, v};
    scale_chunk(&j, 0, B);
}

/* sup |φ'| and sup |φ''| over the real line (docs/theory.md §7.4). */
void ntk_act_sup(ntk_act act, double *L1, double *L2)
{
    const double sqrt_pi = 1.7724538509055160273;
    switch (act.kind) {
    case NTK_ACT_ERF:      /* φ' = 2/√π e^{−x²}; |φ''| peaks at x = 1/√2 */
        *L1 = 2.0 / sqrt_pi;
        *L2 = 4.0 / sqrt_pi * M_SQRT1_2 * exp(-0.5);
        return;
    case NTK_ACT_TANH:     /* |φ''| = 2|t|(1 − t²) peaks at t² = 1/3 */
        *L1 = 1.0;
        *L2 = 4.0 / (3.0 * sqrt(3.0));
        return;
    case NTK_ACT_SIGMOID:  /* φ' <= 1/4; |σ(1−σ)(1−2σ)| peaks at 1/(6√3) */
        *L1 = 0.25;
        *L2 = 1.0 / (6.0 * sqrt(3.0));
        return;
    case NTK_ACT_SOFTPLUS: /* φ' = σ < 1, φ'' = σ(1−σ) <= 1/4 */
        *L1 = 1.0;
        *L2 = 0.25;
        return;
    case NTK_ACT_GELU:     /* φ'' = ϕ(x)(2 − x²): φ' peaks at x = √2, |φ''| at 0 */
        *L1 = ntk_act_dphi(act, sqrt(2.0));
        *L2 = 2.0 / sqrt(2.0 * M_PI);
        return;
    case NTK_ACT_LEAKY_RELU:
        *L1 = fmax(1.0, fabs(act.param));
        *L2 = INFINITY;
        return;
    default:
        *L1 = 1.0;
        *L2 = act.kind == NTK_ACT_IDENTITY ? 0.0 : INFINITY;
        return;
    }
}
