/* select.c - picks the kernel table once at startup. Only the scalar
 * reference exists so far; the ISA tables (AVX2, AVX-512, NEON) plug in here,
 * chosen by cpuid/xgetbv or getauxval, with QLM_CPU=<name> to force one. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"

const qlm_ops *qlm_ops_select(void) {
    /* Reading the environment is the only input; the result is a constant table. */
    return &qlm_ops_ref;
}

int qlm_ops_list(const qlm_ops **tables, int cap) {
    if (cap < 1) return 0;
    tables[0] = &qlm_ops_ref;
    return 1;
}
