#!/usr/bin/env python3
"""Generates tests/fixtures/tokenizer/: a tiny SentencePiece BPE model and the
ids the reference library (Python sentencepiece) gives for a set of strings.

    python3 tests/gen/gen_tokenizer_fixtures.py

Outputs (committed):
  tiny.model      SentencePiece BPE, ~400 pieces, byte_fallback, identity
                  normalisation (keeps the file small: no NFKC charsmap)
  tiny.model.inp  test strings, each followed by "\\n__ggml_vocab_test__\\n"
  tiny.model.out  one line per string: " id id ..." (no BOS/EOS)

The format matches the vocab fixtures in ../shared/data/vocab so the C test
reads both the same way.
"""
import os
import subprocess
import sys

try:
    import sentencepiece as spm
except ImportError:  # the generator installs its only dependency
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "sentencepiece"])
    import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "tokenizer"))
SEP = "\n__ggml_vocab_test__\n"

TESTS = [
    "",
    " ",
    "  ",
    "Hello world",
    " Hello world",
    "Hello  world",
    "The tokenizer turns text into pieces.",
    "Once upon a time, in a small village",
    "Numbers: 3.14, 42, 2024 and 1234567890",
    "int main(void) { return 0; }",
    "Café naïve Straße garçon über",
    "unseen characters: \u4e16\u754c \u3053\u3093\u306b\u3061\u306f \U0001f680\U0001f642",
    "tabs\tand\nnewlines\n\nend",
    "\u00a0non-breaking space and \u2581 lower block",
    "zzzz qqqq xxxx",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    prefix = os.path.join(OUT, "tiny")
    spm.SentencePieceTrainer.train(
        input=os.path.join(OUT, "tiny_corpus.txt"),
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=400,
        byte_fallback=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    with open(prefix + ".model.inp", "w", encoding="utf-8", newline="\n") as f:
        for t in TESTS:
            f.write(t + SEP)
    with open(prefix + ".model.out", "w", encoding="utf-8", newline="\n") as f:
        for t in TESTS:
            f.write("".join(" %d" % i for i in sp.encode(t)) + "\n")
    print("wrote %s.model (%d bytes), %d test strings" % (prefix, os.path.getsize(prefix + ".model"), len(TESTS)))


if __name__ == "__main__":
    main()
