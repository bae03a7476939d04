/* Compares the generated exp / expf (libm.h, rendered from templates/c/libm.j2) with the C
   library's:
     proof expf [STEP [FIRST]]  every one of the 2^32 floats (every STEP-th from FIRST)
     proof exp N SEED      N doubles: random bit patterns over the exponents models reach,
                           uniform draws over the whole range, and the edges
     proof sum N SEED      a digest of our exp and expf on the shared sample (sample.txt), which
                           the Go and Java versions print too
   Prints the number of inputs whose result differs (NaN equals NaN) and the first few. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libm.h"

#ifdef __cplusplus
extern "C" {
#endif
double ref_exp(double x);
float ref_expf(float x);
#ifdef __cplusplus
}
#endif

static uint64_t rng_state;

/* splitmix64: the same sequence in the Go and Java proofs */
static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Sample i, built from bits alone (no arithmetic a compiler option could change): random
   sign and mantissa, the exponent from 2^-60 .. 2^13 (i % 3 == 0), 1 .. 2^10 (1) or
   2^-10 .. 2^5 (2). */
static double sample(uint64_t i) {
    static const uint64_t lo[3] = {0x3c3, 0x3ff, 0x3f5}, span[3] = {74, 10, 15};
    uint64_t u = next_u64();
    u = (u & 0x800fffffffffffffu) | ((lo[i % 3] + (u >> 52) % span[i % 3]) << 52);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A float for expf: random sign and mantissa, exponent 2^-30 .. 2^7. */
static float sample_f(void) {
    uint64_t u = next_u64();
    uint32_t b = ((uint32_t)u & 0x807fffffu) | (uint32_t)((0x61 + (u >> 40) % 38) << 23);
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static const double edges[] = {
    0.0, -0.0, 1.0, -1.0, 0x1p-54, -0x1p-54, 0x1.fffffffffffffp-55, 0x1p-1074, 0x1p-1022,
    512.0, -512.0, 0x1.fffffffffffffp8, 709.782712893384, 709.7827128933841, 709.79, 710.0,
    -708.3964185322641, -708.4, -709.0, -744.4400719213812, -745.1332191019411, -745.1332191019412,
    -746.0, 1023.9999999999999, 1024.0, -1024.0, 1e300, -1e300, INFINITY, -INFINITY, NAN,
};

static int same64(double a, double b) {
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return x == y || (a != a && b != b);
}

static uint64_t check_exp(double x, uint64_t bad) {
    double a = tr_libm_exp(x), b = ref_exp(x);
    if (!same64(a, b)) {
        if (bad < 10) {
            printf("exp(%a) = %a, C library %a\n", x, a, b);
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "expf") == 0) {
        uint64_t bad = 0, step = argc >= 3 ? strtoull(argv[2], NULL, 10) : 1, n = 0;
        uint64_t first = argc >= 4 ? strtoull(argv[3], NULL, 10) : 0;
        for (uint64_t i = first; i < (1ull << 32); i += step, n++) {
            uint32_t u = (uint32_t)i;
            float x, a, b;
            uint32_t ua, ub;
            memcpy(&x, &u, sizeof x);
            a = tr_libm_expf(x);
            b = ref_expf(x);
            memcpy(&ua, &a, sizeof ua);
            memcpy(&ub, &b, sizeof ub);
            if (ua != ub && !(a != a && b != b)) {
                if (bad < 10) {
                    printf("expf(%a) = %a, C library %a\n", (double)x, (double)a, (double)b);
                }
                bad++;
            }
        }
        printf("expf: %llu of %llu differ\n", (unsigned long long)bad, (unsigned long long)n);
        return bad != 0;
    }
    if (argc == 4 && (strcmp(argv[1], "exp") == 0 || strcmp(argv[1], "sum") == 0)) {
        uint64_t n = strtoull(argv[2], NULL, 10), bad = 0, digest = 0;
        rng_state = strtoull(argv[3], NULL, 10);
        if (strcmp(argv[1], "sum") == 0) {
            for (uint64_t i = 0; i < n; i++) {
                double x = sample(i);
                float xf = sample_f();
                uint64_t a = tr_libm_bits(tr_libm_exp(x));
                uint32_t b;
                float f = tr_libm_expf(xf);
                memcpy(&b, &f, sizeof b);
                digest = (digest ^ a) * 0x100000001b3u;
                digest = (digest ^ b) * 0x100000001b3u;
            }
            printf("digest %016llx\n", (unsigned long long)digest);
            return 0;
        }
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
            bad += check_exp(edges[i], bad);
            bad += check_exp(nextafter(edges[i], 0.0), bad);
        }
        for (uint64_t i = 0; i < n; i++) {
            bad += check_exp(sample(i), bad);
        }
        printf("exp: %llu of %llu differ\n", (unsigned long long)bad, (unsigned long long)n);
        return bad != 0;
    }
    fprintf(stderr, "usage: proof expf [STEP [FIRST]] | proof exp N SEED | proof sum N SEED\n");
    return 2;
}
