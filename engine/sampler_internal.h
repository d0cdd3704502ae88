/* sampler_internal.h - test hooks into the sampler chain (not public API). */
#ifndef QLM_SAMPLER_INTERNAL_H
#define QLM_SAMPLER_INTERNAL_H

#include "qlm.h"

/* Runs every filtering stage of the chain (everything but the final pick) over
 * logits and reports the surviving candidates in the chain's final order:
 * their ids into ids[] and, when logits_out is non-NULL, their (penalised,
 * temperature-scaled) logits. Both arrays must hold cap entries; *n_out gets
 * the number of survivors. A chain without a pick is accepted here. Same size
 * contract as qlm_tokenize. */
qlm_status qlm_sampler_run_filters(qlm_sampler *s, const float *logits, int32_t n_vocab,
                                   int32_t *ids, float *logits_out, size_t cap, size_t *n_out);

/* The next draw in [0, 1) of the sampler's PRNG (advances its state). */
double qlm_sampler_rng_next(qlm_sampler *s);

#endif
