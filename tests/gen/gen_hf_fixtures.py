#!/usr/bin/env python3
"""Outside-oracle fixtures for every architecture: tiny random Hugging Face
models, converted by llama.cpp's own converter, with PyTorch's logits.

For each architecture below this script
  1. builds a tiny randomly initialised transformers model in float32
     (hidden 64, 2 layers, 6 for gemma3 so that one layer is global),
     with every weight, norm and bias drawn at random (so that a dropped
     bias or norm, or a misplaced row, changes the logits),
  2. saves it with tests/fixtures/tokenizer/tiny.model as its SentencePiece
     tokenizer (the converter accepts it for every family here; the
     fixtures test weights and the forward pass, not the tokenizer),
  3. converts it with convert_hf_to_gguf.py of the llama-cpp-python 0.3.36
     source package (its vendored llama.cpp and gguf-py) at --outtype f32,
     f16, bf16 and q8_0, into tests/fixtures/hf/ARCH.TYPE.gguf,
  4. runs PyTorch (float32, eager attention, CPU) on a few token-id
     sequences and writes all their logits to tests/fixtures/hf/ARCH.logits.

ARCH.logits, little-endian:
  char[8]   "QLMLOGIT"
  uint32    n_seq, n_vocab
  n_seq times:
    uint32  n_tok
    int32   ids[n_tok]
    float32 logits[n_tok][n_vocab]   (the logits after each position)

Each model's choices (GQA, head_dim != n_embd / n_head, tied or untied
output, biases, partial rotary, sliding window 4 with 16-token prompts,
Llama 3 RoPE scaling for "llama3", which the converter writes as
rope_freqs.weight) are noted in ARCHS. For a model with rope_scaling it
also prints how far PyTorch's logits of the same weights without the
scaling are from the reference (what a loader ignoring rope_freqs.weight
would get; llama3: 0.955 against the F32 tolerance of 1e-4). With
--check-llama-cpp it also runs llama.cpp
(llama-cpp-python) on each GGUF and prints how far its logits are from
PyTorch's, which calibrates the tolerances of tests/test_archs.c.

Usage: python3 tests/gen/gen_hf_fixtures.py [--check-llama-cpp] [ARCH ...]
(only the ARCHs named, e.g. `llama3`; all of them without any; every model
and sequence is seeded by its place in ARCHS, so new entries go at the end
and regenerating one leaves the others' files as they were).
Needs: pip install torch transformers sentencepiece numpy (and
llama-cpp-python==0.3.36 for --check-llama-cpp). The llama.cpp source is
taken from $LLAMA_CPP_SRC, else downloaded once with
`pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36` and
unpacked into ${XDG_CACHE_HOME:-~/.cache}/qlm/llama.cpp-0.3.36/src (where
bench/compare-llamacpp.sh puts it; llama.cpp-0.3.36/ itself is also looked in).
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "hf")
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "tiny.model")
VERSION = "0.3.36"
OUTTYPES = ["f32", "f16", "bf16", "q8_0"]
N_VOCAB = 400  # tiny.model's pieces
SEQ_LENS = [8, 12, 16]

# Common shape: hidden 64, 2 layers, vocab 400. Per family, what it exercises.
ARCHS = {
    # llama: GQA 4/2, tied output, RoPE in the "normal" (interleaved) layout
    # after the converter's Q/K permutation
    "llama": dict(cls="LlamaForCausalLM", cfg="LlamaConfig", kw=dict(
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=96,
        tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-5)),
    # mistral: the converter writes general.architecture = llama; head_dim 32
    # with 4 heads (q_dim 128 != n_embd), one KV head, untied output. Its
    # sliding window is off (llama.cpp's llama arch has none).
    "mistral": dict(cls="MistralForCausalLM", cfg="MistralConfig", kw=dict(
        num_attention_heads=4, num_key_value_heads=1, head_dim=32, intermediate_size=96,
        tie_word_embeddings=False, rope_theta=1000000.0, rms_norm_eps=1e-5, sliding_window=None)),
    # qwen2: Q/K/V biases, NeoX RoPE, tied output
    "qwen2": dict(cls="Qwen2ForCausalLM", cfg="Qwen2Config", kw=dict(
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=96,
        tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6, use_sliding_window=False)),
    # qwen3: per-head Q/K RMSNorm, head_dim 32 (q_dim 128), untied output
    "qwen3": dict(cls="Qwen3ForCausalLM", cfg="Qwen3Config", kw=dict(
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, intermediate_size=96,
        tie_word_embeddings=False, rope_theta=1000000.0, rms_norm_eps=1e-6, use_sliding_window=False)),
    # phi3: fused QKV and gate/up, partial rotary (half of each head),
    # GQA 4/2. llama.cpp disables Phi-3's sliding window, so none here.
    "phi3": dict(cls="Phi3ForCausalLM", cfg="Phi3Config", kw=dict(
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=96,
        tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5, partial_rotary_factor=0.5,
        sliding_window=None, max_position_embeddings=4096, original_max_position_embeddings=4096,
        pad_token_id=0)),
    # gemma3: 6 layers (layers 0-4 slide over a 4-position window with RoPE
    # base 10000, layer 5 is global with base 1e6, as llama.cpp's default
    # pattern reads a file without the pattern key), scaled embeddings, Q/K
    # norms, post-norms, GELU-tanh, final logit soft-capping. The query scale
    # is 1/sqrt(head_dim), as llama.cpp assumes (query_pre_attn_scalar).
    "gemma3": dict(cls="Gemma3ForCausalLM", cfg="Gemma3TextConfig", layers=6, kw=dict(
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, intermediate_size=64,
        query_pre_attn_scalar=16, sliding_window=4, final_logit_softcapping=8.0,
        tie_word_embeddings=True, rms_norm_eps=1e-6, max_position_embeddings=2048)),
    # llama3: Llama 3 RoPE scaling (rope_type "llama3"), which the converter
    # writes as the per-dimension divisors rope_freqs.weight. With head_dim
    # 32 (16 rotated pairs, wavelengths 2 pi 10000^(i/16) = 6.3, 11.2, 19.9,
    # 35, 63, ...) and an original context of 32 (so wavelengths below 8 are
    # kept, above 32 divided by 8, in between smoothly), the divisors are
    # 1, 1.50, 3.30, then 8 for the other 13 pairs: every regime is exercised
    # within the 16 positions of the sequences. GQA 4/2, tied output.
    "llama3": dict(cls="LlamaForCausalLM", cfg="LlamaConfig", kw=dict(
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, intermediate_size=96,
        tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=256,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=32))),
}


def llama_cpp_src():
    src = os.environ.get("LLAMA_CPP_SRC")
    if src:
        return src
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "qlm")
    # bench/compare-llamacpp.sh unpacks it into llama.cpp-VERSION/src
    for src in (os.path.join(cache, "llama.cpp-" + VERSION, "src"), os.path.join(cache, "llama.cpp-" + VERSION)):
        if os.path.isfile(os.path.join(src, "convert_hf_to_gguf.py")):
            return src
    dl = os.path.join(cache, "dl")
    tgz = os.path.join(dl, "llama_cpp_python-%s.tar.gz" % VERSION)
    if not os.path.isfile(tgz):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               "llama-cpp-python==" + VERSION, "-d", dl])
    with tarfile.open(tgz) as t:
        t.extractall(dl)
    src = os.path.join(cache, "llama.cpp-" + VERSION, "src")
    os.makedirs(os.path.dirname(src), exist_ok=True)
    shutil.move(os.path.join(dl, "llama_cpp_python-" + VERSION, "vendor", "llama.cpp"), src)
    return src


def randomize(model, arch):
    """Every parameter random: matrices ~ N(0, 1/in) so activations stay
    O(1) and attention is far from uniform, embeddings N(0, 0.25^2), norm
    weights around their neutral value (1, or 0 for Gemma's 1 + w), biases
    N(0, 0.5^2)."""
    import torch
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "embed" in name:
                p.normal_(0.0, 0.25)
            elif p.ndim == 2:
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
            elif "norm" in name:
                p.normal_(0.0, 0.2)
                if arch != "gemma3":
                    p.add_(1.0)
            else:
                p.normal_(0.0, 0.5)


def build(arch, spec, seed):
    import torch
    import transformers
    torch.manual_seed(seed)
    cfg_cls = getattr(transformers, spec["cfg"])
    cfg = cfg_cls(vocab_size=N_VOCAB, hidden_size=64, num_hidden_layers=spec.get("layers", 2),
                  bos_token_id=1, eos_token_id=2, **spec["kw"])
    cfg.architectures = [spec["cls"]]
    model = getattr(transformers, spec["cls"])(cfg).to(torch.float32).eval()
    model.config._attn_implementation = "eager"
    randomize(model, arch)
    return model


def save_hf(model, d):
    model.save_pretrained(d, safe_serialization=True)
    shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.model"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "add_bos_token": True}, f)


def convert(src, hf_dir, outtype, path):
    env = dict(os.environ, PYTHONPATH=os.path.join(src, "gguf-py"))
    subprocess.check_call([sys.executable, os.path.join(src, "convert_hf_to_gguf.py"), hf_dir,
                           "--outtype", outtype, "--outfile", path], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sequences(seed):
    rng = np.random.default_rng(seed)
    # BOS, then random ids past the three specials
    return [[1] + [int(x) for x in rng.integers(3, N_VOCAB, n - 1)] for n in SEQ_LENS]


def torch_logits(model, ids):
    import torch
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].to(torch.float32).numpy()


def unscaled_logits(arch, spec, model, seqs):
    """The same weights without the RoPE scaling: how far a loader that
    ignored rope_freqs.weight would be from the reference."""
    kw = {k: v for k, v in spec["kw"].items() if k != "rope_scaling"}
    twin = build(arch, dict(spec, kw=kw), seed=0)
    twin.load_state_dict(model.state_dict())
    return [torch_logits(twin, ids) for ids in seqs]


def write_logits(path, seqs, logits):
    with open(path, "wb") as f:
        f.write(b"QLMLOGIT")
        f.write(struct.pack("<II", len(seqs), N_VOCAB))
        for ids, lg in zip(seqs, logits):
            assert lg.shape == (len(ids), N_VOCAB)
            f.write(struct.pack("<I", len(ids)))
            f.write(np.asarray(ids, dtype="<i4").tobytes())
            f.write(np.asarray(lg, dtype="<f4").tobytes())


def rel_err(a, b):
    """max over positions of max |a - b| / max |b| (the test's measure);
    a and b: per sequence, logits[n_tok][n_vocab]."""
    return max(float(np.abs(x - y).max() / np.abs(y).max()) for u, v in zip(a, b) for x, y in zip(u, v))


def check_llama_cpp(path, seqs, ref):
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_ctx=64, n_batch=64, logits_all=True, verbose=False,
                type_k=0, type_v=0)  # F32 KV cache
    got = []
    for ids in seqs:
        llm.reset()
        llm.eval(ids)
        got.append(np.array(llm.scores[:len(ids)], dtype=np.float32))
    del llm
    return rel_err(got, ref)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    check = "--check-llama-cpp" in sys.argv
    src = llama_cpp_src()
    os.makedirs(OUT, exist_ok=True)
    for i, (arch, spec) in enumerate(ARCHS.items()):
        if args and arch not in args:
            continue
        model = build(arch, spec, seed=1000 + i)
        seqs = sequences(2000 + i)
        ref = [torch_logits(model, ids) for ids in seqs]
        write_logits(os.path.join(OUT, arch + ".logits"), seqs, ref)
        if "rope_scaling" in spec["kw"]:
            print("%-8s without RoPE scaling: %.3g from PyTorch's logits" % (
                arch, rel_err(unscaled_logits(arch, spec, model, seqs), ref)))
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "tiny-random-" + arch)  # the converter names the model after it
            save_hf(model, d)
            for t in OUTTYPES:
                path = os.path.join(OUT, "%s.%s.gguf" % (arch, t))
                convert(src, d, t, path)
                note = ""
                if check:
                    note = "  llama.cpp vs PyTorch: %.3g" % check_llama_cpp(path, seqs, ref)
                print("%-8s %-5s %7d bytes  max|logit| %.3g%s" % (
                    arch, t, os.path.getsize(path), max(float(np.abs(r).max()) for r in ref), note))


if __name__ == "__main__":
    main()
