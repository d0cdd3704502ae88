/* amx_tiles.h - Intel AMX tile configuration for the AMX table's files
 * (amx.c, amx_kquants.c). Include only from files built with the AMX flags.
 *
 * A tile register holds up to 16 rows of up to 64 bytes. LDTILECFG sets
 * every register's shape at once from a 64-byte record (palette 1, Intel SDM
 * vol. 2, LDTILECFG); the configuration is per thread, so each kernel call
 * loads its own and releases the tiles when done (TILERELEASE: the OS then
 * need not save 8 KiB of tile data at context switches). The process must
 * have been granted the tile data first (cpu_features_x86.c). */
#ifndef QLM_AMX_TILES_H
#define QLM_AMX_TILES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef struct qlm_amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} qlm_amx_config;

/* Loads the shapes rows[t] x colsb[t] bytes for tiles t < n (the rest unused). */
static inline void qlm_amx_configure(int n, const uint8_t *rows, const uint16_t *colsb) {
    qlm_amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < n; t++) c.rows[t] = rows[t], c.colsb[t] = colsb[t];
    _tile_loadconfig(&c);
}

/* Tokens a tile holds (its 16 rows): the AMX kernels take whole groups. */
#define QLM_AMX_GROUP 16

/* An R16 entry point (qlm_gemm_r16_fn): the whole groups of 16 tokens
 * through GEMM(KIND, w, nb, act, stride, n, y, ldy), which configures and
 * releases the tiles; the tokens past them through REST, the AVX-512
 * kernel. QUAL is static or empty. */
#define QLM_AMX_ENTRY_POINT(QUAL, NAME, GEMM, KIND, REST)                                                    \
    QUAL void NAME(const void *w, int64_t nb, const void *act, size_t stride, int64_t n_tok, float *y,       \
                   int64_t ldy) {                                                                            \
        const int64_t n_amx = n_tok / QLM_AMX_GROUP * QLM_AMX_GROUP;                                         \
        if (n_amx) GEMM(KIND, w, nb, act, stride, n_amx, y, ldy);                                            \
        if (n_tok > n_amx)                                                                                   \
            REST(w, nb, (const char *)act + n_amx * stride, stride, n_tok - n_amx, y + n_amx * ldy, ldy);    \
    }

#endif
