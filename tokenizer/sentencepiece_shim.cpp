// sentencepiece_shim.cpp - a C face on libsentencepiece's C++ processor.
// Every entry point catches exceptions: nothing thrown reaches C callers.
#include "sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct qlm_sp {
    sentencepiece::SentencePieceProcessor proc;
};

extern "C" int qlm_sp_load(const char *path, qlm_sp **out, char *err, size_t err_cap) {
    *out = nullptr;
    try {
        qlm_sp *sp = new qlm_sp;
        const auto st = sp->proc.Load(path);
        if (!st.ok()) {
            std::snprintf(err, err_cap, "%s", st.ToString().c_str());
            delete sp;
            return 1;
        }
        *out = sp;
        return 0;
    } catch (const std::exception &e) {
        std::snprintf(err, err_cap, "sentencepiece: %s", e.what());
    } catch (...) {
        std::snprintf(err, err_cap, "sentencepiece: unknown error");
    }
    return 1;
}

extern "C" void qlm_sp_free(qlm_sp *sp) { delete sp; }

extern "C" int qlm_sp_size(const qlm_sp *sp) { return sp->proc.GetPieceSize(); }

extern "C" const char *qlm_sp_piece(const qlm_sp *sp, int id, size_t *len) {
    const std::string &s = sp->proc.IdToPiece(id);
    *len = s.size();
    return s.data();
}

extern "C" float qlm_sp_score(const qlm_sp *sp, int id) { return sp->proc.GetScore(id); }

extern "C" int qlm_sp_type(const qlm_sp *sp, int id) {
    if (sp->proc.IsUnknown(id)) return QLM_SP_UNKNOWN;
    if (sp->proc.IsControl(id)) return QLM_SP_CONTROL;
    if (sp->proc.IsUnused(id)) return QLM_SP_UNUSED;
    if (sp->proc.IsByte(id)) return QLM_SP_BYTE;
    return QLM_SP_NORMAL;
}

extern "C" int qlm_sp_bos(const qlm_sp *sp) { return sp->proc.bos_id(); }
extern "C" int qlm_sp_eos(const qlm_sp *sp) { return sp->proc.eos_id(); }
extern "C" int qlm_sp_unk(const qlm_sp *sp) { return sp->proc.unk_id(); }
extern "C" int qlm_sp_pad(const qlm_sp *sp) { return sp->proc.pad_id(); }

extern "C" int qlm_sp_encode(const qlm_sp *sp, const char *text, size_t len, int32_t **ids,
                             size_t *n) {
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        if (!sp->proc.Encode(std::string(text, len), &v).ok()) return 1;
        int32_t *a = static_cast<int32_t *>(std::malloc((v.size() ? v.size() : 1) * sizeof *a));
        if (!a) return 1;
        for (size_t i = 0; i < v.size(); i++) a[i] = v[i];
        *ids = a;
        *n = v.size();
        return 0;
    } catch (...) {
        return 1;
    }
}
