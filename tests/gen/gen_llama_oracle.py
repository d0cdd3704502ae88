#!/usr/bin/env python3
"""Outside-oracle fixtures: tokens and greedy decodes from llama.cpp itself.

Runs llama.cpp (through llama-cpp-python) on a real model and writes, for
each prompt i of that model, into tests/fixtures/oracle/:

  STEM.<i>.prompt         the raw prompt bytes
  STEM.<i>.prompt_tokens  llama.cpp's token ids, space separated, one line
  STEM.<i>.greedy         64 lines "id margin": greedy decode after the
                          prompt, margin = logit[top1] - logit[top2]
  STEM.<i>.top10          10 lines "id logit" (%.6f): the logits right
                          after the prompt, best first

STEM is smollm2_q4_1 (the default model) or gemma3_270m_q4_k_m (Gemma 3
270M Q4_K_M, scripts/fetch-gemma3.sh).

Greedy is arg max over the last logits with ties to the lowest id, one token
per decode call; the prompt is evaluated in one batch. Small margins mark the
steps where a correct engine may legitimately pick differently (quantization
and summation order), so consumers should compare only up to the first step
whose margin is below their tolerance.

Usage: python3 tests/gen/gen_llama_oracle.py [STEM [model.gguf [out_dir]]]
Needs: pip install llama-cpp-python==0.3.36 numpy
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "oracle")
N_GREEDY = 64
N_TOP = 10

# (prompt bytes, parse special tokens)
SMOLLM2_PROMPTS = [
    (b"The quick brown fox jumps over the lazy dog. Once upon a time, in a small village,", False),
    (b"def add(a, b):\n    return a + b  # 3.14, x[0] != y; {'k': 42}\n\nprint(add(2, 40))",
     False),
    (b"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
     b"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
     b"<|im_start|>assistant\n", True),
]

GEMMA3_PROMPTS = [
    (b"The quick brown fox jumps over the lazy dog. Once upon a time, in a small village,", False),
    (b"def add(a, b):\n    return a + b  # 3.14, x[0] != y; {'k': 42}\n\nprint(add(2, 40))",
     False),
    (b"<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n", True),
    # longer than Gemma 3's 512-token sliding window: its local layers must
    # stop seeing the start (the opening facts are only reachable through the
    # global layers)
    (b"Alice owns a red bicycle and Bob owns a green kite. " + b" ".join(
        b"Day %d: the weather was %s and the market sold %d %s." % (
            d, [b"sunny", b"rainy", b"windy", b"cold"][d % 4], 3 + 7 * d % 11,
            [b"apples", b"pears", b"plums", b"figs", b"nuts"][d % 5]) for d in range(1, 48)) +
     b" Question: what colour is Alice's bicycle? Answer:", False),
]

# stem: (model file under cache/, prompts)
MODELS = {
    "smollm2_q4_1": ("SmolLM2-135M-Instruct.Q4_1.gguf", SMOLLM2_PROMPTS),
    "gemma3_270m_q4_k_m": ("gemma-3-270m-q4_k_m.gguf", GEMMA3_PROMPTS),
}


def top2_margin(row):
    """(arg max with ties to the lowest id, logit[top1] - logit[top2])."""
    best = int(np.argmax(row))  # numpy returns the first (lowest) index on ties
    rest = np.delete(row, best)
    return best, float(row[best] - rest.max())


def top_n(row, n):
    # stable sort on -logit keeps ties in ascending id order
    order = np.argsort(-row, kind="stable")[:n]
    return [(int(i), float(row[i])) for i in order]


def run_prompt(llm, text, special):
    # add_bos=True means "add special tokens if the model asks for them"
    # (llama_tokenize's add_special), i.e. the model default.
    toks = llm.tokenize(text, add_bos=True, special=special)
    llm.reset()
    llm.eval(toks)
    row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    top10 = top_n(row, N_TOP)
    greedy = []
    for _ in range(N_GREEDY):
        tok, margin = top2_margin(row)
        greedy.append((tok, margin))
        llm.eval([tok])
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    return toks, greedy, top10


def write_fixtures(out, stem, i, text, toks, greedy, top10):
    base = os.path.join(out, f"{stem}.{i}")
    with open(base + ".prompt", "wb") as f:
        f.write(text)
    with open(base + ".prompt_tokens", "w") as f:
        f.write(" ".join(str(t) for t in toks) + "\n")
    with open(base + ".greedy", "w") as f:
        f.writelines(f"{t} {m:.6f}\n" for t, m in greedy)
    with open(base + ".top10", "w") as f:
        f.writelines(f"{t} {l:.6f}\n" for t, l in top10)


def main():
    import llama_cpp

    stem = sys.argv[1] if len(sys.argv) > 1 else "smollm2_q4_1"
    file, prompts = MODELS[stem]
    model = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "cache", file)
    out = sys.argv[3] if len(sys.argv) > 3 else OUT
    os.makedirs(out, exist_ok=True)
    llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=2,
                          logits_all=True, seed=0, verbose=False)
    for i, (text, special) in enumerate(prompts):
        toks, greedy, top10 = run_prompt(llm, text, special)
        write_fixtures(out, stem, i, text, toks, greedy, top10)
        min_margin = min(m for _, m in greedy)
        print(f"prompt {i}: {len(toks)} tokens, first {toks[:8]}, greedy {[t for t, _ in greedy[:8]]}"
              f" ..., min margin {min_margin:.4f}")
        print("   ", repr(llm.detokenize([t for t, _ in greedy]).decode("utf-8", "replace")))
    print("llama-cpp-python", llama_cpp.__version__,
          "llama.cpp", llama_cpp.llama_version().decode(),
          llama_cpp.llama_print_system_info().decode().strip())


if __name__ == "__main__":
    main()
