#!/usr/bin/env python3
"""Per-type oracle fixtures: llama.cpp's own quantizer and forward pass.

For each tensor type T below, quantizes the default model
(cache/SmolLM2-135M-Instruct.Q4_1.gguf, `make model`) with llama.cpp's
`llama_model_quantize` (llama-cpp-python 0.3.36) in "pure" mode (every
quantizable tensor to T, no per-tensor mixes; allow_requantize, since the
input is already Q4_1; 2 threads), then writes into
tests/fixtures/oracle/types/:

  smollm2.T.tensors   what llama.cpp's file holds, so qlm's quantizer
                      (engine/quantize.c) can be checked byte for byte:
                        file SIZE FNV      the whole output file
                        meta SIZE FNV      header + metadata + tensor infos
                                           (up to the aligned data section)
                        TYPE FNV           one line per tensor, file order:
                                           its type and the checksum of
                                           its data bytes (no padding)
  smollm2.names       the tensor names in file order, one a line (the same
                      for every T; checked, also against the file already
                      there when only some types are generated), naming
                      the .tensors lines
  smollm2.T.spread    llama.cpp against itself on that file: for each other
                      setting (batch1: the prompt one token per batch;
                      kv_f32: an F32 KV cache; flash: flash attention on),
                      "SETTING SHIFT RESIDUAL STEPS MARGIN": the mean
                      difference of the default run's top-10 logits, the
                      largest difference left after it, how many greedy
                      steps stay equal to the default's and the default's
                      margin where they part (0 if they never do)
  smollm2.T.greedy    64 lines "id margin": llama.cpp's greedy decode of
                      SmolLM2 prompt 0 of gen_llama_oracle.py on that file
  smollm2.T.top10     10 lines "id logit": its logits after the prompt

FNV is FNV-1a 64-bit (offset basis 0xcbf29ce484222325, prime
0x100000001b3) as 16 lowercase hex digits. Greedy and top-10 follow
gen_llama_oracle.py exactly (same functions, same llama.cpp settings); the
prompt tokens are the ones in ../smollm2_q4_1.0.prompt_tokens (checked).
The .spread lines say how far llama.cpp's own rounding moves these
numbers: a 135M model with every matrix at 2-4 bits amplifies rounding
far more than the Q4_1 original (test_quantize.c sets its tolerances from
them).

Types: every one qlm computes, F32 included (ftype ALL_F32 = 0: every
quantizable matrix dequantized to F32; the norms already are). llama.cpp
0.3.36 produces all of them with llama_model_quantize, so none is dropped. K-quants, IQ4_XS and the ternary
types need rows that are a multiple of 256; SmolLM2's 576-wide rows are not,
so llama.cpp falls back per tensor (Q2_K, Q3_K, TQ1_0, TQ2_0 -> Q4_0; Q4_K
-> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0; IQ4_XS -> IQ4_NL) and only ffn_down
(1536-wide rows) gets the type itself. The .tensors files record that.
Q3_K, Q4_K and Q5_K use the ftypes llama-quantize names them by (Q3_K_M,
Q4_K_M, Q5_K_M), which pure mode reduces to the single type; MXFP4 is
MXFP4_MOE, the only MXFP4 ftype.

The temporary GGUFs (up to 270 MB each, 540 MB for F32) live in a temporary directory and
are deleted. FNV-1a over ~100 MB is too slow in Python, so a 10-line C
hasher is compiled with `cc` into that directory and called through ctypes.

Usage: python3 tests/gen/gen_type_oracle.py [model.gguf [out_dir [TYPE ...]]]
Needs: pip install llama-cpp-python==0.3.36 gguf numpy; a C compiler.
"""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_llama_oracle as oracle  # noqa: E402

ROOT = oracle.ROOT
OUT = os.path.join(ROOT, "tests", "fixtures", "oracle", "types")
STEM = "smollm2"
PROMPT = 0

# type name -> llama_ftype (include/llama.h)
FTYPES = {
    "F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9,
    "Q2_K": 10, "Q3_K": 12, "Q4_K": 15, "Q5_K": 17, "Q6_K": 18,
    "IQ4_NL": 25, "IQ4_XS": 30, "TQ1_0": 36, "TQ2_0": 37, "MXFP4": 38,
}

FNV_C = r"""
#include <stdint.h>
#include <stddef.h>
uint64_t fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
"""


def build_hasher(tmp):
    src, lib = os.path.join(tmp, "fnv.c"), os.path.join(tmp, "fnv.so")
    with open(src, "w") as f:
        f.write(FNV_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    fn = ctypes.CDLL(lib).fnv1a64
    fn.restype = ctypes.c_uint64
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    def fnv(buf):
        arr = np.frombuffer(buf, dtype=np.uint8)
        return "%016x" % fn(arr.ctypes.data, arr.size)
    return fnv


def quantize(llama_cpp, src, dst, ftype):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.pure = True
    p.allow_requantize = True
    p.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc}) for ftype {ftype}")


def tensor_lines(path, fnv):
    """(tensor names, the .tensors lines) of a GGUF file."""
    import gguf
    data = np.memmap(path, dtype=np.uint8, mode="r")
    r = gguf.GGUFReader(path)
    meta = int(r.tensors[0].data_offset) if r.tensors else len(data)
    lines = [f"file {len(data)} {fnv(data)}", f"meta {meta} {fnv(data[:meta])}"]
    for t in r.tensors:
        off, n = int(t.data_offset), int(t.n_bytes)
        lines.append(f"{t.tensor_type.name} {fnv(data[off:off + n])}")
    return [t.name for t in r.tensors], lines


# llama.cpp settings that change only rounding (test_forward.c's measure of
# llama.cpp's own spread on the Q4_1 model used the same three)
SETTINGS = {"batch1": {"n_batch": 1, "n_ubatch": 1}, "kv_f32": {"type_k": 0, "type_v": 0},
            "flash": {"flash_attn": True}}


def run(llama_cpp, path, **kw):
    text, special = oracle.SMOLLM2_PROMPTS[PROMPT]
    args = dict(model_path=path, n_ctx=1024, n_batch=512, n_threads=2, logits_all=True, seed=0,
                verbose=False)
    args.update(kw)
    llm = llama_cpp.Llama(**args)
    toks, steps, top10 = oracle.run_prompt(llm, text, special)
    first = np.array(llm.scores[len(toks) - 1], dtype=np.float32)
    del llm
    return toks, steps, top10, first


def spread_lines(llama_cpp, path, steps, top10):
    lines = []
    for name, kw in SETTINGS.items():
        _, other, _, first = run(llama_cpp, path, **kw)
        d = np.array([first[i] - lg for i, lg in top10], dtype=np.float64)
        shift = float(d.mean())
        resid = float(np.abs(d - shift).max())
        same = next((i for i in range(len(steps)) if other[i][0] != steps[i][0]), len(steps))
        margin = steps[same][1] if same < len(steps) else 0.0
        lines.append(f"{name} {shift:.6f} {resid:.6f} {same} {margin:.6f}")
    return lines


def greedy(llama_cpp, path):
    toks, steps, top10, _ = run(llama_cpp, path)
    with open(os.path.join(oracle.OUT, f"smollm2_q4_1.{PROMPT}.prompt_tokens")) as f:
        want = [int(x) for x in f.read().split()]
    if toks != want:
        raise RuntimeError(f"prompt tokens {toks[:8]}... differ from the smollm2_q4_1 fixture")
    return steps, top10


def main():
    import llama_cpp

    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "cache", oracle.MODELS["smollm2_q4_1"][0])
    out = sys.argv[2] if len(sys.argv) > 2 else OUT
    types = sys.argv[3:] or list(FTYPES)
    os.makedirs(out, exist_ok=True)
    llama_cpp.llama_backend_init()
    names = None
    with tempfile.TemporaryDirectory() as tmp:
        fnv = build_hasher(tmp)
        for t in types:
            path = os.path.join(tmp, f"{STEM}.{t}.gguf")
            quantize(llama_cpp, model, path, FTYPES[t])
            tnames, lines = tensor_lines(path, fnv)
            if names is not None and tnames != names:
                raise RuntimeError(f"{t}: tensor names or order differ from the other types'")
            names = tnames
            steps, top10 = greedy(llama_cpp, path)
            spread = spread_lines(llama_cpp, path, steps, top10)
            os.remove(path)
            base = os.path.join(out, f"{STEM}.{t}")
            with open(base + ".tensors", "w") as f:
                f.write(f"# llama_model_quantize(ftype {FTYPES[t]}, pure, allow_requantize) of "
                        f"{os.path.basename(model)}\n")
                f.writelines(line + "\n" for line in lines)
            with open(base + ".greedy", "w") as f:
                f.writelines(f"{tok} {m:.6f}\n" for tok, m in steps)
            with open(base + ".top10", "w") as f:
                f.writelines(f"{tok} {lg:.6f}\n" for tok, lg in top10)
            with open(base + ".spread", "w") as f:
                f.write("# setting shift residual steps margin: llama.cpp against its default run\n")
                f.writelines(line + "\n" for line in spread)
            counts = {}
            for line in lines[2:]:
                ty = line.split()[0]
                counts[ty] = counts.get(ty, 0) + 1
            low = next((i for i, (_, m) in enumerate(steps) if m < 0.5), None)
            print(f"{t}: {lines[0]}, types {counts}, first margin < 0.5 at step {low}, "
                  f"greedy {[tok for tok, _ in steps[:8]]} ...; spread {spread}", flush=True)
    names_path = os.path.join(out, f"{STEM}.names")
    if set(types) != set(FTYPES) and os.path.exists(names_path):
        with open(names_path) as f:
            if f.read().split("\n")[:-1] != names:
                raise RuntimeError(f"tensor names or order differ from {names_path} (the other types')")
    with open(names_path, "w") as f:
        f.writelines(n + "\n" for n in names)
    print("llama-cpp-python", llama_cpp.__version__, "llama.cpp", llama_cpp.llama_version().decode())


if __name__ == "__main__":
    main()
