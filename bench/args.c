/* args.c - command line of bench/bench (llama-bench's flags where they
 * exist). Errors come back as text so main prints them and tests read them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

bench_opts bench_default_opts(void) {
    bench_opts o = {.pp = {{128}, 1}, .tg = {{32}, 1}, .threads = {{0}, 1}, .reps = 3,
                    .type = QLM_TYPE_Q4_0, .seed = 1234, .device = QLM_DEVICE_AUTO, .n_gpu_layers = -1};
    return o;
}

void bench_usage(FILE *f) {
    fputs("usage: bench -m MODEL.gguf [options]\n"
          "       bench --synthetic PRESET [--type TYPE] [--write FILE] [options]\n"
          "       bench --bandwidth [-t LIST] | --kernels [-t LIST]\n"
          "  -m, --model FILE      GGUF model to benchmark\n"
          "  --synthetic PRESET    random-weight model: llama-110m, llama-1.1b, llama-7b\n"
          "  --type TYPE           weight type of the synthetic model: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1\n"
          "                        q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs mxfp4 tq1_0 tq2_0 (every computable type)\n"
          "                        (default q4_0)\n"
          "  --write FILE          keep the synthetic model in FILE (default: a temporary file)\n"
          "  --seed N              seed of the synthetic weights (default 1234)\n"
          "  -p, --n-prompt LIST   prompt lengths to test, comma separated (default 128); 0 = none\n"
          "  -n, --n-gen LIST      generation lengths to test (default 32); 0 = none\n"
          "  -t, --threads LIST    thread counts (default: all cores)\n"
          "  -r, --repetitions N   repetitions of each test (default 3)\n"
          "  -o, --output md|json  output format (default md)\n"
          "  --device D            cpu, cuda or auto (default auto: the GPU when built with CUDA and\n"
          "                        one is present); on the GPU, % bandwidth is of its measured HBM read rate\n"
          "  -ngl N                layers on the GPU (default all)\n"
          "  --bandwidth           only measure the memory read bandwidth per thread count\n"
          "  --kernels             micro-benchmark every matmul kernel table x weight type (--type: one type);\n"
          "                        with --device cuda: the GPU's matmul per type, GB/s and % of its bandwidth\n"
          "  -h, --help\n", f);
}

static int parse_list(const char *s, int_list *l) {
    l->n = 0;
    while (*s && l->n < BENCH_MAX_LIST) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > 1000000) return 0;
        l->v[l->n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return 0;
        s = end;
    }
    return *s == '\0' && l->n > 0;
}

static int parse_positive(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

static int parse_device(const char *s, qlm_device *out) {
    if (!strcmp(s, "auto")) *out = QLM_DEVICE_AUTO;
    else if (!strcmp(s, "cpu")) *out = QLM_DEVICE_CPU;
    else if (!strcmp(s, "cuda") || !strcmp(s, "gpu")) *out = QLM_DEVICE_CUDA;
    else return 0;
    return 1;
}

/* Options with a value; returns 1 if a known one was parsed (ok says whether
 * the value was good), 0 if the name is unknown. */
static int parse_valued(bench_opts *o, const char *a, const char *v, int *ok) {
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "--synthetic")) *ok = (o->synthetic = v, synth_find(v) != NULL);
    else if (!strcmp(a, "--type")) *ok = synth_parse_type(v, &o->type);
    else if (!strcmp(a, "--write")) o->write_path = v;
    else if (!strcmp(a, "--seed")) *ok = sscanf(v, "%llu", (unsigned long long *)&o->seed) == 1;
    else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) *ok = parse_list(v, &o->pp);
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) *ok = parse_list(v, &o->tg);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) *ok = parse_list(v, &o->threads);
    else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) *ok = parse_positive(v, &o->reps);
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) *ok = (o->json = !strcmp(v, "json")) || !strcmp(v, "md");
    else if (!strcmp(a, "--device")) *ok = parse_device(v, &o->device);
    else if (!strcmp(a, "-ngl") || !strcmp(a, "--n-gpu-layers")) *ok = sscanf(v, "%d", &o->n_gpu_layers) == 1 && o->n_gpu_layers >= 0;
    else return 0;
    return 1;
}

static int check_combination(const bench_opts *o, int typed, char *err, size_t cap) {
    if (o->mode != BENCH_MODEL) return 0;
    if (o->model && o->synthetic)
        return snprintf(err, cap, "give either -m FILE or --synthetic PRESET, not both"), 1;
    if (!o->model && !o->synthetic)
        return snprintf(err, cap, "no model given (-m FILE or --synthetic PRESET; see --help)"), 1;
    if (!o->synthetic && (typed || o->write_path))
        return snprintf(err, cap, "--type and --write go with --synthetic"), 1;
    return 0;
}

int bench_parse_args(bench_opts *o, int argc, char **argv, char *err, size_t cap) {
    int typed = 0;
    err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            return 0;
        }
        if (!strcmp(a, "--bandwidth") || !strcmp(a, "--kernels")) {
            o->mode = a[2] == 'b' ? BENCH_BANDWIDTH : BENCH_KERNELS;
            continue;
        }
        int ok = 1;
        if (!v) {
            bench_opts probe = *o;
            if (parse_valued(&probe, a, "", &ok)) return snprintf(err, cap, "%s needs a value", a), 1;
            return snprintf(err, cap, "unknown option %s (see --help)", a), 1;
        }
        if (!parse_valued(o, a, v, &ok)) return snprintf(err, cap, "unknown option %s (see --help)", a), 1;
        if (!ok && !strcmp(a, "--synthetic"))
            return snprintf(err, cap, "unknown preset '%s' (presets: %s)", v, synth_preset_names()), 1;
        if (!ok && !strcmp(a, "--type"))
            return snprintf(err, cap, "type '%s' cannot be generated (see --help for the types)", v), 1;
        if (!ok) return snprintf(err, cap, "bad value '%s' for %s", v, a), 1;
        typed |= !strcmp(a, "--type");
        o->typed = typed;
        i++;
    }
    return check_combination(o, typed, err, cap);
}
