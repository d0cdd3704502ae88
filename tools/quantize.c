/* quantize.c - the quantize command: one GGUF in, the same model with its
 * weights in another tensor type out. A thin program on top of
 * qlm_quantize_file (qlm.h), which does all the work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qlm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: quantize IN.gguf OUT.gguf TYPE [options]\n"
            "\n"
            "Writes OUT.gguf: IN.gguf with every weight matrix converted to TYPE. This is\n"
            "\"pure\" single-type quantization, byte for byte what llama.cpp's\n"
            "`llama-quantize --pure IN OUT TYPE` writes: every matrix llama.cpp would\n"
            "quantize (token embeddings and output included) gets TYPE; norms and other\n"
            "1-D tensors are copied. Rows that TYPE's 256-value blocks do not divide fall\n"
            "back as in llama.cpp (Q2_K, Q3_K, TQ1_0, TQ2_0 -> Q4_0; Q4_K -> Q5_0;\n"
            "Q5_K -> Q5_1; Q6_K -> Q8_0; IQ4_XS -> IQ4_NL; F16 if nothing fits).\n"
            "Mixes such as Q4_K_M (more bits for some tensors) and importance matrices\n"
            "are not supported yet.\n"
            "\n"
            "TYPE: %s\n"
            "\n"
            "  -t, --threads N         threads (default: all cores)\n"
            "      --allow-requantize  accept an input whose weights are already quantized\n"
            "                          (they are dequantized first; quality only drops)\n"
            "  -q, --quiet             no per-tensor progress on stderr\n"
            "  -h, --help              this text\n",
            qlm_quantize_types());
}

static void on_log(qlm_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == QLM_LOG_ERROR) return; /* main prints the one error line */
    fprintf(stderr, "%s%s\n", level == QLM_LOG_WARN ? "warning: " : "", msg);
}

static int fail(const char *msg, const char *arg) {
    fprintf(stderr, "error: %s%s\n", msg, arg);
    return 1;
}

static int parse_threads(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 4096) return 0;
    *out = (int)v;
    return 1;
}

int main(int argc, char **argv) {
    const char *pos[3];
    int n_pos = 0, quiet = 0;
    qlm_quantize_params p = qlm_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) return fail("missing value for ", a);
            if (!parse_threads(argv[++i], &p.n_threads)) return fail("bad thread count: ", argv[i]);
        } else if (strcmp(a, "--allow-requantize") == 0) {
            p.allow_requantize = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            return fail("unknown option (see --help): ", a);
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            return fail("too many arguments (see --help): ", a);
        }
    }
    if (n_pos < 3) return fail("usage: quantize IN.gguf OUT.gguf TYPE [options] (see --help)", "");
    p.type = pos[2];
    p.log_fn = on_log;
    p.log_level = quiet ? QLM_LOG_WARN : QLM_LOG_INFO;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[512];
    if (qlm_quantize_file(pos[0], pos[1], &p, err, sizeof err) != QLM_OK) return fail(err, "");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!quiet)
        fprintf(stderr, "quantize: %s written in %.1f s\n", pos[1],
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
