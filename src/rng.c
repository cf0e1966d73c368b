/* Random numbers: xoshiro256** (Blackman and Vigna) seeded through
 * splitmix64, and Box–Muller normals. The same seed gives the same stream on
 * every platform. */
#include "internal.h"

#include <cblas.h>
#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ntk_rng_seed(ntk_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
    rng->has_spare = 0;
    rng->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ntk_rng_u64(ntk_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ntk_rng_uniform(ntk_rng *rng) { return (double)(ntk_rng_u64(rng) >> 11) * 0x1.0p-53; }

double ntk_rng_normal(ntk_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1, u2;
    do {
        u1 = ntk_rng_uniform(rng);
    } while (u1 <= 0.0);
    u2 = ntk_rng_uniform(rng);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 2.0 * M_PI * u2;
    rng->spare = rad * sin(ang);
    rng->has_spare = 1;
    return rad * cos(ang);
}

void ntk_rng_normal_fill(ntk_rng *rng, double *x, size_t count)
{
    for (size_t i = 0; i < count; i++) x[i] = ntk_rng_normal(rng);
}

/* x (d) uniform on the unit sphere: a normal vector, normalised (redrawn in
 * the event of a zero vector). */
void ntk_rng_unit_vector(ntk_rng *rng, size_t d, double *x)
{
    double norm;
    do {
        ntk_rng_normal_fill(rng, x, d);
        norm = ntk_nrm2(d, x);
    } while (norm == 0.0);
    ntk_scal(d, 1.0 / norm, x);
}
