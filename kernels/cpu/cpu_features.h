/* cpu_features.h - what this CPU (and its OS) can run, probed once per
 * process, and the SIMD kernel tables compiled into this binary.
 *
 * One translation unit per architecture provides these (chosen by the
 * Makefile): cpu_features_x86.c (cpuid + xgetbv), cpu_features_arm.c
 * (AArch64, getauxval) and cpu_features_generic.c (reports nothing, lists no
 * tables). */
#ifndef QLM_CPU_FEATURES_H
#define QLM_CPU_FEATURES_H

#include "ops.h"

enum {
    QLM_CPU_AVX2 = 1u << 0,
    QLM_CPU_FMA = 1u << 1,
    QLM_CPU_F16C = 1u << 2,
    QLM_CPU_AVX512F = 1u << 3,
    QLM_CPU_AVX512BW = 1u << 4,
    QLM_CPU_AVX512VL = 1u << 5,
    QLM_CPU_AVX512VNNI = 1u << 6,
    QLM_CPU_AVX512BF16 = 1u << 7,
    QLM_CPU_AVXVNNI = 1u << 8,
    QLM_CPU_AVX512FP16 = 1u << 9,
    /* AArch64 (HWCAP_ASIMD, HWCAP_ASIMDDP, HWCAP2_I8MM) */
    QLM_CPU_NEON = 1u << 10,
    QLM_CPU_DOTPROD = 1u << 11,
    QLM_CPU_I8MM = 1u << 12,
    /* Intel AMX tiles with int8 / bf16 dot products (CPUID, XCR0's tile
     * state, and on Linux the per-process permission arch_prctl grants) */
    QLM_CPU_AMXINT8 = 1u << 13,
    QLM_CPU_AMXBF16 = 1u << 14
};

/* Feature bits (QLM_CPU_*) usable here: the instruction set is present and the
 * OS saves the registers it needs. Probed on first call, thread-safe. */
unsigned qlm_cpu_features(void);

/* The same as words ("avx2 fma f16c ..."), "" when nothing was found. */
const char *qlm_cpu_features_str(void);

/* A SIMD table and the feature bits it was compiled for. */
typedef struct qlm_cpu_table {
    const qlm_ops *ops;
    unsigned needs;
} qlm_cpu_table;

/* The SIMD tables built into this binary, best first; returns how many. */
int qlm_cpu_tables(const qlm_cpu_table **tables);

#endif
