/* run.c - the qlm command line: load a model, generate text, tokenize, inspect.
 * A thin program on top of qlm.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "qlm.h"

typedef struct options {
    const char *model, *prompt, *prompt_file, *tokenizer, *system;
    int n_predict, n_ctx, n_batch, n_threads, verbose, n_gpu_layers;
    qlm_device device;
    int chat, tokenize, info, bos, parse_special, no_special, no_mmap, no_repack, context_shift, kv_f32;
    qlm_sampler_params sp;
} options;

static volatile int g_stop; /* set by SIGINT; read by qlm_generate through params.stop */

static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fputs("usage: run -m MODEL.gguf [-p PROMPT | -f FILE] [options]\n"
          "\n"
          "  -m, --model FILE        GGUF model (a vocab-only GGUF suffices for --tokenize)\n"
          "  -p, --prompt TEXT       prompt text\n"
          "  -f, --file FILE         read the prompt from FILE (exact bytes)\n"
          "  -n, --n-predict N       tokens to generate (default 256; -1 = until end of text)\n"
          "  -c, --ctx-size N        context length (default: min(trained length, 4096))\n"
          "  -b, --batch-size N      tokens per forward pass in prompt processing (default 512)\n"
          "  -t, --threads N         threads (default: all cores)\n"
          "      --device D          cpu, cuda or auto (default auto: the GPU when this build has\n"
          "                          CUDA and the machine a device, else the CPU)\n"
          "  -ngl, --n-gpu-layers N  with a GPU: run the first N layers there, the rest on the CPU\n"
          "                          (default: all layers and the output)\n"
          "  -s, --seed N            sampler seed (default 42)\n"
          "      --temp T            temperature; 0 = greedy (default 0.8)\n"
          "      --top-k N           keep the N most likely tokens; 0 = off (default 40)\n"
          "      --top-p P           nucleus sampling; 1 = off (default 0.95)\n"
          "      --min-p P           drop tokens below P x the top probability; 0 = off (default 0.05)\n"
          "      --repeat-penalty R  penalise recent tokens; 1 = off (default 1.0)\n"
          "      --repeat-last-n N   tokens the penalties look back on (default 64)\n"
          "      --frequency-penalty F, --presence-penalty P   (default 0)\n"
          "      --chat              wrap the prompt in the model's chat template\n"
          "      --system TEXT       system message for --chat\n"
          "      --context-shift     when the context fills, drop the older half instead of stopping\n"
          "      --kv-type f16|f32   KV cache type (default f16)\n"
          "      --no-mmap           read the model into memory instead of mapping it\n"
          "      --no-repack         use quantized weights as stored (default: interleave them\n"
          "                          16 rows at a time for the SIMD kernels; same results)\n"
          "      --tokenize          print the prompt's token ids on one line and exit\n"
          "      --bos               with --tokenize: prepend BOS\n"
          "      --parse-special     with --tokenize: treat special-token text as special tokens\n"
          "      --no-parse-special  when generating: keep special-token text in the prompt as plain text\n"
          "                          (by default \"<|im_start|>\" in a prompt is the special token, as in llama-cli)\n"
          "      --tokenizer FILE    use this tokenizer (GGUF or SentencePiece .model) for --tokenize\n"
          "      --info              print metadata and the tensor table and exit\n"
          "  -v, --verbose           log details (kernels chosen, model shape) to stderr\n"
          "  -h, --help              this text\n", f);
}

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

static int parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -2147483647L || v > 2147483647L) return 0;
    *out = (int)v;
    return 1;
}

static int parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || v != v) return 0;
    *out = v;
    return 1;
}

static int parse_device(const char *s, qlm_device *out) {
    static const struct { const char *name; qlm_device d; } names[] = {
        {"auto", QLM_DEVICE_AUTO}, {"cpu", QLM_DEVICE_CPU}, {"cuda", QLM_DEVICE_CUDA}, {"gpu", QLM_DEVICE_CUDA}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].d;
            return 1;
        }
    return 0;
}

/* Flags taking a value: returns 1 if handled, 0 if unknown, -1 on a bad value. */
static int parse_valued(options *o, const char *a, const char *v) {
    int iv = 0, ok = 1;
    float fv = 0.0f;
#define IS(s1, s2) (strcmp(a, s1) == 0 || (s2[0] && strcmp(a, s2) == 0))
    if (IS("-m", "--model")) o->model = v;
    else if (IS("-p", "--prompt")) o->prompt = v;
    else if (IS("-f", "--file")) o->prompt_file = v;
    else if (IS("--tokenizer", "")) o->tokenizer = v;
    else if (IS("--system", "")) o->system = v;
    else if (IS("-n", "--n-predict")) ok = parse_int(v, &o->n_predict);
    else if (IS("-c", "--ctx-size")) ok = parse_int(v, &o->n_ctx) && o->n_ctx >= 0;
    else if (IS("-b", "--batch-size")) ok = parse_int(v, &o->n_batch) && o->n_batch > 0;
    else if (IS("-t", "--threads")) ok = parse_int(v, &o->n_threads) && o->n_threads > 0;
    else if (IS("-s", "--seed")) { char *e; errno = 0; o->sp.seed = strtoull(v, &e, 10); ok = !errno && *v && !*e; }
    else if (IS("--temp", "")) ok = parse_float(v, &o->sp.temp);
    else if (IS("--top-k", "")) ok = parse_int(v, &o->sp.top_k);
    else if (IS("--top-p", "")) ok = parse_float(v, &o->sp.top_p);
    else if (IS("--min-p", "")) ok = parse_float(v, &o->sp.min_p);
    else if (IS("--repeat-penalty", "")) ok = parse_float(v, &o->sp.repeat_penalty);
    else if (IS("--repeat-last-n", "")) ok = parse_int(v, &o->sp.penalty_last_n);
    else if (IS("--frequency-penalty", "")) ok = parse_float(v, &o->sp.frequency_penalty);
    else if (IS("--presence-penalty", "")) ok = parse_float(v, &o->sp.presence_penalty);
    else if (IS("--device", "")) ok = parse_device(v, &o->device);
    else if (IS("-ngl", "--n-gpu-layers")) ok = parse_int(v, &o->n_gpu_layers) && o->n_gpu_layers >= 0;
    else if (IS("--kv-type", "")) { o->kv_f32 = strcmp(v, "f32") == 0; ok = o->kv_f32 || strcmp(v, "f16") == 0; }
    else return 0;
#undef IS
    (void)iv, (void)fv;
    return ok ? 1 : -1;
}

static int parse_flag(options *o, const char *a) {
    struct { const char *name; int *field; } flags[] = {
        {"--chat", &o->chat}, {"--tokenize", &o->tokenize}, {"--info", &o->info}, {"--bos", &o->bos},
        {"--parse-special", &o->parse_special}, {"--no-parse-special", &o->no_special}, {"--no-mmap", &o->no_mmap},
        {"--no-repack", &o->no_repack},
        {"--context-shift", &o->context_shift}, {"-v", &o->verbose}, {"--verbose", &o->verbose},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(a, flags[i].name) == 0) {
            *flags[i].field = 1;
            return 1;
        }
    return 0;
}

/* Returns 0 on success, 1 on error (message printed), 2 for --help. */
static int parse_args(options *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return 2;
        if (parse_flag(o, a)) continue;
        if (i + 1 >= argc) {
            int r = parse_valued(o, a, "");
            return r == 0 ? fail("unknown option %s%s (see --help)", a, "")
                          : fail("option %s needs a value%s", a, "");
        }
        int r = parse_valued(o, a, argv[i + 1]);
        if (r == 0) return fail("unknown option %s%s (see --help)", a, "");
        if (r < 0) return fail("bad value '%s' for %s", argv[i + 1], a);
        i++;
    }
    if (!o->model) return fail("no model given (-m FILE)%s%s", "", "");
    if (o->prompt && o->prompt_file) return fail("give either -p or -f, not both%s%s", "", "");
    return 0;
}

/* Reads a whole file as a NUL-terminated string; NULL on error. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb) free(buf);
        buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void log_to_stderr(qlm_log_level level, const char *msg, void *user) {
    (void)user;
    static const char *prefix[] = {"error: ", "warning: ", "", ""};
    fprintf(stderr, "%s%s\n", prefix[level], msg);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmd_tokenize(const options *o, const char *text, size_t len) {
    qlm_tokenizer *tok = NULL;
    const char *path = o->tokenizer ? o->tokenizer : o->model;
    qlm_status st = qlm_tokenizer_load(path, &tok);
    if (st != QLM_OK) {
        int r = fail("%s%s", tok ? qlm_tokenizer_last_error(tok) : qlm_status_str(st), "");
        qlm_tokenizer_free(tok);
        return r;
    }
    unsigned flags = (o->bos ? QLM_TOKENIZE_ADD_BOS : 0) | (o->parse_special ? QLM_TOKENIZE_PARSE_SPECIAL : 0);
    size_t n = 0;
    int32_t *ids = NULL;
    st = qlm_tokenize_alloc(tok, text, len, &ids, &n, flags);
    if (st == QLM_OK) {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    qlm_tokenizer_free(tok);
    return st == QLM_OK ? 0 : fail("tokenizing failed: %s%s", qlm_status_str(st), "");
}

/* Tensors, parameters and bytes per tensor type, like gguf-dump's summary. */
static void print_type_summary(const qlm_model *m) {
    struct type_row { const char *name; long n; double params, bytes; } rows[64];
    int n_rows = 0;
    for (int64_t i = 0; i < qlm_model_tensor_count(m); i++) {
        qlm_tensor_info t;
        qlm_model_tensor_info(m, i, &t);
        int r = 0;
        while (r < n_rows && strcmp(rows[r].name, t.type_name) != 0) r++;
        if (r == n_rows) {
            if (n_rows == 64) continue;
            rows[n_rows++] = (struct type_row){t.type_name, 0, 0, 0};
        }
        rows[r].n++;
        rows[r].params += (double)t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
        rows[r].bytes += (double)t.n_bytes;
    }
    printf("\nper type:\n");
    for (int r = 0; r < n_rows; r++)
        printf("  %-6s %5ld tensors %10.2f M params %10.2f MiB  %.2f bits/weight\n", rows[r].name, rows[r].n,
               rows[r].params / 1e6, rows[r].bytes / 1048576.0, rows[r].params > 0 ? 8 * rows[r].bytes / rows[r].params : 0);
}

static void print_info(const qlm_model *m) {
    char val[512];
    const char *arch = qlm_model_meta_str(m, "general.architecture");
    printf("architecture: %s\nname: %s\nparameters: %.2f M\nweights: %.2f MiB\ntokenizer: %s, %d tokens\n"
           "chat template: %s\nkernels: %s\n\nmetadata:\n", arch ? arch : "(none)", qlm_model_name(m),
           qlm_model_n_params(m) / 1e6, qlm_model_size_bytes(m) / 1048576.0,
           qlm_tokenizer_kind(qlm_model_tokenizer(m)), qlm_tokenizer_n_vocab(qlm_model_tokenizer(m)),
           qlm_chat_template_kind(qlm_model_chat_template(m)) ? qlm_chat_template_kind(qlm_model_chat_template(m))
                                                              : "(none or unrecognised)",
           qlm_system_info());
    for (int64_t i = 0; i < qlm_model_meta_count(m); i++) {
        qlm_model_meta_value(m, i, val, sizeof val);
        printf("  %-44s %s\n", qlm_model_meta_key(m, i), val);
    }
    printf("\ntensors:\n  %-36s %-6s %-24s %12s\n", "name", "type", "shape", "bytes");
    for (int64_t i = 0; i < qlm_model_tensor_count(m); i++) {
        qlm_tensor_info t;
        qlm_model_tensor_info(m, i, &t);
        char shape[64];
        int k = snprintf(shape, sizeof shape, "[%lld", (long long)t.ne[0]);
        for (int d = 1; d < t.n_dims && k < (int)sizeof shape; d++)
            k += snprintf(shape + k, sizeof shape - k, ", %lld", (long long)t.ne[d]);
        snprintf(shape + (k < (int)sizeof shape ? k : (int)sizeof shape - 1), 2, "]");
        printf("  %-36s %-6s %-24s %12llu\n", t.name, t.type_name, shape, (unsigned long long)t.n_bytes);
    }
    print_type_summary(m);
}

static int on_token(int32_t token, const char *text, size_t len, void *user) {
    (void)token, (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* The prompt text to feed the model: plain, or wrapped in the chat template. */
static char *build_prompt(const options *o, const qlm_model *m, const char *text) {
    if (!o->chat) return strdup(text);
    const char *tmpl = qlm_model_chat_template(m);
    if (!tmpl) {
        fail("%s has no chat template (tokenizer.chat_template); run without --chat%s", o->model, "");
        return NULL;
    }
    qlm_chat_message msgs[2] = {{"system", o->system}, {"user", text}};
    const qlm_chat_message *first = o->system ? msgs : msgs + 1;
    size_t n_msgs = o->system ? 2 : 1, need = 0;
    qlm_status st = qlm_chat_apply(tmpl, first, n_msgs, 1, NULL, 0, &need);
    char *buf = (st == QLM_OK || st == QLM_ERR_BUFFER_TOO_SMALL) ? malloc(need + 1) : NULL;
    if (buf && qlm_chat_apply(tmpl, first, n_msgs, 1, buf, need + 1, &need) == QLM_OK) return buf;
    free(buf);
    fail("the chat template of %s is not one qlm recognises (chatml, llama-3, gemma, phi-3, zephyr, "
         "llama-2)%s", o->model, "");
    return NULL;
}

static int cmd_generate(const options *o, qlm_model *m, const char *text) {
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = o->n_ctx;
    cp.n_batch = o->n_batch;
    cp.n_threads = o->n_threads;
    cp.kv_type = o->kv_f32 ? QLM_KV_F32 : QLM_KV_F16;
    qlm_context *ctx = NULL;
    qlm_sampler *smp = NULL;
    char *prompt = NULL;
    int rc = 1;
    if (qlm_context_new(m, &cp, &ctx) != QLM_OK) {
        fail("%s%s", ctx ? qlm_context_last_error(ctx) : "out of memory", "");
    } else if (qlm_sampler_from_params(&o->sp, &smp) != QLM_OK) {
        fail("sampler: %s%s", smp ? qlm_sampler_last_error(smp) : "out of memory", "");
    } else if ((prompt = build_prompt(o, m, text)) != NULL) {
        qlm_generate_params gp = qlm_generate_default_params();
        gp.n_predict = o->n_predict;
        gp.context_shift = o->context_shift;
        /* like llama-cli, special-token text in a prompt is parsed as special */
        gp.tokenize_flags = QLM_TOKENIZE_MODEL_DEFAULT_BOS | (o->no_special ? 0 : QLM_TOKENIZE_PARSE_SPECIAL);
        gp.on_token = on_token;
        gp.stop = &g_stop;
        qlm_generate_stats gs;
        qlm_status st = qlm_generate(ctx, smp, prompt, &gp, &gs);
        printf("\n");
        fflush(stdout); /* the text's last line before the timings on stderr */
        fprintf(stderr, "prompt: %d tokens, %.1f ms, %.2f tok/s\n", gs.n_prompt, gs.t_prompt_ms,
                gs.t_prompt_ms > 0 ? gs.n_prompt * 1e3 / gs.t_prompt_ms : 0.0);
        fprintf(stderr, "generation: %d tokens, %.1f ms, %.2f tok/s\n", gs.n_generated, gs.t_generate_ms,
                gs.t_generate_ms > 0 ? gs.n_generated * 1e3 / gs.t_generate_ms : 0.0);
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) fprintf(stderr, "peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
        rc = (st == QLM_OK || st == QLM_ERR_STOPPED) ? 0 : fail("%s%s", qlm_context_last_error(ctx), "");
    }
    free(prompt);
    qlm_sampler_free(smp);
    qlm_context_free(ctx);
    return rc;
}

static int run_model(const options *o, const char *text) {
    qlm_model_params mp = qlm_model_default_params();
    mp.use_mmap = !o->no_mmap;
    mp.repack = !o->no_repack;
    mp.n_threads = o->n_threads;
    mp.device = o->device;
    mp.n_gpu_layers = o->n_gpu_layers;
    mp.log_fn = log_to_stderr;
    mp.log_level = o->verbose ? QLM_LOG_DEBUG : QLM_LOG_WARN;
    mp.vocab_only = o->info; /* --info needs metadata only, so vocab-only files work too */
    qlm_model *m = NULL;
    double t0 = now_ms();
    qlm_status st = qlm_model_load(o->model, &mp, &m);
    if (st != QLM_OK) {
        /* the library already logged the message through log_to_stderr at error level */
        qlm_model_free(m);
        return 1;
    }
    int n_gpu = 0;
    const char *device = qlm_model_device(m, &n_gpu);
    if (!o->info && n_gpu > 0)
        fprintf(stderr, "load: %.1f ms (%s, %.1f M params, %d of %d layers on %s, kernels %s)\n", now_ms() - t0,
                qlm_model_arch(m), qlm_model_n_params(m) / 1e6, n_gpu, qlm_model_n_layer(m), device,
                qlm_system_info());
    else if (!o->info)
        fprintf(stderr, "load: %.1f ms (%s, %.1f M params, kernels %s)\n", now_ms() - t0, qlm_model_arch(m),
                qlm_model_n_params(m) / 1e6, qlm_system_info());
    int rc = o->info ? (print_info(m), 0) : cmd_generate(o, m, text);
    qlm_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    options o = {.n_predict = 256, .n_gpu_layers = -1, .sp = qlm_sampler_default_params()};
    int r = parse_args(&o, argc, argv);
    if (r == 2) {
        usage(stdout);
        return 0;
    }
    if (r) return 1;
    char *text = NULL;
    size_t len = 0;
    if (o.prompt_file) {
        if (!(text = read_file(o.prompt_file, &len)))
            return fail("cannot read prompt file %s: %s", o.prompt_file, strerror(errno));
    } else {
        text = strdup(o.prompt ? o.prompt : "");
        len = strlen(text);
    }
    signal(SIGINT, on_sigint);
    int rc;
    if (o.tokenize) rc = cmd_tokenize(&o, text, len);
    else if (!o.info && len == 0) rc = fail("no prompt given (-p TEXT or -f FILE)%s%s", "", "");
    else rc = run_model(&o, text);
    free(text);
    return rc;
}
