/* The elementwise maps φ, φ' (src/activation.c) against long-double libm:
 * the error bound stated there, per activation, at every vector width this
 * CPU runs (SLEEF's AVX-512F, AVX2, SSE2 and scalar entry points), over
 * ±0, subnormals, every binade up to DBL_MAX, the tails where the outputs
 * underflow, ±Inf and NaN. Then: a value does not depend on where the
 * threads split an array, on the other output being asked for, on aliasing,
 * or on the scalar entry points (ntk_act_phi, ntk_act_dphi).
 *
 * The oracle is glibc's long-double (64-bit significand) libm, used through
 * identities other than the library's where it matters (sech² = 1/cosh²,
 * σ' = 1/(4cosh²(x/2)), log1p(eˣ) for softplus). Its error, a few units of
 * 2^−64 relative, is below 1/16 ulp of a double: each tolerance is the
 * library's bound plus 1/16 ulp for the oracle. Where an argument's rounding
 * would be amplified (e^{−x²}, erfc(−x/√2)) the oracle splits it exactly
 * with fma/fmal first. */
#include "harness.h"
#include "ntkit.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

/* defined in src/activation.c for the tests and the benchmark */
int ntk_act_simd_get(void);
int ntk_act_simd_set(int level);
const char *ntk_act_simd_name(int level);
#define NLEVELS 4

typedef long double ld;
#define TWO_INV_SQRT_PI_L 1.12837916709551257389615890312154517L
#define INV_SQRT_PI_L 0.564189583547756286948079451560772586L
#define INV_SQRT_2PI_L 0.398942280401432677939946059934381868L
#define U 0x1p-53 /* unit roundoff */

static const ntk_act_kind smooth[] = {NTK_ACT_ERF, NTK_ACT_TANH, NTK_ACT_SIGMOID,
                                      NTK_ACT_SOFTPLUS, NTK_ACT_GELU};
#define NSMOOTH (sizeof smooth / sizeof smooth[0])

static ntk_act mk(ntk_act_kind k)
{
    ntk_act a = {k, k == NTK_ACT_LEAKY_RELU ? 0.01 : 0.0};
    return a;
}

/* ulp of a double at the value r: 2^(⌊log2|r|⌋ − 52), 2^−1074 below DBL_MIN */
static ld ulp_at(ld r)
{
    ld a = fabsl(r);
    if (a < (ld)DBL_MIN) return 0x1p-1074L;
    if (a >= (ld)DBL_MAX) return ldexpl(1.0L, 1023 - 52);
    return ldexpl(1.0L, ilogbl(a) - 52);
}

/* ---- the oracle ---------------------------------------------------------- */

/* e^{−s·x²} with x² = h + l split exactly (fma), s = 1 or 1/2 */
static ld ref_gauss(double x, ld s)
{
    if (fabs(x) > 1e10) return 0.0L;
    double h = x * x, l = fma(x, x, -h);
    return expl(-s * (ld)h) * expl(-s * (ld)l);
}

/* Φ(x) = ½erfc(−x/√2), with x/√2 = p + δ exactly (fmal) and erfc(−p − δ)
 * to first order in δ (δ ~ 2^−64|p|: the second order is below 2^−120). */
static ld ref_Phi(double x)
{
    static const ld c = 0.707106781186547524400844362104849039L;
    if (x > 1e10) return 1.0L;
    if (x < -1e10) return 0.0L;
    ld c_lo = -fmal(c, c, -0.5L) / (2.0L * c);   /* 1/√2 − c */
    ld p = (ld)x * c, dl = fmal((ld)x, c, -p) + (ld)x * c_lo;
    return 0.5L * erfcl(-p) + dl * expl(-p * p) * INV_SQRT_PI_L;
}

static ld ref_sigma(double x) { return 1.0L / (1.0L + expl(-(ld)x)); }

static void reference(ntk_act_kind k, double x, ld *phi, ld *dphi, ld *scale)
{
    ld X = x;
    *scale = 0.0L;
    switch (k) {
    case NTK_ACT_ERF:
        *phi = erfl(X);
        *dphi = TWO_INV_SQRT_PI_L * ref_gauss(x, 1.0L);
        return;
    case NTK_ACT_TANH: {
        ld c = coshl(X);
        *phi = tanhl(X);
        *dphi = 1.0L / (c * c);
        return;
    }
    case NTK_ACT_SIGMOID: {
        ld c = coshl(0.5L * X);
        *phi = ref_sigma(x);
        *dphi = 0.25L / (c * c);
        return;
    }
    case NTK_ACT_SOFTPLUS:
        *phi = x < 11000.0 ? log1pl(expl(X)) : X;
        *dphi = ref_sigma(x);
        return;
    default: { /* gelu */
        ld P = ref_Phi(x), g = INV_SQRT_2PI_L * ref_gauss(x, 0.5L);
        *phi = X * P;
        *dphi = P + X * g;
        *scale = P + fabsl(X) * g;
        return;
    }
    }
}

/* The bound of src/activation.c's table, plus 1/16 ulp for the oracle (in
 * long double: a fraction of 2^−1074 must not round away). */
static ld tolerance(ntk_act_kind k, int deriv, double x, ld ref, ld scale)
{
    ld ulp = ulp_at(ref), K;
    switch (k) {
    case NTK_ACT_ERF: K = deriv ? 4.2L : 1.0L; break;
    case NTK_ACT_TANH: K = deriv ? 6.0L : 1.0L; break;
    case NTK_ACT_SIGMOID: K = deriv ? 6.0L : 4.0L; break;
    case NTK_ACT_SOFTPLUS: K = deriv ? 4.0L : 5.0L; break;
    default: /* gelu */
        if (deriv) return (7.0L + 1.0L / 16) * (ld)U * scale + (ld)DBL_MIN + ulp / 16;
        K = x > -37.05 ? 5.0L : 7.0L;
        return (K + 1.0L / 16) * ulp + fabsl((ld)x) * (ld)DBL_MIN;
    }
    return (K + 1.0L / 16) * ulp;
}

/* ---- inputs -------------------------------------------------------------- */

static size_t add(double *x, size_t n, double v)
{
    x[n++] = v;
    x[n++] = -v;
    return n;
}

/* The sweep (both signs of everything): ±0 and the extremes; 8 values in
 * every binade from 2^−1074 to 2^1023; a grid over [−45, 45] (past every
 * underflow of φ' but erf's); the tails where an output underflows (erf'
 * near 27, tanh' near 355-375, σ and softplus near 708-745, gelu near
 * 37-39); normal draws at two scales. */
static size_t make_sweep(double *x)
{
    size_t n = 0;
    n = add(x, n, 0.0);
    n = add(x, n, DBL_TRUE_MIN);
    n = add(x, n, DBL_MIN);
    n = add(x, n, DBL_MIN - DBL_TRUE_MIN);
    n = add(x, n, DBL_MAX);
    for (int e = -1074; e <= 1023; e++)
        for (int j = 0; j < 8; j++) {
            double v = ldexp(1.0 + j / 8.0 + 0x1.3p-20, e);
            if (isfinite(v) && v > 0) n = add(x, n, v);
        }
    for (int k = 0; k <= 9000; k++) n = add(x, n, 45.0 * k / 9000.0 + 1e-9);
    for (int k = 0; k <= 2000; k++) n = add(x, n, 25.0 + 3.0 * k / 2000.0);
    for (int k = 0; k <= 2000; k++) n = add(x, n, 350.0 + 30.0 * k / 2000.0);
    for (int k = 0; k <= 2000; k++) n = add(x, n, 700.0 + 50.0 * k / 2000.0);
    for (int k = 0; k <= 4000; k++) n = add(x, n, 36.0 + 4.0 * k / 4000.0);
    ntk_rng rng;
    ntk_rng_seed(&rng, 7);
    for (int k = 0; k < 10000; k++) {
        double g = ntk_rng_normal(&rng);
        n = add(x, n, k % 2 ? 5.0 * g : g);
    }
    return n;
}
#define SWEEP_MAX 120000

/* ---- checks -------------------------------------------------------------- */

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The bound at one width: the worst error/tolerance over the sweep. */
static void check_bounds(int level, const double *x, size_t n, ld *rp, ld *rd, ld *rs,
                         double *phi, double *dphi)
{
    for (size_t a = 0; a < NSMOOTH; a++) {
        ntk_act act = mk(smooth[a]);
        for (size_t i = 0; i < n; i++) reference(act.kind, x[i], &rp[i], &rd[i], &rs[i]);
        ntk_act_apply(act, n, x, phi, dphi);
        double worst[2] = {0, 0}, ulps[2] = {0, 0};
        size_t where[2] = {0, 0};
        for (size_t i = 0; i < n; i++)
            for (int dv = 0; dv < 2; dv++) {
                double got = dv ? dphi[i] : phi[i];
                ld ref = dv ? rd[i] : rp[i];
                ld err = fabsl((ld)got - ref);
                double r = (double)(err / tolerance(act.kind, dv, x[i], ref, rs[i]));
                if (!(r <= worst[dv])) worst[dv] = r, where[dv] = i;   /* NaN too */
                /* the measured error in the bound's units (ulp; for gelu's
                 * φ', u·(Φ + |x|ϕ); gelu's only above its floors) */
                if (act.kind == NTK_ACT_GELU && dv && x[i] > -37.0)
                    ulps[1] = fmax(ulps[1], (double)(err / ((ld)U * rs[i])));
                else if (!(act.kind == NTK_ACT_GELU && (dv || x[i] < -37.0)))
                    ulps[dv] = fmax(ulps[dv], (double)(err / ulp_at(ref)));
            }
        for (int dv = 0; dv < 2; dv++) {
            size_t i = where[dv];
            CHECK_LE(worst[dv], 1.0, "%s %s at %s: x = %.17g gives %.17g, oracle %.20Lg",
                     ntk_act_name(act.kind), dv ? "phi'" : "phi", ntk_act_simd_name(level), x[i],
                     dv ? dphi[i] : phi[i], dv ? rd[i] : rp[i]);
        }
        printf("%-8s %-8s worst error/bound: phi %.3f, phi' %.3f; in ulp: phi %.2f",
               ntk_act_simd_name(level), ntk_act_name(act.kind), worst[0], worst[1], ulps[0]);
        if (act.kind == NTK_ACT_GELU)
            printf(", phi' %.2f u(Phi + |x|phi) (x > -37)\n", ulps[1]);
        else
            printf(", phi' %.2f\n", ulps[1]);
    }
}

/* Limits and propagation, exactly, for all eight activations. */
static void check_specials(int level)
{
    for (int k = 0; k < NTK_ACT_COUNT; k++) {
        ntk_act act = mk((ntk_act_kind)k);
        const char *nm = ntk_act_name(act.kind);
        double z[3] = {NAN, INFINITY, -INFINITY}, p[3], d[3];
        ntk_act_apply(act, 3, z, p, d);
        CHECK(isnan(p[0]) && isnan(d[0]), "%s at %s: phi(NaN) = %g, phi'(NaN) = %g", nm,
              ntk_act_simd_name(level), p[0], d[0]);
        /* φ(+Inf), φ(−Inf), φ'(+Inf), φ'(−Inf) */
        double e[4];
        switch (act.kind) {
        case NTK_ACT_ERF:
        case NTK_ACT_TANH: e[0] = 1, e[1] = -1, e[2] = 0, e[3] = 0; break;
        case NTK_ACT_SIGMOID: e[0] = 1, e[1] = 0, e[2] = 0, e[3] = 0; break;
        case NTK_ACT_SOFTPLUS:
        case NTK_ACT_GELU:
        case NTK_ACT_RELU: e[0] = INFINITY, e[1] = 0, e[2] = 1, e[3] = 0; break;
        case NTK_ACT_LEAKY_RELU: e[0] = INFINITY, e[1] = -INFINITY, e[2] = 1, e[3] = act.param; break;
        default: e[0] = INFINITY, e[1] = -INFINITY, e[2] = 1, e[3] = 1; break;
        }
        CHECK(p[1] == e[0] && p[2] == e[1] && d[1] == e[2] && d[2] == e[3],
              "%s at %s: phi(±Inf) = %g, %g, phi'(±Inf) = %g, %g; expected %g, %g, %g, %g", nm,
              ntk_act_simd_name(level), p[1], p[2], d[1], d[2], e[0], e[1], e[2], e[3]);
        /* odd maps keep the sign of zero */
        double zz[2] = {0.0, -0.0}, pz[2];
        ntk_act_apply(act, 2, zz, pz, NULL);
        if (act.kind == NTK_ACT_ERF || act.kind == NTK_ACT_TANH)
            CHECK(same_bits(pz[0], 0.0) && same_bits(pz[1], -0.0), "%s(±0) = %g, %g", nm, pz[0],
                  pz[1]);
    }
}

/* A value depends on its input and the width only: not on its position in
 * the array, where the threads split it, which outputs are asked for,
 * aliasing, or the scalar entry points. */
static void check_independence(int level, const double *x, size_t n, double *p1, double *d1,
                               double *p2, double *d2)
{
    int threads0 = ntk_get_threads();
    for (size_t a = 0; a < NSMOOTH; a++) {
        ntk_act act = mk(smooth[a]);
        const char *nm = ntk_act_name(act.kind);
        ntk_set_threads(1);
        ntk_act_apply(act, n, x, p1, d1);
        ntk_set_threads(2);
        ntk_act_apply(act, n, x, p2, d2);
        CHECK(memcmp(p1, p2, n * sizeof *p1) == 0 && memcmp(d1, d2, n * sizeof *d1) == 0,
              "%s at %s: 1 and 2 threads differ", nm, ntk_act_simd_name(level));
        /* shifted by one element (every value now in another lane and
         * piece, the last in a padded tail), one output at a time */
        ntk_act_apply(act, n - 1, x + 1, p2, NULL);
        ntk_act_apply(act, n - 1, x + 1, NULL, d2);
        CHECK(memcmp(p1 + 1, p2, (n - 1) * sizeof *p1) == 0 &&
                  memcmp(d1 + 1, d2, (n - 1) * sizeof *d1) == 0,
              "%s at %s: a value changes with its position or the outputs asked for", nm,
              ntk_act_simd_name(level));
        /* in place: dphi over the input, then phi over it */
        memcpy(p2, x, n * sizeof *p2);
        ntk_act_apply(act, n, p2, NULL, p2);
        memcpy(d2, x, n * sizeof *d2);
        ntk_act_apply(act, n, d2, d2, NULL);
        CHECK(memcmp(d1, p2, n * sizeof *p1) == 0 && memcmp(p1, d2, n * sizeof *d1) == 0,
              "%s at %s: output aliasing the input changes a value", nm, ntk_act_simd_name(level));
        size_t bad = 0;
        for (size_t i = 0; i < n; i += 13)
            if (!same_bits(ntk_act_phi(act, x[i]), p1[i]) ||
                !same_bits(ntk_act_dphi(act, x[i]), d1[i]))
                bad++;
        CHECK(bad == 0, "%s at %s: ntk_act_phi/dphi differ from ntk_act_apply at %zu inputs", nm,
              ntk_act_simd_name(level), bad);
    }
    ntk_set_threads(threads0);
}

int main(void)
{
    double *x = malloc(SWEEP_MAX * sizeof *x);
    size_t n = make_sweep(x);
    CHECK(n <= SWEEP_MAX, "sweep of %zu values overflows", n);
    ld *rp = malloc(n * sizeof *rp), *rd = malloc(n * sizeof *rd), *rs = malloc(n * sizeof *rs);
    double *b[4];
    for (int i = 0; i < 4; i++) b[i] = malloc(n * sizeof *b[i]);
    /* the CPU's widest width is the default */
    int best = ntk_act_simd_get(), widest = 0;
    for (int l = 0; l < NLEVELS; l++)
        if (ntk_act_simd_set(l) == 0) widest = l;
    CHECK(ntk_act_simd_set(-1) == 0 && ntk_act_simd_get() == best && best == widest,
          "default width %d, widest %d", best, widest);
    CHECK(ntk_act_simd_set(NLEVELS) == -1, "an unknown width is refused");
    printf("widths: default %s (%d values; ntk_get_threads %d)\n", ntk_act_simd_name(best),
           (int)n, ntk_get_threads());
    for (int l = 0; l < NLEVELS; l++) {
        if (ntk_act_simd_set(l) != 0) {
            printf("%s: not on this CPU, skipped\n", ntk_act_simd_name(l));
            continue;
        }
        check_bounds(l, x, n, rp, rd, rs, b[0], b[1]);
        check_specials(l);
        check_independence(l, x, n, b[0], b[1], b[2], b[3]);
    }
    ntk_act_simd_set(-1);
    for (int i = 0; i < 4; i++) free(b[i]);
    free(rp), free(rd), free(rs), free(x);
    return t_finish();
}
