/* chat.c - chat templates: recognise a model's Jinja template and format.
 *
 * We do not run Jinja. Like llama.cpp (src/llama-chat.cpp,
 * llm_chat_detect_template / llm_chat_apply_template) we recognise the
 * template family by distinctive substrings and format with a hand-written
 * printer per family, so our prompts are byte-identical to llama.cpp's.
 *
 * Detection tests run in llama.cpp's order. Where llama.cpp would pick a
 * family we do not implement (phi-4, mistral v1/v3/v7, falcon-3, glm, ...)
 * we answer "unsupported" rather than fall through to a later test, so we
 * either agree with llama.cpp or refuse; we never format a prompt differently.
 * A template may also be given by name ("chatml", "llama3", "llama-3", ...).
 *
 * Note: chatml templates that add a default system prompt in Jinja (SmolLM2:
 * "You are a helpful AI assistant named SmolLM, ...") get none here, as in
 * llama.cpp's chatml printer; callers wanting it pass a system message.
 */
#include "qlm.h"

#include <string.h>

typedef enum chat_kind {
    CHAT_UNKNOWN = 0,
    CHAT_UNSUPPORTED, /* recognised by llama.cpp, not implemented here */
    CHAT_CHATML,
    CHAT_LLAMA2,          /* no system support: system text goes in plain */
    CHAT_LLAMA2_SYS,      /* <<SYS>> block */
    CHAT_LLAMA2_SYS_BOS,  /* ... and "<s>" before every later [INST] */
    CHAT_LLAMA2_SYS_STRIP,/* ... and every message trimmed */
    CHAT_PHI3,
    CHAT_ZEPHYR,
    CHAT_GEMMA,
    CHAT_LLAMA3
} chat_kind;

static const struct {
    const char *name;
    chat_kind kind;
} chat_names[] = {
    {"chatml", CHAT_CHATML},
    {"llama2", CHAT_LLAMA2},
    {"llama-2", CHAT_LLAMA2_SYS},
    {"llama2-sys", CHAT_LLAMA2_SYS},
    {"llama2-sys-bos", CHAT_LLAMA2_SYS_BOS},
    {"llama2-sys-strip", CHAT_LLAMA2_SYS_STRIP},
    {"phi3", CHAT_PHI3},
    {"phi-3", CHAT_PHI3},
    {"zephyr", CHAT_ZEPHYR},
    {"gemma", CHAT_GEMMA},
    {"llama3", CHAT_LLAMA3},
    {"llama-3", CHAT_LLAMA3},
};

static int has(const char *tmpl, const char *needle) { return strstr(tmpl, needle) != NULL; }

static chat_kind detect_inst(const char *t) {
    if (has(t, "[SYSTEM_PROMPT]")) return CHAT_UNSUPPORTED; /* mistral v7 */
    if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]"))
        return CHAT_UNSUPPORTED; /* mistral v1 / v3 / v3-tekken */
    if (has(t, "content.strip()")) return CHAT_LLAMA2_SYS_STRIP;
    if (has(t, "bos_token + '[INST]")) return CHAT_LLAMA2_SYS_BOS;
    if (has(t, "<<SYS>>")) return CHAT_LLAMA2_SYS;
    return CHAT_LLAMA2;
}

/* The first part of llama.cpp's llm_chat_detect_template chain, up to the
 * last family we implement (llama-3); later llama.cpp tests cannot change an
 * answer given here. */
static chat_kind detect(const char *t) {
    for (size_t i = 0; i < sizeof chat_names / sizeof chat_names[0]; i++)
        if (strcmp(t, chat_names[i].name) == 0) return chat_names[i].kind;
    if (has(t, "<|im_start|>"))
        return has(t, "<|im_sep|>") || has(t, "<end_of_utterance>") ? CHAT_UNSUPPORTED
                                                                     : CHAT_CHATML;
    if (strncmp(t, "mistral", 7) == 0 || has(t, "[INST]")) return detect_inst(t);
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) return CHAT_PHI3;
    if (has(t, "[gMASK]<sop>")) return CHAT_UNSUPPORTED;                         /* chatglm4 */
    if (has(t, "<|assistant|>") && has(t, "<|user|>")) return CHAT_UNSUPPORTED;  /* falcon3, glm */
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>")) return CHAT_UNSUPPORTED;
    if (has(t, "<|user|>") && has(t, "<|endoftext|>")) return CHAT_ZEPHYR;
    if (has(t, "bos_token + message['role']")) return CHAT_UNSUPPORTED;         /* monarch */
    if (has(t, "<start_of_turn>")) return CHAT_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token")) return CHAT_UNSUPPORTED;     /* orion */
    if (has(t, "GPT4 Correct ")) return CHAT_UNSUPPORTED;                       /* openchat */
    if (has(t, "USER: ") && has(t, "ASSISTANT: ")) return CHAT_UNSUPPORTED;     /* vicuna */
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) return CHAT_UNSUPPORTED; /* deepseek */
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) return CHAT_UNSUPPORTED;
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) return CHAT_LLAMA3;
    return CHAT_UNKNOWN;
}

const char *qlm_chat_template_kind(const char *tmpl) {
    if (!tmpl) return NULL;
    switch (detect(tmpl)) {
    case CHAT_CHATML: return "chatml";
    case CHAT_LLAMA2:
    case CHAT_LLAMA2_SYS:
    case CHAT_LLAMA2_SYS_BOS:
    case CHAT_LLAMA2_SYS_STRIP: return "llama-2";
    case CHAT_PHI3: return "phi-3";
    case CHAT_ZEPHYR: return "zephyr";
    case CHAT_GEMMA: return "gemma";
    case CHAT_LLAMA3: return "llama-3";
    case CHAT_UNKNOWN:
    case CHAT_UNSUPPORTED: break;
    }
    return NULL;
}

/* ---------------------------------------------------------------- output */

/* Appends to a caller buffer, counting what would have been written so the
 * caller learns the size it needs in one pass. */
typedef struct out_buf {
    char *buf;
    size_t cap, len;
} out_buf;

static void put_n(out_buf *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put(out_buf *o, const char *s) { put_n(o, s, strlen(s)); }

/* Python's str.strip() / llama.cpp's trim(): C-locale isspace at both ends. */
static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static size_t trimmed(const char *s, const char **start) {
    size_t n = strlen(s);
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1])) n--;
    *start = s;
    return n;
}

static void put_trim(out_buf *o, const char *s) {
    const char *t;
    size_t n = trimmed(s, &t);
    put_n(o, t, n);
}

/* ---------------------------------------------------------------- printers */

static void fmt_chatml(out_buf *o, const qlm_chat_message *m, size_t n, int add_ass) {
    for (size_t i = 0; i < n; i++) {
        put(o, "<|im_start|>");
        put(o, m[i].role);
        put(o, "\n");
        put(o, m[i].content);
        put(o, "<|im_end|>\n");
    }
    if (add_ass) put(o, "<|im_start|>assistant\n");
}

/* "<|role|>\n" content END, as phi-3 (END "<|end|>\n") and zephyr
 * (END "<|endoftext|>\n") share it. */
static void fmt_pipe_roles(out_buf *o, const qlm_chat_message *m, size_t n, int add_ass,
                           const char *end) {
    for (size_t i = 0; i < n; i++) {
        put(o, "<|");
        put(o, m[i].role);
        put(o, "|>\n");
        put(o, m[i].content);
        put(o, end);
    }
    if (add_ass) put(o, "<|assistant|>\n");
}

static void fmt_llama3(out_buf *o, const qlm_chat_message *m, size_t n, int add_ass) {
    for (size_t i = 0; i < n; i++) {
        put(o, "<|start_header_id|>");
        put(o, m[i].role);
        put(o, "<|end_header_id|>\n\n");
        put_trim(o, m[i].content);
        put(o, "<|eot_id|>");
    }
    if (add_ass) put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* llama-2 ignores add_assistant: the open "[INST] ... [/INST]" already asks
 * the model to answer (same as llama.cpp). */
static void fmt_llama2(out_buf *o, const qlm_chat_message *m, size_t n, chat_kind kind) {
    int sys_ok = kind != CHAT_LLAMA2;
    int bos_inside = kind == CHAT_LLAMA2_SYS_BOS;
    int strip = kind == CHAT_LLAMA2_SYS_STRIP;
    int inside_turn = 1; /* the first "[INST] " is written up front */
    put(o, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!inside_turn) {
            inside_turn = 1;
            put(o, bos_inside ? "<s>[INST] " : "[INST] ");
        }
        const char *body = m[i].content;
        size_t len = strip ? trimmed(m[i].content, &body) : strlen(body);
        if (strcmp(m[i].role, "system") == 0) {
            put(o, sys_ok ? "<<SYS>>\n" : "");
            put_n(o, body, len);
            put(o, sys_ok ? "\n<</SYS>>\n\n" : "\n");
        } else if (strcmp(m[i].role, "user") == 0) {
            put_n(o, body, len);
            put(o, " [/INST]");
        } else {
            put_n(o, body, len);
            put(o, "</s>");
            inside_turn = 0;
        }
    }
}

/* Gemma has no system role: system texts (trimmed, concatenated) are held
 * back and prefixed to the next non-model turn, as llama.cpp does. */
static void fmt_gemma(out_buf *o, const qlm_chat_message *m, size_t n, int add_ass) {
    size_t pending_from = 0; /* system messages in [pending_from, i) not yet written */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].role, "system") == 0) continue;
        int model = strcmp(m[i].role, "assistant") == 0 || strcmp(m[i].role, "model") == 0;
        put(o, "<start_of_turn>");
        put(o, strcmp(m[i].role, "assistant") == 0 ? "model" : m[i].role);
        put(o, "\n");
        if (!model) {
            size_t sys_len = 0;
            for (size_t j = pending_from; j < i; j++) {
                if (strcmp(m[j].role, "system") != 0) continue;
                const char *t;
                size_t len = trimmed(m[j].content, &t);
                put_n(o, t, len);
                sys_len += len;
            }
            if (sys_len > 0) put(o, "\n\n");
            pending_from = i + 1;
        }
        put_trim(o, m[i].content);
        put(o, "<end_of_turn>\n");
    }
    if (add_ass) put(o, "<start_of_turn>model\n");
}

static void format(out_buf *o, chat_kind kind, const qlm_chat_message *m, size_t n,
                   int add_ass) {
    switch (kind) {
    case CHAT_CHATML: fmt_chatml(o, m, n, add_ass); break;
    case CHAT_LLAMA2:
    case CHAT_LLAMA2_SYS:
    case CHAT_LLAMA2_SYS_BOS:
    case CHAT_LLAMA2_SYS_STRIP: fmt_llama2(o, m, n, kind); break;
    case CHAT_PHI3: fmt_pipe_roles(o, m, n, add_ass, "<|end|>\n"); break;
    case CHAT_ZEPHYR: fmt_pipe_roles(o, m, n, add_ass, "<|endoftext|>\n"); break;
    case CHAT_GEMMA: fmt_gemma(o, m, n, add_ass); break;
    case CHAT_LLAMA3: fmt_llama3(o, m, n, add_ass); break;
    case CHAT_UNKNOWN:
    case CHAT_UNSUPPORTED: break;
    }
}

qlm_status qlm_chat_apply(const char *tmpl, const qlm_chat_message *msgs, size_t n_msgs,
                          int add_assistant, char *buf, size_t cap, size_t *n_out) {
    if (!tmpl || !n_out || (n_msgs > 0 && !msgs) || (cap > 0 && !buf))
        return QLM_ERR_INVALID_ARG;
    *n_out = 0;
    for (size_t i = 0; i < n_msgs; i++)
        if (!msgs[i].role || !msgs[i].content) return QLM_ERR_INVALID_ARG;
    chat_kind kind = detect(tmpl);
    if (kind == CHAT_UNKNOWN || kind == CHAT_UNSUPPORTED) return QLM_ERR_UNSUPPORTED;
    out_buf o = {.buf = buf, .cap = cap, .len = 0};
    format(&o, kind, msgs, n_msgs, add_assistant);
    *n_out = o.len;
    if (o.len >= cap) {
        /* never leave a truncated, unterminated string behind */
        if (cap > 0) buf[0] = '\0';
        return QLM_ERR_BUFFER_TOO_SMALL;
    }
    buf[o.len] = '\0';
    return QLM_OK;
}
