/* cpu_features_arm.c - AArch64 feature probe and the list of NEON tables
 * this binary carries. User space cannot read the ID registers portably, so
 * Linux reports features through the auxiliary vector (getauxval AT_HWCAP /
 * AT_HWCAP2); a bit there means the CPU has the feature and the kernel lets
 * user space use it. */
#include <pthread.h>
#include <string.h>

#include "cpu_features.h"

#if defined(__linux__)
#include <sys/auxv.h>
/* Kernel ABI bit values (arch/arm64/include/uapi/asm/hwcap.h), for C
 * libraries whose headers predate them. */
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1ul << 13)
#endif

static unsigned probe_bits(void) {
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    unsigned f = 0;
    if (!(hw & HWCAP_ASIMD)) return 0; /* every table here needs Advanced SIMD */
    f |= QLM_CPU_NEON;
    if (hw & HWCAP_ASIMDDP) f |= QLM_CPU_DOTPROD;
    if (hw2 & HWCAP2_I8MM) f |= QLM_CPU_I8MM;
    return f;
}
#else
/* No auxiliary vector: Advanced SIMD is part of the AArch64 base ABI, the
 * optional extensions cannot be known, so only the baseline table runs. */
static unsigned probe_bits(void) { return QLM_CPU_NEON; }
#endif

extern const qlm_ops qlm_ops_neon;
extern const qlm_ops qlm_ops_neon_dot;

/* The probe result: the only global state of the library, written once. */
static unsigned g_features;
static char g_features_str[64];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void probe_once(void) {
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{QLM_CPU_NEON, "neon"}, {QLM_CPU_DOTPROD, "dotprod"}, {QLM_CPU_I8MM, "i8mm"}};
    g_features = probe_bits();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(g_features & names[i].bit)) continue;
        if (g_features_str[0]) strcat(g_features_str, " ");
        strcat(g_features_str, names[i].name);
    }
}

unsigned qlm_cpu_features(void) {
    pthread_once(&g_once, probe_once);
    return g_features;
}

const char *qlm_cpu_features_str(void) {
    pthread_once(&g_once, probe_once);
    return g_features_str;
}

/* neon-dot: ARMv8.2 dot product (SDOT): Cortex-A55/A75/A76 and later,
 * Neoverse N1/V1/N2, Apple M1 and later, Graviton 2/3; neon: any AArch64. */
static const qlm_cpu_table tables[] = {
    {&qlm_ops_neon_dot, QLM_CPU_NEON | QLM_CPU_DOTPROD},
    {&qlm_ops_neon, QLM_CPU_NEON},
};

int qlm_cpu_tables(const qlm_cpu_table **out) {
    *out = tables;
    return (int)(sizeof tables / sizeof tables[0]);
}
