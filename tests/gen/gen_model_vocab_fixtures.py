#!/usr/bin/env python3
"""Tokenizer fixtures for the real models' vocabularies, from llama.cpp itself.

For each model below, tokenizes every test string of every vocab fixture in
../shared/data/vocab/*.inp (plus a few strings of our own: special-token
text, invalid UTF-8 is not included since the fixture format is text) with
llama.cpp (llama-cpp-python 0.3.36, vocab only, no BOS, special tokens not
parsed) and writes, in the format of the shared fixtures:

  tests/fixtures/tokenizer/STEM.inp  the strings, each followed by "\\n__ggml_vocab_test__\\n"
  tests/fixtures/tokenizer/STEM.out  one line per string: " id id ..."

The C test tokenizes the same strings with the model file's tokenizer.

Usage: python3 tests/gen/gen_model_vocab_fixtures.py [STEM model.gguf]
Needs: pip install llama-cpp-python==0.3.36
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
SEP = "\n__ggml_vocab_test__\n"
MODELS = {"gemma3": os.path.join(ROOT, "cache", "gemma-3-270m-q4_k_m.gguf")}
EXTRA = [
    "<start_of_turn>user\nHi<end_of_turn>",  # special-token text stays plain text here
    "   three leading spaces and trailing   ",
    "mixed\r\nline endings\rand\ttabs",
    "emoji 🦙🤖 and CJK 日本語の文章 and Hangul 한국어",
    "math: ∑x² ≤ ∞, ½ + ¼ = ¾",
]


def test_strings():
    seen, out = set(), []
    for path in sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", "vocab", "*.inp"))):
        with open(path, encoding="utf-8", newline="") as f:
            parts = f.read().split(SEP)
        for s in parts[:-1] + EXTRA:
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


def main():
    import llama_cpp

    items = [(sys.argv[1], sys.argv[2])] if len(sys.argv) > 2 else MODELS.items()
    strings = test_strings()
    for stem, model in items:
        llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
        with open(os.path.join(OUT, stem + ".inp"), "w", encoding="utf-8", newline="\n") as f:
            f.writelines(s + SEP for s in strings)
        with open(os.path.join(OUT, stem + ".out"), "w", encoding="utf-8", newline="\n") as f:
            for s in strings:
                ids = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
                f.write("".join(" %d" % i for i in ids) + "\n")
        print(f"{stem}: {len(strings)} strings")


if __name__ == "__main__":
    main()
