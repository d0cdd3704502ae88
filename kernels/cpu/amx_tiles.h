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

/* An R16 entry point (qlm_gemm_r16_fn) over GEMM(KIND, ..., REST): QUAL is
 * static or empty; REST is the kernel for the tokens past the last whole
 * group of 16 (the AVX-512 one, with the same bits). */
#define QLM_AMX_ENTRY_POINT(QUAL, NAME, GEMM, KIND, REST)                                                    \
    QUAL void NAME(const void *w, int64_t nb, const void *act, size_t stride, int64_t n_tok, float *y,       \
                   int64_t ldy) {                                                                            \
        GEMM(KIND, w, nb, act, stride, n_tok, y, ldy, REST);                                                 \
    }

#endif
