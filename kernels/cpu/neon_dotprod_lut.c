/* neon_dotprod_lut.c - neon_lut.c again, compiled with -march=armv8.2-a+dotprod
 * (Makefile: neon_dotprod_*.c) so its block dots use SDOT; its functions
 * are the "neon-dot" table's (QLM_NEON_FN in kernels.h: *_neon_dot). Same
 * int32 lanes as the baseline build, so the same results bit for bit. */
#ifndef __ARM_FEATURE_DOTPROD
#error "neon_dotprod_lut.c must be compiled with -march=armv8.2-a+dotprod (see the Makefile)"
#endif

#include "neon_lut.c"
