/* tensor.h - a weight matrix as the forward pass sees it. */
#ifndef QLM_TENSOR_H
#define QLM_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* ne[0] is the contiguous dimension: for a weight matrix W (out, in) stored
 * row-major, ne[0] = in and ne[1] = out, so y = W x reads ne[1] rows of
 * row_bytes each. data == NULL means "absent" (optional tensors). */
/* How a tensor's rows are laid out in memory: as in the file, or
 * interleaved 16 at a time for the SIMD kernels (kernels/cpu/pack.h). */
typedef enum qlm_layout { QLM_LAYOUT_ROWS = 0, QLM_LAYOUT_R16 = 1 } qlm_layout;

typedef struct qlm_tensor {
    const char *name;
    qlm_type type;
    int64_t ne[4];
    size_t row_bytes;
    const void *data;
    qlm_layout layout; /* QLM_LAYOUT_ROWS unless the loader packed it */
} qlm_tensor;

static inline int64_t qlm_tensor_rows(const qlm_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }

#endif
