/* system.c - what the library chose for this machine. */
#include "ops.h"
#include "qlm.h"

const char *qlm_system_info(void) {
    return qlm_ops_select()->name;
}
