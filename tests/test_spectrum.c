/* Eigen-decompositions and kernel distances against matrices with known
 * spectra (Householder similarity) and the closed-form 3×3 eigenvalues.
 *
 * Tolerances. dsyevd is backward stable: the computed Λ, Q are exact for
 * K + E, ‖E‖ ≤ R_n·‖K‖ with R_n = C_ROUND·n·ε (LAPACK's p(n)ε; C_ROUND = 4
 * covers the few stages), so eigenvalues move by at most that (Weyl). The
 * test matrices K = H Λ Hᵀ are built by loops: n-term sums of |H||Λ||H| ≤
 * 9‖Λ‖ (|H| ≤ I + 2|u||u|ᵀ/uᵀu), with H orthogonal up to its uᵀu, (n + 4)ε,
 * so K is within built_err = (9n + 6(n + 4))ε·‖Λ‖ of a matrix with spectrum
 * exactly Λ. A product of n terms computed here adds nε of Σ|terms|. */
#include "harness.h"
#include "ntkit.h"

#include <float.h>

#define C_ROUND 4.0

static double R_n(size_t n) { return C_ROUND * (double)n * DBL_EPSILON; }

static double built_err(size_t n, double lmax)
{
    return (9.0 * n + 6.0 * (n + 4)) * DBL_EPSILON * lmax;
}
/* u (n) -> H (n,n) = I − 2uuᵀ/(uᵀu), orthogonal and symmetric. */
static void householder(const double *u, size_t n, double *H)
{
    double uu = 0.0;
    for (size_t i = 0; i < n; i++) uu += u[i] * u[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) H[i * n + j] = (i == j) - 2.0 * u[i] * u[j] / uu;
}

/* H (n,n), lam (n) -> K = H diag(lam) Hᵀ, plain loops. */
static void with_spectrum(const double *H, const double *lam, size_t n, double *K)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < n; k++) acc += H[i * n + k] * lam[k] * H[j * n + k];
            K[i * n + j] = acc;
        }
}

/* Eigenvalues of a symmetric 3×3 matrix by the trigonometric closed form,
 * returned ascending, and *err their error bound: B = (A − qI)/p and its
 * determinant carry ~10ε(1 + |q|/p), which arccos amplifies by 1/√(1 − r²),
 * and 2p·cos(·) + q a few ε of |q| + 2p. */
static void eig3(const double *A, double *e, double *err)
{
    double p1 = A[1] * A[1] + A[2] * A[2] + A[5] * A[5];
    double q = (A[0] + A[4] + A[8]) / 3.0;
    double p2 = (A[0] - q) * (A[0] - q) + (A[4] - q) * (A[4] - q) + (A[8] - q) * (A[8] - q) +
                2.0 * p1;
    double p = sqrt(p2 / 6.0);
    if (p == 0.0) {
        e[0] = e[1] = e[2] = q;
        *err = 4.0 * DBL_EPSILON * fabs(q);
        return;
    }
    double B[9];
    for (int i = 0; i < 9; i++) B[i] = (A[i] - (i % 4 == 0 ? q : 0.0)) / p;
    double det = B[0] * (B[4] * B[8] - B[5] * B[7]) - B[1] * (B[3] * B[8] - B[5] * B[6]) +
                 B[2] * (B[3] * B[7] - B[4] * B[6]);
    double r = fmax(-1.0, fmin(1.0, det / 2.0));
    double phi = acos(r) / 3.0;
    e[2] = q + 2.0 * p * cos(phi);
    e[0] = q + 2.0 * p * cos(phi + 2.0 * M_PI / 3.0);
    e[1] = 3.0 * q - e[0] - e[2];
    double dr = 10.0 * DBL_EPSILON * (1.0 + fabs(q) / p);
    *err = (16.0 + 2.0 * dr / DBL_EPSILON / sqrt(fmax(1.0 - r * r, 1e-300))) * DBL_EPSILON *
           (fabs(q) + 2.0 * p);
}

/* ‖A‖_op of a symmetric 3×3 matrix and *err its bound */
static double op3(const double *A, double *err)
{
    double e[3];
    eig3(A, e, err);
    return fmax(fabs(e[0]), fabs(e[2]));
}

static void test_eigh(void)
{
    const size_t n = 30;
    ntk_rng rng;
    ntk_rng_seed(&rng, 21);
    double u[n], lam[n], w[n], w2[n];
    double *H = malloc(n * n * sizeof(double)), *K = malloc(n * n * sizeof(double));
    double *Q = malloc(n * n * sizeof(double)), *R = malloc(n * n * sizeof(double));
    ntk_rng_normal_fill(&rng, u, n);
    householder(u, n, H);
    for (size_t k = 0; k < n; k++) lam[k] = -3.0 + 0.5 * (double)k;   /* known, ascending */
    with_spectrum(H, lam, n, K);
    CHECK_OK(ntk_eigh(K, n, w, Q));
    double lmax = 11.5, tol_ev = (built_err(n, lmax) + R_n(n) * lmax) / lmax;
    CHECK_LE(t_max_rel_err(w, lam, n), tol_ev, "known eigenvalues: rel err");
    /* Q Λ Qᵀ = K and Qᵀ Q = I */
    with_spectrum(Q, w, n, R);
    /* backward error R_n‖K‖ plus this product's nε·Σ_k|Q_ik||λ_k||Q_jk| ≤ nε·‖K‖ */
    double kmax = 0.0;
    for (size_t i = 0; i < n * n; i++) kmax = fmax(kmax, fabs(K[i]));
    CHECK_LE(t_max_rel_err(R, K, n * n), (R_n(n) + n * DBL_EPSILON) * lmax / kmax,
             "reconstruction rel err");
    double orth = 0.0;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double acc = 0.0;
            for (size_t i = 0; i < n; i++) acc += Q[i * n + a] * Q[i * n + b];
            orth = fmax(orth, fabs(acc - (a == b)));
        }
    CHECK_LE(orth, R_n(n) + n * DBL_EPSILON, "Q^T Q - I");
    /* eigenvector k in column k: K q_k = λ_k q_k */
    double resid = 0.0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < n; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < n; j++) acc += K[i * n + j] * Q[j * n + k];
            resid = fmax(resid, fabs(acc - w[k] * Q[i * n + k]));
        }
    /* ‖E‖ and this product's nε·Σ_j|K_ij||Q_jk| ≤ nε·‖K_i‖₂ ≤ nε·‖K‖ */
    CHECK_LE(resid, (R_n(n) + n * DBL_EPSILON) * lmax, "K q_k - lambda_k q_k");
    /* values only, and a random symmetric matrix */
    CHECK_OK(ntk_eigh(K, n, w2, NULL));
    /* values only takes another LAPACK path: each within R_n‖K‖ */
    CHECK_LE(t_max_rel_err(w2, w, n), 2.0 * R_n(n), "values-only differ");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) K[i * n + j] = K[j * n + i] = ntk_rng_normal(&rng);
    CHECK_OK(ntk_eigh(K, n, w, Q));
    with_spectrum(Q, w, n, R);
    kmax = 0.0;
    for (size_t i = 0; i < n * n; i++) kmax = fmax(kmax, fabs(K[i]));
    lmax = fmax(fabs(w[0]), fabs(w[n - 1]));
    CHECK_LE(t_max_rel_err(R, K, n * n), (R_n(n) + n * DBL_EPSILON) * lmax / kmax,
             "random reconstruction");
    int asc = 1;
    for (size_t k = 1; k < n; k++) asc &= w[k] >= w[k - 1];
    CHECK(asc, "eigenvalues not ascending");
    /* 2×2 by hand: [[2,1],[1,2]] has 1 and 3 */
    double A2[4] = {2, 1, 1, 2}, w22[2];
    CHECK_OK(ntk_eigh(A2, 2, w22, NULL));
    CHECK_LE(fabs(w22[0] - 1.0), R_n(2) * 3.0, "2x2: %.17g", w22[0]);
    CHECK_LE(fabs(w22[1] - 3.0), R_n(2) * 3.0, "2x2: %.17g", w22[1]);
    /* symmetry check: 1e-10 relative passes, 1e-6 fails with a suggestion */
    K[1 * n + 4] += 1e-10;
    CHECK_OK(ntk_eigh(K, n, w, NULL));
    K[1 * n + 4] += 1e-6 * 4;
    CHECK_ERR(ntk_eigh(K, n, w, NULL), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "symmetrise") != NULL, "message: %s", ntk_errmsg());
    K[1 * n + 4] = NAN;
    CHECK_ERR(ntk_eigh(K, n, w, NULL), NTK_ERR_NONFINITE);
    CHECK_ERR(ntk_eigh(NULL, n, w, NULL), NTK_ERR_ARG);
    CHECK_ERR(ntk_eigh(K, 0, w, NULL), NTK_ERR_ARG);
    free(H), free(K), free(Q), free(R);
}

static void test_summary(void)
{
    const size_t n = 12;
    ntk_rng rng;
    ntk_rng_seed(&rng, 22);
    double u[n], lam[n], H[n * n], K[n * n];
    ntk_rng_normal_fill(&rng, u, n);
    householder(u, n, H);
    for (size_t k = 0; k < n; k++) lam[k] = 0.5 + (19.5 / (double)(n - 1)) * (double)k;
    with_spectrum(H, lam, n, K);
    ntk_spectrum_summary sm;
    CHECK_OK(ntk_spectrum_summary_of(K, n, &sm));
    /* each eigenvalue within built_err + R_n·20; cond = 20/0.5 adds both
     * relative errors */
    double de = built_err(n, 20.0) + R_n(n) * 20.0;
    CHECK_LE(fabs(sm.lmin - 0.5), de, "lmin");
    CHECK_LE(fabs(sm.lmax - 20.0), de, "lmax");
    CHECK_LE(fabs(sm.cond - 40.0), 40.0 * (de / 20.0 + de / 0.5) + 2 * DBL_EPSILON * 40, "cond");
    lam[0] = -1.0;
    with_spectrum(H, lam, n, K);
    CHECK_OK(ntk_spectrum_summary_of(K, n, &sm));
    CHECK_LE(fabs(sm.lmin + 1.0), de, "negative lmin");
    CHECK(isinf(sm.cond), "cond %g should be Inf for lmin <= 0", sm.cond);
}

static void test_distance(void)
{
    const size_t n = 16;
    ntk_rng rng;
    ntk_rng_seed(&rng, 23);
    double u[n], la[n], lb[n], H[n * n], A[n * n], B[n * n];
    ntk_rng_normal_fill(&rng, u, n);
    householder(u, n, H);
    double op = 0.0, bop = 0.0;
    for (size_t k = 0; k < n; k++) {
        la[k] = 1.0 + (double)k + 0.1 * ntk_rng_normal(&rng);
        lb[k] = 1.0 + (double)k;
        op = fmax(op, fabs(la[k] - lb[k]));
        bop = fmax(bop, fabs(lb[k]));
    }
    with_spectrum(H, la, n, A);
    with_spectrum(H, lb, n, B);
    double fro = 0.0, bfro = 0.0;
    for (size_t i = 0; i < n * n; i++) {
        fro += (A[i] - B[i]) * (A[i] - B[i]);
        bfro += B[i] * B[i];
    }
    fro = sqrt(fro), bfro = sqrt(bfro);
    ntk_kernel_dist dist;
    CHECK_OK(ntk_kernel_distance(A, B, n, &dist));
    /* A − B = H diag(la − lb) Hᵀ, but A and B each carry built_err of
     * their own spectra (‖A‖ + ‖B‖ ≈ 33 against ‖A − B‖ ≈ 0.2); the op norm
     * adds R_n‖A − B‖, the Frobenius norm √n times the 2-norm's error */
    double amax = 0.0;
    for (size_t k = 0; k < n; k++) amax = fmax(amax, fabs(la[k]));
    double dd = built_err(n, amax) + built_err(n, bop) + R_n(n) * op;
    CHECK_LE(fabs(dist.op - op), dd, "op");
    CHECK_LE(fabs(dist.fro - fro), sqrt((double)n) * dd + R_n(n * n) * fro, "fro");
    CHECK_LE(fabs(dist.rel_op - op / bop), (dd / op + (built_err(n, bop) + R_n(n) * bop) / bop) *
                                               op / bop,
             "rel op");
    CHECK_LE(fabs(dist.rel_fro - fro / bfro),
             ((sqrt((double)n) * dd + R_n(n * n) * fro) / fro + R_n(n * n)) * fro / bfro,
             "rel fro");
    /* general symmetric 3×3 pair against the closed-form eigenvalues */
    double A3[9] = {2.0, 0.3, -0.7, 0.3, 1.1, 0.25, -0.7, 0.25, 3.0};
    double B3[9] = {1.5, -0.2, 0.1, -0.2, 2.2, 0.4, 0.1, 0.4, 0.9};
    double D3[9];
    for (int i = 0; i < 9; i++) D3[i] = A3[i] - B3[i];
    CHECK_OK(ntk_kernel_distance(A3, B3, 3, &dist));
    double eD, eB, oD = op3(D3, &eD), oB = op3(B3, &eB);
    CHECK_LE(fabs(dist.op - oD), eD + R_n(3) * oD, "3x3 op");
    CHECK_LE(fabs(dist.rel_op - oD / oB), ((eD + R_n(3) * oD) / oD + (eB + R_n(3) * oB) / oB) *
                                              oD / oB,
             "3x3 rel op");
    /* identical matrices: zero; asymmetric input: refused */
    CHECK_OK(ntk_kernel_distance(B, B, n, &dist));
    CHECK(dist.op == 0.0 && dist.fro == 0.0 && dist.rel_op == 0.0, "self distance nonzero");
    A[3] += 1.0;
    CHECK_ERR(ntk_kernel_distance(A, B, n, &dist), NTK_ERR_ARG);
    CHECK_ERR(ntk_kernel_distance(A, B, n, NULL), NTK_ERR_ARG);
}

/* ‖K^{-1/2} KN K^{-1/2} − I‖_op with K^{-1/2} = H diag(λ^{-1/2}) H built by
 * hand and the product taken by plain loops. */
static void test_normalized(void)
{
    const double u[3] = {0.3, -1.2, 0.8}, lam[3] = {4.0, 1.0, 9.0};
    const double isq[3] = {0.5, 1.0, 1.0 / 3.0};
    double H[9], K[9], S[9], KN[9], T[9], M[9];
    householder(u, 3, H);
    with_spectrum(H, lam, 3, K);
    with_spectrum(H, isq, 3, S);
    const double P[9] = {0.2, -0.1, 0.05, -0.1, 0.4, 0.3, 0.05, 0.3, -0.6};
    for (int i = 0; i < 9; i++) KN[i] = K[i] + P[i];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[i * 3 + j] = 0.0;
            for (int k = 0; k < 3; k++) T[i * 3 + j] += KN[i * 3 + k] * S[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[i * 3 + j] = -(double)(i == j);
            for (int k = 0; k < 3; k++) M[i * 3 + j] += S[i * 3 + k] * T[k * 3 + j];
        }
    /* K^{-1/2} from dsyevd of K: relative error R_3·κ(K), κ = 9, on each
     * side of K^{-1/2} KN K^{-1/2}, whose norm is ≤ ‖KN‖/λ_min = ‖KN‖; the
     * products (here and in the library) a few ε of the same; eig3's own */
    double nd, eM, oM = op3(M, &eM), kn, ekn, ek;
    kn = op3(KN, &ekn);
    double ntol = (2.0 * 9.0 + 4.0) * R_n(3) * (kn + ekn) / 1.0 + eM;
    CHECK_OK(ntk_normalized_distance(K, KN, 3, &nd));
    CHECK_LE(fabs(nd - oM), ntol, "normalized distance 3x3");
    CHECK_OK(ntk_normalized_distance(K, K, 3, &nd));
    double ktol = (2.0 * 9.0 + 4.0) * R_n(3) * (op3(K, &ek) + ek);
    CHECK_LE(nd, ktol, "normalized distance of K to itself %.3g", nd);
    /* 2K: K^{-1/2}(2K)K^{-1/2} − I = I, norm 1 */
    double K2[9];
    for (int i = 0; i < 9; i++) K2[i] = 2.0 * K[i];
    CHECK_OK(ntk_normalized_distance(K, K2, 3, &nd));
    CHECK_LE(fabs(nd - 1.0), 2.0 * ktol, "2K");
    const double neg[3] = {-0.5, 1.0, 2.0};
    with_spectrum(H, neg, 3, K2);
    CHECK_ERR(ntk_normalized_distance(K2, KN, 3, &nd), NTK_ERR_ARG);
    CHECK(strstr(ntk_errmsg(), "positive definite") != NULL, "message: %s", ntk_errmsg());
}

int main(void)
{
    test_eigh();
    test_summary();
    test_distance();
    test_normalized();
    return t_finish();
}
