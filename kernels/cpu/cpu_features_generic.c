/* cpu_features_generic.c - the probe for architectures without SIMD tables
 * yet (NEON will get its own file, probing with getauxval): nothing is
 * reported, so qlm_ops_select always picks the scalar reference. */
#include "cpu_features.h"

unsigned qlm_cpu_features(void) { return 0; }

const char *qlm_cpu_features_str(void) { return ""; }

int qlm_cpu_tables(const qlm_cpu_table **tables) {
    *tables = NULL;
    return 0;
}
