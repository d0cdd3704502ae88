/* test_chat.c - chat template detection and formatting.
 *
 * Expected strings are llama.cpp's (tests/test-chat-template.cpp, the
 * "expected_output" of its legacy printer for the same conversation), so a
 * prompt built by qlm is byte-identical to one built by llama.cpp. */
#include <criterion/criterion.h>
#include <string.h>

#include "qlm.h"

/* llama.cpp's test conversation */
static const qlm_chat_message conv[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
#define N_CONV (sizeof conv / sizeof conv[0])

/* SmolLM2-135M-Instruct's tokenizer.chat_template, verbatim from the GGUF */
static const char smollm2_tmpl[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

static const char chatml_tmpl[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const char llama2_tmpl[] = /* mistralai/Mistral-7B-Instruct-v0.2, pre-v1 */
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% endif %}{% endfor %}";

static const char llama2_sys_bos_tmpl[] = /* TheBloke/FusionNet_34Bx2_MoE-AWQ (abridged) */
    "{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}"
    "{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + "
    "messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}";

static const char llama2_sys_strip_tmpl[] = /* bofenghuang/vigogne-2-70b-chat (abridged) */
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}";

static const char gemma_tmpl[] =
    "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\\n'}}{% endif %}";

static const char llama3_tmpl[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";

static const char phi3_tmpl[] = /* microsoft/Phi-3-small */
    "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + "
    "message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

/* what llama.cpp recognises as zephyr: "<|user|>" and "<|endoftext|>" with no
 * literal "<|assistant|>" (that would make it falcon-3 / glm-edge) */
static const char zephyr_tmpl[] =
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + "
    "'<|endoftext|>\n' }}{% if message['role'] == 'user' %}{# <|user|> #}{% endif %}{% endfor %}";

static char *apply(const char *tmpl, const qlm_chat_message *m, size_t n, int add_ass) {
    size_t need = 0;
    cr_assert_eq(qlm_chat_apply(tmpl, m, n, add_ass, NULL, 0, &need), QLM_ERR_BUFFER_TOO_SMALL);
    char *buf = malloc(need + 1);
    size_t got = 0;
    cr_assert_eq(qlm_chat_apply(tmpl, m, n, add_ass, buf, need + 1, &got), QLM_OK);
    cr_assert_eq(got, need);
    cr_assert_eq(strlen(buf), need);
    return buf;
}

static void check(const char *tmpl, const char *kind, const char *expect, int add_ass) {
    cr_assert_str_eq(qlm_chat_template_kind(tmpl), kind);
    char *got = apply(tmpl, conv, N_CONV, add_ass);
    cr_assert_str_eq(got, expect, "%s:\n got [%s]\nwant [%s]", kind, got, expect);
    free(got);
}

Test(chat, chatml) {
    check(chatml_tmpl, "chatml",
          "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello"
          "<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you"
          "<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user"
          "\nAnother question<|im_end|>\n<|im_start|>assistant\n",
          1);
}

Test(chat, chatml_no_assistant_opener) {
    const qlm_chat_message m[] = {{"user", "Hi"}};
    char *got = apply(chatml_tmpl, m, 1, 0);
    cr_assert_str_eq(got, "<|im_start|>user\nHi<|im_end|>\n");
    free(got);
}

Test(chat, smollm2_is_chatml_without_default_system) {
    cr_assert_str_eq(qlm_chat_template_kind(smollm2_tmpl), "chatml");
    const qlm_chat_message m[] = {{"user", "What is 2+2?"}};
    char *got = apply(smollm2_tmpl, m, 1, 1);
    /* llama.cpp's chatml printer adds no default system prompt */
    cr_assert_str_eq(got, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(got);
}

Test(chat, llama2_without_sys) {
    check(llama2_tmpl, "llama-2",
          "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you "
          "[/INST]   I am an assistant   </s>[INST] Another question [/INST]",
          1);
}

Test(chat, llama2_sys_bos) {
    check(llama2_sys_bos_tmpl, "llama-2",
          "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
          "<s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question "
          "[/INST]",
          1);
}

Test(chat, llama2_sys_strip) {
    check(llama2_sys_strip_tmpl, "llama-2",
          "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
          "[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]",
          1);
}

Test(chat, llama2_ignores_add_assistant) {
    char *a = apply(llama2_tmpl, conv, N_CONV, 0), *b = apply(llama2_tmpl, conv, N_CONV, 1);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
}

Test(chat, gemma_merges_system_into_first_user) {
    check(gemma_tmpl, "gemma",
          "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
          "<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you"
          "<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
          "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n",
          1);
}

Test(chat, gemma_no_system_no_opener) {
    const qlm_chat_message m[] = {{"user", "  Hi \n"}};
    char *got = apply(gemma_tmpl, m, 1, 0);
    cr_assert_str_eq(got, "<start_of_turn>user\nHi<end_of_turn>\n");
    free(got);
}

Test(chat, llama3) {
    check(llama3_tmpl, "llama-3",
          "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant"
          "<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho "
          "are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant"
          "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n",
          1);
}

Test(chat, phi3) {
    check(phi3_tmpl, "phi-3",
          "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n"
          "Hi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   "
          "<|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n",
          1);
}

Test(chat, zephyr) {
    /* llama.cpp's zephyr printer; not in its expectation table */
    check(zephyr_tmpl, "zephyr",
          "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n"
          "<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n"
          "<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\nAnother question"
          "<|endoftext|>\n<|assistant|>\n",
          1);
}

Test(chat, names_select_a_family) {
    cr_assert_str_eq(qlm_chat_template_kind("chatml"), "chatml");
    cr_assert_str_eq(qlm_chat_template_kind("llama3"), "llama-3");
    cr_assert_str_eq(qlm_chat_template_kind("gemma"), "gemma");
    cr_assert_str_eq(qlm_chat_template_kind("phi3"), "phi-3");
}

Test(chat, families_llama_cpp_knows_but_we_do_not_are_unsupported) {
    const char *others[] = {
        "{{'<|im_start|>' + message['role'] + '<|im_sep|>'}}", /* phi-4 */
        "[SYSTEM_PROMPT] [INST]",                              /* mistral v7 */
        "{{'<|user|>\n'}}{{'<|assistant|>\n'}}</s>",           /* falcon-3 */
        "{{ 'GPT4 Correct ' + role }}",                        /* openchat */
    };
    char buf[64];
    size_t n;
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        cr_assert_null(qlm_chat_template_kind(others[i]), "%s", others[i]);
        cr_assert_eq(qlm_chat_apply(others[i], conv, 1, 1, buf, sizeof buf, &n),
                     QLM_ERR_UNSUPPORTED);
    }
}

Test(chat, unknown_template) {
    char buf[64];
    size_t n;
    cr_assert_null(qlm_chat_template_kind("{{ messages }}"));
    cr_assert_eq(qlm_chat_apply("{{ messages }}", conv, 1, 1, buf, sizeof buf, &n),
                 QLM_ERR_UNSUPPORTED);
    cr_assert_eq(qlm_chat_apply("", conv, 1, 1, buf, sizeof buf, &n), QLM_ERR_UNSUPPORTED);
}

Test(chat, size_contract) {
    const qlm_chat_message m[] = {{"user", "Hi"}};
    const char *expect = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    size_t len = strlen(expect), n = 0;
    char buf[128];
    memset(buf, 'x', sizeof buf);
    /* exactly len bytes leaves no room for the NUL */
    cr_assert_eq(qlm_chat_apply("chatml", m, 1, 1, buf, len, &n), QLM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, len);
    cr_assert_eq(buf[0], '\0');
    cr_assert_eq(buf[len], 'x', "wrote past cap");
    cr_assert_eq(qlm_chat_apply("chatml", m, 1, 1, buf, len + 1, &n), QLM_OK);
    cr_assert_eq(n, len);
    cr_assert_str_eq(buf, expect);
    /* no messages: just the opener */
    cr_assert_eq(qlm_chat_apply("chatml", NULL, 0, 1, buf, sizeof buf, &n), QLM_OK);
    cr_assert_str_eq(buf, "<|im_start|>assistant\n");
}

Test(chat, null_args) {
    const qlm_chat_message m[] = {{"user", "Hi"}};
    const qlm_chat_message bad_role[] = {{NULL, "Hi"}};
    const qlm_chat_message bad_content[] = {{"user", NULL}};
    char buf[64];
    size_t n;
    cr_assert_null(qlm_chat_template_kind(NULL));
    cr_assert_eq(qlm_chat_apply(NULL, m, 1, 1, buf, sizeof buf, &n), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_chat_apply("chatml", NULL, 1, 1, buf, sizeof buf, &n), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_chat_apply("chatml", m, 1, 1, NULL, 8, &n), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_chat_apply("chatml", m, 1, 1, buf, sizeof buf, NULL), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_chat_apply("chatml", bad_role, 1, 1, buf, sizeof buf, &n),
                 QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_chat_apply("chatml", bad_content, 1, 1, buf, sizeof buf, &n),
                 QLM_ERR_INVALID_ARG);
}
