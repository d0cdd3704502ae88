/* exact.h - exact dot products (in double) for the weight formats whose
 * to_float rounds, so kcheck's generic oracle (dequantize both rows, multiply
 * in double) would not be exact for them. One file per format family; each
 * returns 1 and sets *want (the exact value of the dot product as the format
 * defines it, with the activation block's stored fields) and *mag (sum of
 * |terms|, what rounding bounds are relative to) when it knows wtype, else 0. */
#ifndef QLM_KCHECK_EXACT_H
#define QLM_KCHECK_EXACT_H

#include <stdint.h>

#include "types.h"

int kcheck_exact_dot_q5(qlm_type wtype, const void *w, const void *a, int64_t n, double *want, double *mag);
int kcheck_exact_dot_kquants(qlm_type wtype, const void *w, const void *a, int64_t n, double *want, double *mag);
int kcheck_exact_dot_kquants_low(qlm_type wtype, const void *w, const void *a, int64_t n, double *want,
                                 double *mag);

#endif
