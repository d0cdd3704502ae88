/* neon_dotprod_kquants.c - neon_kquants.c again, compiled with
 * -march=armv8.2-a+dotprod (Makefile: neon_dotprod_*.c) so its int8 dots
 * use SDOT; the functions are named ..._neon_dot (QLM_NEON_FN, kernels.h)
 * and return exactly what the baseline build does. The "neon-dot" table
 * (neon.c built by neon_dotprod.c) picks them. */
#ifndef __ARM_FEATURE_DOTPROD
#error "neon_dotprod_kquants.c must be compiled with -march=armv8.2-a+dotprod (see the Makefile)"
#endif

#include "neon_kquants.c"
