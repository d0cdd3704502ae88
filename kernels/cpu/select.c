/* select.c - picks the kernel table: the best one this CPU runs (amx >
 * avx512 > avx2 > ref), or the one QLM_CPU=ref|avx2|avx512|amx names. The
 * environment is read on every call (cheap; it happens at model load), so a process may
 * load models under different settings; only the CPU probe is cached. */
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"

static int supported(const qlm_cpu_table *t, unsigned features) { return (t->needs & features) == t->needs; }

static const qlm_ops *best_table(const qlm_cpu_table *tables, int n, unsigned features) {
    for (int i = 0; i < n; i++)
        if (supported(&tables[i], features)) return tables[i].ops;
    return &qlm_ops_ref;
}

/* note: NULL when QLM_CPU is unset or honoured, else a constant reason (the
 * library prints nothing; the CLI logs it). */
const qlm_ops *qlm_ops_select_note(const char **note) {
    const qlm_cpu_table *tables;
    const int n = qlm_cpu_tables(&tables);
    const unsigned features = qlm_cpu_features();
    const char *want = getenv("QLM_CPU");
    *note = NULL;
    if (!want || !*want) return best_table(tables, n, features);
    if (strcmp(want, qlm_ops_ref.name) == 0) return &qlm_ops_ref;
    for (int i = 0; i < n; i++) {
        if (strcmp(want, tables[i].ops->name) != 0) continue;
        if (supported(&tables[i], features)) return tables[i].ops;
        *note = "QLM_CPU names kernels this CPU (or OS) cannot run; using the best available";
        return best_table(tables, n, features);
    }
    *note = "QLM_CPU is not one of ref, avx2, avx512, amx, neon, neon-dot (or not built for this architecture); "
            "using the best available";
    return best_table(tables, n, features);
}

const qlm_ops *qlm_ops_select(void) {
    const char *note;
    return qlm_ops_select_note(&note);
}

int qlm_ops_list(const qlm_ops **out, int cap) {
    const qlm_cpu_table *tables;
    const int n = qlm_cpu_tables(&tables);
    const unsigned features = qlm_cpu_features();
    int k = 0;
    if (k < cap) out[k++] = &qlm_ops_ref;
    for (int i = n - 1; i >= 0 && k < cap; i--) /* worst to best after the reference */
        if (supported(&tables[i], features)) out[k++] = tables[i].ops;
    return k;
}
