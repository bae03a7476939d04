/* The C library's own exp and expf, in a file compiled without fast-math options (with them,
   a compiler may swap in its vector library's versions). */
#include <math.h>

double ref_exp(double x) {
    return exp(x);
}

float ref_expf(float x) {
    return expf(x);
}
