/* arch.c - the table of supported architectures. */
#include <string.h>

#include "arch.h"

extern const qlm_arch qlm_arch_llama, qlm_arch_gemma3, qlm_arch_qwen2, qlm_arch_qwen3, qlm_arch_phi3;

static const qlm_arch *const archs[] = {&qlm_arch_llama, &qlm_arch_gemma3, &qlm_arch_qwen2, &qlm_arch_qwen3,
                                        &qlm_arch_phi3};

const qlm_arch *qlm_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i]->name, name) == 0) return archs[i];
    return NULL;
}

const char *qlm_arch_list(void) { return "llama, gemma3, qwen2, qwen3, phi3"; }
