/* exp.h - the constants of qlm_expf_ref (ref.c), shared by the SIMD
 * versions that replay it lane by lane. */
#ifndef QLM_CPU_EXP_H
#define QLM_CPU_EXP_H

#define QLM_EXP_HI 88.7228317f   /* above: exp overflows float */
#define QLM_EXP_LO -87.3365479f  /* below: the result is under 2^-126; flushed to 0 */
#define QLM_LOG2E 1.44269504f
#define QLM_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */
#define QLM_LN2_HI 0.693359375f  /* ln 2 in 9 bits: n * QLM_LN2_HI is exact */
#define QLM_LN2_LO -2.12194440e-4f
#define QLM_EXP_P0 1.9875691500e-4f
#define QLM_EXP_P1 1.3981999507e-3f
#define QLM_EXP_P2 8.3334519073e-3f
#define QLM_EXP_P3 4.1665795894e-2f
#define QLM_EXP_P4 1.6666665459e-1f
#define QLM_EXP_P5 5.0000001201e-1f

/* GELU-tanh (qlm_cpu_geglu_ref): 2 sqrt(2/pi) and the cubic coefficient. */
#define QLM_GELU_2K 1.5957691216057308f
#define QLM_GELU_C3 0.044715f

#endif
