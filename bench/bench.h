/* bench.h - the pieces of bench/bench shared between its files: options,
 * the synthetic-model generator, the bandwidth probe and the kernel
 * micro-benchmark. Internal to bench/ (and tests/test_bench.c). */
#ifndef QLM_BENCH_H
#define QLM_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qlm.h"
#include "types.h"

#define BENCH_MAX_LIST 16

typedef struct int_list { int v[BENCH_MAX_LIST]; int n; } int_list;

typedef enum bench_mode { BENCH_MODEL = 0, BENCH_BANDWIDTH, BENCH_KERNELS } bench_mode;

typedef struct bench_opts {
    bench_mode mode;
    const char *model;      /* -m FILE */
    const char *synthetic;  /* --synthetic PRESET */
    qlm_type type;          /* --type, for --synthetic (and to pick one type with --kernels) */
    int typed;              /* --type was given */
    const char *write_path; /* --write FILE: keep the synthetic model there */
    uint64_t seed;
    int_list pp, tg, threads;
    int reps, json, help;
    qlm_device device;      /* --device cpu|cuda|auto */
    int n_gpu_layers;       /* -ngl N; -1 = all */
} bench_opts;

/* Defaults: pp 128, tg 32, threads = all cores (0), 3 repetitions, Q4_0. */
bench_opts bench_default_opts(void);
/* Returns 0 on success; otherwise writes a one-line reason into err. */
int bench_parse_args(bench_opts *o, int argc, char **argv, char *err, size_t cap);
void bench_usage(FILE *f);

/* ------------------------------------------------------------- synthetic */

typedef struct synth_preset {
    const char *name;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
} synth_preset;

/* NULL if the name is not a preset ("tiny" and "tiny-256" are test-sized). */
const synth_preset *synth_find(const char *name);
const char *synth_preset_names(void); /* "llama-110m, ..." for messages */
/* A weight type the generator can write: has a quantizer and a matmul. */
int synth_parse_type(const char *s, qlm_type *out);
/* Writes a complete llama-arch GGUF with random weights (seeded), one tensor
 * in memory at a time. progress on stderr: 0 none, 1 a line per 10%, 2 a
 * line rewritten per tensor (terminals). 0 on success, otherwise
 * a reason in err (and no file left behind). */
int synth_write(const synth_preset *p, qlm_type type, uint64_t seed, const char *path, int progress,
                char *err, size_t cap);
/* Tensors in a file synth_write makes for p (tests check it). */
int64_t synth_tensor_count(const synth_preset *p);

/* ------------------------------------------------------------- bandwidth */

/* Best-of-passes read bandwidth in GB/s with n_threads OpenMP threads over a
 * buffer larger than the last-level cache; 0 if it cannot allocate. */
double bw_probe(int n_threads);

/* ------------------------------------------------------------- kernels */

/* Matmul micro-benchmark of every kernel table x weight type (only_type:
 * that type alone, or -1). */
int kernels_bench(const int_list *threads, int json, int only_type);
/* The same on the CUDA device (bench --kernels --device cuda; kernels_cuda.c). */
int kernels_bench_cuda(int json, int only_type);

#endif
