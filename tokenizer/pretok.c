/* pretok.c - BPE pre-tokenizers: the regex lists of tokenizer.ggml.pre and
 * the splitter that applies them with PCRE2.
 *
 * The regexes are the ones llama.cpp (llama-vocab.cpp) uses for each pre
 * type, themselves adapted from the models' tokenizer.json. Like llama.cpp,
 * a list is applied in order: each regex splits every piece the previous
 * one produced, and text between matches is kept as a piece of its own. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* GPT-2 (tiktoken r50k): contractions, letters, digits, other, spaces. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
/* Llama 3 (tiktoken cl100k) with the case-insensitive group spelled out. */
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Qwen2: like Llama 3 but single digits. */
#define RE_QWEN2 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Qwen 3.5: Qwen2 with combining marks (\p{M}) kept inside words. */
#define RE_QWEN35                                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}"                                 \
                    "| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Gemma 4 style (SentencePiece-like BPE): spaces are already U+2581, so
 * words are only cut between newline runs and the rest. */
#define RE_NEWLINES "[^\\n]+|[\\n]+"
/* Whitespace at the end of most lists: runs not followed by a non-space, then any. */
#define RE_WS_TAIL "|\\s+(?!\\S)|\\s+"
/* CJK ideographs, hiragana and katakana. */
#define RE_CJK_KANA "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+"
/* DeepSeek V3 style: one ASCII punctuation mark glued to the letters after it. */
#define RE_PUNCT_WORD                                                                              \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
/* Words of "upper then lower" letters, then of "upper (then lower)", each
 * with an optional contraction (suffix); L is the letter class (as above,
 * llama.cpp reads upper and lower case classes as any letter). */
#define RE_CASED_WORDS(L, q)                                                                       \
    "[^\\r\\n\\p{L}\\p{N}]?[" L "]*[" L "]+" RE_CONTRACTIONS q                                     \
    "|[^\\r\\n\\p{L}\\p{N}]?[" L "]+[" L "]*" RE_CONTRACTIONS q
/* GPT-4o style case split spelled with lookaheads: a letter that is not
 * a-z counts as upper case, one that is not A-Z as lower case. */
#define RE_UPPER_LOWER(L, suffix)                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[" L "])([^a-z]))*((?=[" L "])([^A-Z]))+" suffix                     \
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[" L "])([^a-z]))+((?=[" L "])([^A-Z]))*" suffix
#define RE_CJK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+"

/* pretok_def.flags: llama.cpp's per-type settings (see tok_pretok_opts). */
enum {
    PRE_IGNORE_MERGES = 1u << 0, /* a word that is a whole token skips merging */
    PRE_ADD_BOS = 1u << 1,       /* add_bos_token defaults to true */
    PRE_FORCE_BOS = 1u << 2,     /* add_bos_token is always true (Gemma 4 workaround) */
    PRE_ESCAPE_SPACES = 1u << 3  /* raw UTF-8 BPE, U+2581 for spaces (tok_vocab) */
};

typedef struct pretok_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    unsigned flags;
    const char *re[6];
} pretok_def;

/* Row 0 is the default ("default", missing or unknown names). */
static const pretok_def k_pretoks[] = {
    {"default", 0,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|jina-v5-nano",
     PRE_IGNORE_MERGES | PRE_ADD_BOS, {RE_LLAMA3}},
    {"dbrx|smaug-bpe|chatglm-bpe", 0, {RE_LLAMA3}},
    {"glm4|glm5", PRE_IGNORE_MERGES, {RE_LLAMA3}},
    {"deepseek-llm", 0,
     {"[\r\n]",
      "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf"
      "\xc7\x84-\xca\x93\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd"
      "\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-"
      "\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-\xe1"
      "\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf\xe1"
      "\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a\xe1\xb8\x80-\xe1"
      "\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d\xe1"
      "\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd\xe1"
      "\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1\xbf\x82-\xe1\xbf\x84\xe1"
      "\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-\xe1"
      "\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2"
      "\x84\x8a-\xe2\x84\x93\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2"
      "\x84\xa8\xe2\x84\xaa-\xe2\x84\xad\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2"
      "\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-\xe2"
      "\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3\xb3\xea"
      "\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-\xea"
      "\x9e\x87\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86\xef"
      "\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90\x80-"
      "\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb\xf0"
      "\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91"
      "\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
      "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f"
      "\xe3\x80\x80-\xe3\x80\x82]+",
      "\\s+$", RE_CJK, "\\p{N}+"}},
    {"deepseek-coder", 0,
     {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}},
    {"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|mellum2", 0,
     {"\\p{N}", RE_GPT2}},
    {"gpt-2|mpt|olmo|jais|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum"
     "|modern-bert|jina-v1-en|jina-v2-code|roberta-bpe|exaone4|trillion|granite-docling",
     0, {RE_GPT2}},
    {"qwen2|deepseek-r1-qwen|kormo|f2llmv2|stablelm2|megrez|hunyuan|solar-open|grok-2",
     0, {RE_QWEN2}},
    {"qwen35", 0, {RE_QWEN35}},
    {"gemma4|granite-embed-multi-311m", PRE_FORCE_BOS | PRE_ESCAPE_SPACES, {RE_NEWLINES}},
    {"sarvam-moe", PRE_ESCAPE_SPACES, {RE_NEWLINES}},
    /* The rows below are llama.cpp's regexes as its std::regex fallback
     * reads them: \p{Lu}, \p{Ll}, \p{Lt}, \p{Lm} and \p{Lo} all stand for
     * \p{L} there (it matches on letter/number/... classes only), \d is
     * ASCII, and tiny_aya's digit regex is replaced by code that cuts every
     * \p{N} run into groups of three from the right. */
    {"deepseek-v3|hunyuan-dense|hy_v4|joyai-llm", 0,
     {"\\p{N}{1,3}", RE_CJK_KANA, RE_PUNCT_WORD " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+" RE_WS_TAIL}},
    {"spark2_5", 0,
     {"\\p{N}{1,3}", RE_CJK_KANA, RE_PUNCT_WORD " ?[\\p{P}\\p{S}]+|[\r\n]" RE_WS_TAIL, "\\p{N}"}},
    {"youtu", PRE_IGNORE_MERGES,
     {"[\xea\xb0\x80-\xed\x9e\xa3\xe3\x84\xb1-\xe3\x86\x8e]+" /* Hangul, jamo */
      "|[\xef\xbc\x81\xe2\x80\xa6\xe2\x80\x9c\xe2\x80\x9d\xe2\x80\x98\xe2\x80\x99\xe2\x80\x94\xef\xbc\x9a"
      "\xef\xbc\x9b\xef\xbc\x8c\xe3\x80\x81-\xe3\x80\xbf\xef\xb8\xb0-\xef\xb9\x8f]+" /* CJK punctuation */
      "|[\xe3\x84\x85-\xe3\x84\xaf]+|" RE_CJK_KANA,
      RE_CASED_WORDS("\\p{L}\\p{M}", "?") "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+"
      RE_WS_TAIL}},
    {"jais-2", 0,
     {RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
      "|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)"
      "|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"}},
    {"gpt-4o|llama4|kanana2|talkie|minimax-m2", 0,
     {RE_UPPER_LOWER("\\p{L}", RE_CONTRACTIONS "?") "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*"
      "|\\s*[\\r\\n]+" RE_WS_TAIL}},
    {"granite-embed-multi-97m", PRE_IGNORE_MERGES,
     {RE_UPPER_LOWER("\\p{L}\\p{M}", RE_CONTRACTIONS "?") "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*"
      "|\\s*[\\r\\n]+" RE_WS_TAIL}},
    {"tiny_aya|cohere2moe", 0,
     {"\\p{N}{1,3}(?=(?:\\p{N}{3})*(?!\\p{N}))",
      RE_CASED_WORDS("\\p{L}\\p{M}", "?") "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+"
      RE_WS_TAIL}},
    {"superbpe", 0, {"\\p{N}+", "(?=([0-9]{3})+(?![0-9]))"}},
    {"bailingmoe|bailingmoe2|llada-moe", 0,
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]" RE_WS_TAIL}},
    {"seed-coder", 0,
     {RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+"
      RE_WS_TAIL}},
    {"ufakzeka", 0,
     {"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+" RE_WS_TAIL}},
    {"laguna", 0, {RE_NEWLINES, RE_QWEN2}},
    {"exaone-moe", 0,
     {RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}"
      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]" RE_WS_TAIL}},
    {"minicpm5", PRE_IGNORE_MERGES,
     {"\\p{N}{1,3}", RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                     "|\\s*[\\r\\n]+" RE_WS_TAIL}},
    {"chameleon", PRE_ADD_BOS,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
    {"tekken", PRE_IGNORE_MERGES | PRE_ADD_BOS,
     {RE_UPPER_LOWER("\\p{L}", "") "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+" RE_WS_TAIL}},
    {"poro-chat|bloom|gpt3-finnish", 0,
     {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"}},
    {"viking", 0,
     {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+",
      "\\p{N}"}},
};

static bool name_in_list(const char *list, const char *s, size_t len) {
    while (*list) {
        const char *bar = strchr(list, '|');
        size_t n = bar ? (size_t)(bar - list) : strlen(list);
        if (n == len && memcmp(list, s, len) == 0) return true;
        if (!bar) break;
        list = bar + 1;
    }
    return false;
}

size_t tok_pretok_name(size_t i, char *buf, size_t cap) {
    for (size_t r = 0; r < sizeof k_pretoks / sizeof *k_pretoks; r++)
        for (const char *s = k_pretoks[r].names;;) {
            const char *bar = strchr(s, '|');
            const size_t n = bar ? (size_t)(bar - s) : strlen(s);
            if (i-- == 0) {
                if (n >= cap) return 0;
                memcpy(buf, s, n);
                buf[n] = '\0';
                return n;
            }
            if (!bar) break;
            s = bar + 1;
        }
    return 0;
}

qlm_status tok_pretok_init(tok_pretok *p, const char *pre, size_t pre_len, tok_pretok_opts *opts,
                           qlm_errbuf *err) {
    memset(p, 0, sizeof *p);
    size_t n_defs = sizeof k_pretoks / sizeof *k_pretoks, row = 0;
    bool known = pre_len == 0; /* missing: the default, as llama.cpp (it only warns) */
    for (size_t i = 0; i < n_defs && !known; i++) {
        if (name_in_list(k_pretoks[i].names, pre, pre_len)) {
            row = i;
            known = true;
        }
    }
    const pretok_def *d = &k_pretoks[row];
    *opts = (tok_pretok_opts){known, (d->flags & PRE_IGNORE_MERGES) != 0, (d->flags & PRE_ADD_BOS) != 0,
                              (d->flags & PRE_FORCE_BOS) != 0, (d->flags & PRE_ESCAPE_SPACES) != 0};
    for (int i = 0; i < 6 && d->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
        if (!re) {
            tok_pretok_free(p);
            return qlm_err(err, QLM_ERR_INTERNAL, "pre-tokenizer regex %d of '%s': error %d at %zu",
                           i, d->names, ec, (size_t)eo);
        }
        p->re[i] = re;
        p->jit[i] = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
        p->n_re = i + 1;
    }
    return QLM_OK;
}

void tok_pretok_free(tok_pretok *p) {
    for (int i = 0; i < p->n_re; i++) pcre2_code_free(p->re[i]);
    memset(p, 0, sizeof *p);
}

/* The subject the regexes see: valid UTF-8 in which each invalid input byte
 * stands as U+FFFD (as llama.cpp decodes it) and U+0085 as a vertical tab
 * (llama.cpp counts NEL as whitespace, PCRE2's \s does not). cp_text[i] is
 * the input offset of code point i, cp_subj[i] its subject offset. */
typedef struct subject {
    char *s;
    size_t len, n_cp;
    size_t *cp_text, *cp_subj;
    uint32_t *byte_cp; /* subject byte offset -> code point index */
} subject;

static void subject_free(subject *sj) {
    free(sj->s);
    free(sj->cp_text);
    free(sj->cp_subj);
    free(sj->byte_cp);
}

static bool subject_build(subject *sj, const char *text, size_t len) {
    memset(sj, 0, sizeof *sj);
    sj->s = malloc(len * 3 + 1);
    sj->cp_text = malloc((len + 1) * sizeof *sj->cp_text);
    sj->cp_subj = malloc((len + 1) * sizeof *sj->cp_subj);
    sj->byte_cp = malloc((len * 3 + 1) * sizeof *sj->byte_cp);
    if (!sj->s || !sj->cp_text || !sj->cp_subj || !sj->byte_cp) return false;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = tok_utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (k == 0) cp = 0xFFFD, k = 1;
        if (cp == 0x85) cp = 0x0B;
        sj->cp_text[sj->n_cp] = i;
        sj->cp_subj[sj->n_cp] = sj->len;
        size_t w = tok_utf8_encode(cp, sj->s + sj->len);
        for (size_t j = 0; j < w; j++) sj->byte_cp[sj->len + j] = (uint32_t)sj->n_cp;
        sj->len += w;
        sj->n_cp++;
        i += k;
    }
    sj->cp_text[sj->n_cp] = len;
    sj->cp_subj[sj->n_cp] = sj->len;
    sj->byte_cp[sj->len] = (uint32_t)sj->n_cp;
    return true;
}

typedef struct bounds {
    size_t *v;
    size_t n, cap;
    bool oom;
} bounds;

static void bounds_push(bounds *b, size_t x) {
    if (b->oom) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        size_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->oom = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = x;
}

/* Splits the piece [a, b) (code points) with one regex, appending the end
 * of every resulting piece to out. An empty match (a lookahead such as
 * superbpe's) cuts the piece where it stands, as in llama.cpp; then a
 * non-empty match is tried at the same place before stepping on. */
static void split_piece(const subject *sj, const pcre2_code *re, bool jit, size_t a, size_t b,
                        pcre2_match_data *md, bounds *out) {
    const char *base = sj->s + sj->cp_subj[a];
    size_t blen = sj->cp_subj[b] - sj->cp_subj[a], pos = 0, last = 0;
    bool after_empty = false;
    while (pos < blen) {
        uint32_t opt = PCRE2_NO_UTF_CHECK | (after_empty ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0);
        int rc = pcre2_match(re, (PCRE2_SPTR)base, blen, pos, opt, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit)
            rc = pcre2_match(re, (PCRE2_SPTR)base, blen, pos, opt | PCRE2_NO_JIT, md, NULL);
        if (rc < 0 && after_empty) { /* nothing non-empty here: step one code point on */
            size_t cp = sj->byte_cp[sj->cp_subj[a] + pos];
            pos = sj->cp_subj[cp + 1] - sj->cp_subj[a];
            after_empty = false;
            continue;
        }
        if (rc < 0) break; /* no match (or a match limit): the rest is one piece */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > last) bounds_push(out, sj->byte_cp[sj->cp_subj[a] + ms]);
        if (me > ms) bounds_push(out, sj->byte_cp[sj->cp_subj[a] + me]);
        after_empty = me <= ms;
        last = pos = me > ms ? me : ms;
    }
    if (last < blen) bounds_push(out, b);
}

size_t tok_pretok_split(const tok_pretok *p, const char *text, size_t len, size_t **out,
                        bool *oom) {
    *out = NULL;
    if (len == 0) return 0;
    subject sj = {0};
    bounds cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    bool ok = md && subject_build(&sj, text, len);
    if (ok) {
        bounds_push(&cur, 0);
        bounds_push(&cur, sj.n_cp);
    }
    for (int r = 0; ok && r < p->n_re && !cur.oom; r++) {
        next.n = 0;
        bounds_push(&next, 0);
        for (size_t i = 0; i + 1 < cur.n; i++)
            split_piece(&sj, p->re[r], p->jit[r], cur.v[i], cur.v[i + 1], md, &next);
        bounds tmp = cur;
        cur = next;
        next = tmp;
        ok = !cur.oom;
    }
    size_t n_words = 0;
    if (ok && !cur.oom) {
        for (size_t i = 0; i < cur.n; i++) cur.v[i] = sj.cp_text[cur.v[i]]; /* to byte offsets */
        n_words = cur.n - 1;
        *out = cur.v;
        cur.v = NULL;
    } else {
        *oom = true;
    }
    pcre2_match_data_free(md);
    subject_free(&sj);
    free(cur.v);
    free(next.v);
    return n_words;
}
