/* repack.c - interleaves the model's matmul weights (quantized, F16, BF16)
 * into the R16 layout (kernels/cpu/pack.h) at load, for the types the chosen
 * kernel table multiplies fastest that way (ops.r16_types). In place: the
 * file is mapped copy-on-write (or read into memory), a 16-row group
 * occupies the same bytes before and after, so packing never holds two
 * copies of a tensor; only one group per thread is buffered.
 *
 * TQ1_0 weights are the exception: they have no packed layout, so where
 * the table packs TQ2_0 they are transcoded into it (a new buffer, 66
 * bytes a block instead of 54) and packed there; see transcode_tq1_0. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "pack.h"
#include "quant_ref.h"

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

/* Converts groups [g0, g1) of 16 rows of src (TQ1_0 rows) into dst's rows
 * (dst: the TQ2_0 tensor) and packs each group while it is in cache. */
static void transcode_groups(const qlm_tensor *src, qlm_tensor *dst, int64_t g0, int64_t g1, void *tmp) {
    const size_t in = QLM_PACK_ROWS * src->row_bytes, out = QLM_PACK_ROWS * dst->row_bytes;
    for (int64_t g = g0; g < g1; g++) {
        qlm_tq1_0_to_tq2_0((const char *)src->data + (size_t)g * in, (char *)dst->data + (size_t)g * out,
                           QLM_PACK_ROWS * src->ne[0]);
        qlm_pack_groups(dst, (void *)dst->data, g, g + 1, tmp);
    }
}

/* Packs dst's 16-row groups over the threads, in contiguous slices (each
 * thread touches its own pages): in place when src is dst, else each group
 * transcoded from src first. 0 when a thread could not allocate its group
 * buffer: its slice is left as it was and the caller fails the load. */
static int pack_slices(const qlm_tensor *src, qlm_tensor *dst, int n_threads) {
    const int64_t n_groups = qlm_tensor_rows(dst) / QLM_PACK_ROWS;
    int ok = 1;
#pragma omp parallel num_threads(n_threads) reduction(&& : ok)
    {
        void *tmp = malloc(QLM_PACK_ROWS * dst->row_bytes);
        ok = tmp != NULL;
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t g0 = n_groups * t / nt, g1 = n_groups * (t + 1) / nt;
        if (tmp && src == dst) qlm_pack_groups(dst, (void *)dst->data, g0, g1, tmp);
        else if (tmp) transcode_groups(src, dst, g0, g1, tmp);
        free(tmp);
    }
    return ok;
}

static int pack_one(qlm_tensor *w, int n_threads) {
    prefault_writable(w->data, (size_t)qlm_tensor_rows(w) * w->row_bytes);
    const int ok = pack_slices(w, w, n_threads);
    /* a failed slice leaves the tensor mixed: it must not be used */
    if (ok) w->layout = QLM_LAYOUT_R16;
    return ok;
}

/* TQ1_0 (5 trits a byte, base 3) has no packed kernel and its row kernels
 * are bound by decoding (30% of the memory bandwidth), while TQ2_0 holds
 * the same values d * t (the same fp16 d, t + 1 in 2 bits) and its packed
 * tile streams. The two formats' dots do the same float steps, so a row
 * transcoded to TQ2_0 multiplies to the same bits. */
static int transcodes_to_tq2_0(const qlm_model *m, const qlm_tensor *w) {
    const int table_packs_tq2_0 = m->ops->r16_types >> QLM_TYPE_TQ2_0 & 1;
    return table_packs_tq2_0 && w->type == QLM_TYPE_TQ1_0 && w->layout == QLM_LAYOUT_ROWS &&
           qlm_pack_supported(QLM_TYPE_TQ2_0, w->ne[0], qlm_tensor_rows(w));
}

/* A 64-byte aligned buffer of o.bytes, listed (with o's name, type and
 * sizes) for the model to free; NULL when out of memory. cap: the most
 * entries the list can need (one per matmul weight). */
static void *alloc_owned(qlm_model *m, qlm_owned_weight o, int cap) {
    if (!m->owned) {
        if (!(m->owned = calloc((size_t)cap, sizeof *m->owned))) return NULL;
        m->cap_owned = cap;
    }
    if (m->n_owned == m->cap_owned) return NULL;
    if (!(o.data = aligned_alloc(64, (o.bytes + 63) & ~(size_t)63))) return NULL;
    m->owned[m->n_owned++] = o;
    return o.data;
}

/* w (TQ1_0 rows) becomes a packed TQ2_0 tensor in a buffer the model owns,
 * threads taking contiguous slices of groups (pack_slices). The file's copy
 * is then dropped (gguf_discard), so the load peaks near the TQ2_0 weights
 * plus one TQ1_0 tensor rather than both formats of every weight. */
static qlm_status transcode_tq1_0(qlm_model *m, qlm_tensor *w, int cap) {
    qlm_tensor t = *w;
    t.type = QLM_TYPE_TQ2_0;
    t.row_bytes = qlm_row_size(QLM_TYPE_TQ2_0, w->ne[0]);
    const int64_t rows = qlm_tensor_rows(w);
    const size_t bytes = (size_t)rows * t.row_bytes, file_bytes = (size_t)rows * w->row_bytes;
    const qlm_owned_weight o = {.name = w->name, .type = t.type, .bytes = bytes, .file_bytes = file_bytes};
    if (!(t.data = alloc_owned(m, o, cap)))
        return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory transcoding %s to TQ2_0 (%zu bytes)",
                       m->path, w->name, bytes);
    prefault_writable(t.data, bytes);
    /* a failed slice is left unconverted: w is untouched (still the file's
     * rows) and the caller fails the load */
    if (!pack_slices(w, &t, m->n_threads))
        return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory transcoding %s", m->path, w->name);
    gguf_discard(m->gguf, w->data, file_bytes);
    t.layout = QLM_LAYOUT_R16;
    *w = t;
    return QLM_OK;
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
    int64_t packed = 0, transcoded = 0;
    qlm_status st = QLM_OK;
    for (int i = 0; i < n && st == QLM_OK; i++) {
        qlm_tensor *w = ws[i];
        if (transcodes_to_tq2_0(m, w)) {
            st = transcode_tq1_0(m, w, n);
            packed += st == QLM_OK;
            transcoded += st == QLM_OK;
            continue;
        }
        if (w->layout != QLM_LAYOUT_ROWS || !(m->ops->r16_types >> w->type & 1) ||
            !qlm_pack_supported(w->type, w->ne[0], qlm_tensor_rows(w)))
            continue;
        if (!pack_one(w, m->n_threads))
            st = qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory repacking %s", m->path, w->name);
        packed++;
    }
    if (tied) { /* the same bytes (the lookup unpacks rows), wherever the output head now lives */
        m->tok_embd.type = m->output.type;
        m->tok_embd.row_bytes = m->output.row_bytes;
        m->tok_embd.data = m->output.data;
        m->tok_embd.layout = m->output.layout;
    }
    free(ws);
    qlm_log(&m->log, QLM_LOG_DEBUG,
            "repacked %lld of %d matmul weights into 16-row interleaved blocks (%lld of them TQ1_0 "
            "transcoded to TQ2_0)",
            (long long)packed, n, (long long)transcoded);
    return st;
}
