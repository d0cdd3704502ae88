/* system.c - what the library chose for this machine. */
#include "cpu_features.h"
#include "qlm.h"

const char *qlm_system_info(void) {
    return qlm_ops_select()->name;
}

const char *qlm_system_cpu_features(void) {
    return qlm_cpu_features_str();
}

const char *qlm_system_kernels_note(void) {
    const char *note;
    qlm_ops_select_note(&note);
    return note;
}
