/* neon_dotprod.c - the NEON table again, compiled with
 * -march=armv8.2-a+dotprod (Makefile) so that neon.c's int8 block dot uses
 * SDOT (vdotq_s32): one instruction per 16 bytes instead of four. Same
 * source, same int32 lanes, so "neon-dot" returns exactly what "neon" does;
 * it is picked only when the CPU reports HWCAP_ASIMDDP (cpu_features_arm.c). */
#ifndef __ARM_FEATURE_DOTPROD
#error "neon_dotprod.c must be compiled with -march=armv8.2-a+dotprod (see the Makefile)"
#endif

#define QLM_NEON_OPS qlm_ops_neon_dot
#define QLM_NEON_NAME "neon-dot"
#include "neon.c"
