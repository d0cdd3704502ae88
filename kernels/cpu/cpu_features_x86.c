/* cpu_features_x86.c - x86-64 feature probe (cpuid + xgetbv) and the list of
 * ISA tables this binary carries. A feature counts only if the CPU has it
 * *and* the OS saves the register state it uses (XCR0), as the Intel SDM
 * vol. 1 ch. 13 requires before using AVX/AVX-512. */
#include <cpuid.h>
#include <pthread.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cpu_features.h"

extern const qlm_ops qlm_ops_avx2;
extern const qlm_ops qlm_ops_avx512;
extern const qlm_ops qlm_ops_amx;

/* The probe result: the only global state of the library, written once. */
static unsigned g_features;
static char g_features_str[160];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static unsigned long long read_xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* Linux hands out AMX's 8 KiB tile-data state only to processes that ask
 * for it (arch_prctl ARCH_REQ_XCOMP_PERM, feature 18 XTILEDATA; kernel
 * 5.16+); a tile instruction without it faults. Asking again is harmless. */
static int amx_permitted(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return 0;
#endif
}

/* AMX bits (CPUID leaf 7 EDX: 22 AMX-BF16, 24 AMX-TILE, 25 AMX-INT8) when
 * XCR0 enables the tile config and data state (bits 17, 18) and the OS
 * grants this process the tile data. */
static unsigned probe_amx(unsigned edx7, unsigned long long xcr0) {
    const int tile = (edx7 >> 24) & 1, state = (xcr0 & 0x60000) == 0x60000;
    if (!tile || !state || !amx_permitted()) return 0;
    return ((edx7 >> 25) & 1 ? QLM_CPU_AMXINT8 : 0) | ((edx7 >> 22) & 1 ? QLM_CPU_AMXBF16 : 0);
}

/* Bits from the Intel SDM, CPUID leaf 1 and leaf 7 sub-leaves 0 and 1. */
static unsigned probe_bits(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return 0;
    const unsigned long long xcr0 = read_xcr0();
    const int ymm_ok = (xcr0 & 0x6) == 0x6;   /* SSE + AVX state */
    const int zmm_ok = (xcr0 & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (!ymm_ok) return 0;
    if (fma) f |= QLM_CPU_FMA;
    if (f16c) f |= QLM_CPU_F16C;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const unsigned max_sub = a;
    if ((b >> 5) & 1) f |= QLM_CPU_AVX2;
    if (zmm_ok) {
        if ((b >> 16) & 1) f |= QLM_CPU_AVX512F;
        if ((b >> 30) & 1) f |= QLM_CPU_AVX512BW;
        if ((b >> 31) & 1) f |= QLM_CPU_AVX512VL;
        if ((c >> 11) & 1) f |= QLM_CPU_AVX512VNNI;
        if ((d >> 23) & 1) f |= QLM_CPU_AVX512FP16;
        f |= probe_amx(d, xcr0);
    }
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        if ((a >> 4) & 1) f |= QLM_CPU_AVXVNNI;
        if (zmm_ok && ((a >> 5) & 1)) f |= QLM_CPU_AVX512BF16;
    }
    return f;
}

static void probe_once(void) {
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{QLM_CPU_AVX2, "avx2"},         {QLM_CPU_FMA, "fma"},
                 {QLM_CPU_F16C, "f16c"},         {QLM_CPU_AVX512F, "avx512f"},
                 {QLM_CPU_AVX512BW, "avx512bw"}, {QLM_CPU_AVX512VL, "avx512vl"},
                 {QLM_CPU_AVX512VNNI, "avx512vnni"}, {QLM_CPU_AVX512BF16, "avx512bf16"},
                 {QLM_CPU_AVXVNNI, "avxvnni"},   {QLM_CPU_AVX512FP16, "avx512fp16"},
                 {QLM_CPU_AMXINT8, "amx-int8"},  {QLM_CPU_AMXBF16, "amx-bf16"}};
    g_features = probe_bits();
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
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

/* amx: Sapphire Rapids and later Xeons (the AVX-512 table plus AMX int8 and
 * bf16 prompt tiles); avx512: Skylake-SP and later servers, Ice Lake / Sapphire Rapids and Zen 4
 * (VNNI + BF16 narrow it to Cooper Lake, Sapphire Rapids, Zen 4 and later);
 * avx2: Haswell / Zen 1 and later. */
#define NEEDS_AVX512                                                                                       \
    (QLM_CPU_AVX512F | QLM_CPU_AVX512BW | QLM_CPU_AVX512VL | QLM_CPU_AVX512VNNI | QLM_CPU_AVX512BF16 |     \
     QLM_CPU_FMA | QLM_CPU_F16C | QLM_CPU_AVX2)
static const qlm_cpu_table tables[] = {
    {&qlm_ops_amx, NEEDS_AVX512 | QLM_CPU_AMXINT8 | QLM_CPU_AMXBF16},
    {&qlm_ops_avx512, NEEDS_AVX512},
    {&qlm_ops_avx2, QLM_CPU_AVX2 | QLM_CPU_FMA | QLM_CPU_F16C},
};

int qlm_cpu_tables(const qlm_cpu_table **out) {
    *out = tables;
    return (int)(sizeof tables / sizeof tables[0]);
}
