/* repack.c - interleaves the model's matmul weights (quantized, F16, BF16)
 * into the R16 layout (kernels/cpu/pack.h) at load, for the types the chosen
 * kernel table multiplies fastest that way (ops.r16_types). In place: the
 * file is mapped copy-on-write (or read into memory), a 16-row group
 * occupies the same bytes before and after, so packing never holds two
 * copies of a tensor; only one group per thread is buffered. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "pack.h"

/* Takes the copy-on-write faults of a tensor's pages in one call instead of
 * one fault (and one TLB shootdown across threads) per 4 KiB page while
 * packing: loading a 1.1B model went from 2 s to well under 1 s. A no-op
 * where the kernel lacks it (before Linux 5.14) or the data is not mapped. */
static void prefault_writable(const void *data, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = (uintptr_t)data & ~(page - 1), hi = ((uintptr_t)data + bytes + page - 1) & ~(page - 1);
    (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#else
    (void)data, (void)bytes;
#endif
}

static int pack_one(qlm_tensor *w, int n_threads) {
    const int64_t n_groups = qlm_tensor_rows(w) / QLM_PACK_ROWS;
    prefault_writable(w->data, (size_t)qlm_tensor_rows(w) * w->row_bytes);
    int ok = 1;
#pragma omp parallel num_threads(n_threads) reduction(&& : ok)
    {
        void *tmp = malloc(QLM_PACK_ROWS * w->row_bytes);
        ok = tmp != NULL;
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        /* contiguous slices: each thread touches its own pages */
        if (tmp) qlm_pack_groups(w, (void *)w->data, n_groups * t / nt, n_groups * (t + 1) / nt, tmp);
        free(tmp);
    }
    /* a thread that could not allocate left its slice as it was: the tensor
     * is mixed and must not be used; the caller fails the load */
    if (ok) w->layout = QLM_LAYOUT_R16;
    return ok;
}

static qlm_tensor **matmul_weights(qlm_model *m, int *n) {
    qlm_tensor **list = malloc(((size_t)m->hp.n_layer * 7 + 1) * sizeof *list);
    if (!list) return NULL;
    int k = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        qlm_layer *l = &m->layers[il];
        qlm_tensor *ws[7] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (int i = 0; i < 7; i++) list[k++] = ws[i];
    }
    list[k++] = &m->output;
    *n = k;
    return list;
}

qlm_status qlm_model_repack(qlm_model *m) {
    int n;
    qlm_tensor **ws = matmul_weights(m, &n);
    if (!ws) return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory", m->path);
    const int tied = m->output.data == m->tok_embd.data;
    int64_t packed = 0;
    qlm_status st = QLM_OK;
    for (int i = 0; i < n && st == QLM_OK; i++) {
        qlm_tensor *w = ws[i];
        if (w->layout != QLM_LAYOUT_ROWS || !(m->ops->r16_types >> w->type & 1) ||
            !qlm_pack_supported(w->type, w->ne[0], qlm_tensor_rows(w)))
            continue;
        if (!pack_one(w, m->n_threads))
            st = qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory repacking %s", m->path, w->name);
        packed++;
    }
    if (tied) m->tok_embd.layout = m->output.layout; /* the same bytes: the lookup unpacks rows */
    free(ws);
    qlm_log(&m->log, QLM_LOG_DEBUG, "repacked %lld of %d matmul weights into 16-row interleaved blocks",
            (long long)packed, n);
    return st;
}
