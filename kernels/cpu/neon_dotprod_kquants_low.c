/* neon_dotprod_kquants_low.c - neon_kquants_low.c again, compiled with
 * -march=armv8.2-a+dotprod (Makefile) so its 16-value dots are one SDOT
 * each; the names end in _neon_dot (kernels.h, QLM_NEON_FN) for the
 * "neon-dot" table. Same integer sums, so the same bits as "neon". */
#ifndef __ARM_FEATURE_DOTPROD
#error "neon_dotprod_kquants_low.c must be compiled with -march=armv8.2-a+dotprod (see the Makefile)"
#endif

#include "neon_kquants_low.c"
