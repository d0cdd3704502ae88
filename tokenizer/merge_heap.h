/* merge_heap.h - the min-heap of candidate merges shared by SPM and BPE.
 *
 * A candidate joins symbols left and right; the heap pops the smallest key
 * first and, among equal keys, the leftmost pair, which is the order both
 * llama.cpp tokenizers use (SPM: key = -score, BPE: key = merge rank). */
#ifndef QLM_MERGE_HEAP_H
#define QLM_MERGE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct merge_cand {
    double key;
    int32_t left, right;
    size_t size; /* bytes of left + right when pushed: detects stale entries */
} merge_cand;

typedef struct merge_heap {
    merge_cand *v;
    size_t n, cap;
    bool oom;
} merge_heap;

static inline bool merge_cand_less(const merge_cand *a, const merge_cand *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static inline void merge_heap_push(merge_heap *h, merge_cand c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        merge_cand *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            h->oom = true; /* the caller stops merging; output stays valid */
            return;
        }
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && merge_cand_less(&c, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = c;
}

static inline merge_cand merge_heap_pop(merge_heap *h) {
    merge_cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && merge_cand_less(&h->v[c + 1], &h->v[c])) c++;
        if (!merge_cand_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

/* A run of bytes in the text being merged, linked to its neighbours. */
typedef struct merge_sym {
    int32_t prev, next;
    size_t off, n; /* n == 0: merged away */
    int32_t id;    /* BPE: token id of the bytes, -1 if none */
} merge_sym;

#endif
