#!/usr/bin/env python3
"""More tokenizer fixtures from llama.cpp itself, over llama.cpp's own vocab files.

llama.cpp's vocab fixtures (scripts/fetch-vocab.sh puts them in cache/vocab)
miss some cases (combining marks, runs of newlines, long digit runs, ...) and
exist for a handful of pre-tokenizers only. This script asks llama.cpp
(llama-cpp-python 0.3.36: vocab only, add_special and parse_special off, as
llama.cpp's test-tokenizer-0) for the ids of

  1. EXTRA strings with every vocabulary qlm supports in cache/vocab:
       tests/fixtures/tokenizer/llama-vocab/extra.inp, NAME.out
  2. llama.cpp's fixture strings plus EXTRA for every tokenizer.ggml.pre name
     in PRE_NAMES, each with a copy of a vocab file whose pre name is
     replaced (ggml-vocab-llama-bpe.gguf; for SentencePiece-style BPE names
     ggml-vocab-gemma-4.gguf relabelled as a "gpt2" model). Vocab and
     pre-tokenizer need not belong together: merges never cross words, so
     the ids pin the pre-tokenizer's splits down.
       tests/fixtures/tokenizer/llama-pre/pre.inp, PRE.out, and
       add_special.txt ("PRE id id ..." for "Hello world" with add_special on)

The C test (tests/test_tokenizer.c) makes the same relabelled copies with the
same byte splice (relabel() below) and compares. Formats as in llama.cpp's
fixtures: strings each followed by "\\n__ggml_vocab_test__\\n", one line of
" id id ..." per string.

Usage: python3 tests/gen/gen_llama_vocab_fixtures.py [VOCAB_DIR (default cache/vocab)]
Needs: pip install llama-cpp-python==0.3.36 gguf
"""
import os
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
SEP = "\n__ggml_vocab_test__\n"

# The vocabularies qlm tokenizes (WordPiece bert-bge and Unigram
# nomic-bert-moe are not supported).
VOCABS = ["llama-spm", "phi-3", "baichuan", "llama-bpe", "qwen2", "qwen35", "command-r", "mpt",
          "refact", "starcoder", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "aquila",
          "gpt-neox", "gemma-4"]

# Every tokenizer.ggml.pre name qlm knows (tokenizer/pretok.c), by row; the C test
# takes the names from that table and fails if a fixture here is missing or extra.
PRE_NAMES = [
    "default",
    "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
    "jina-v5-nano",
    "dbrx", "smaug-bpe", "chatglm-bpe", "glm4", "glm5",
    "deepseek-llm", "deepseek-coder", "falcon",
    "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2",
    "gpt-2", "mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
    "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe",
    "exaone4", "trillion", "granite-docling",
    "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "megrez", "hunyuan", "solar-open",
    "grok-2",
    "qwen35",
    "deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm", "spark2_5", "youtu", "jais-2", "gpt-4o",
    "llama4", "kanana2", "talkie", "minimax-m2", "granite-embed-multi-97m", "tiny_aya",
    "cohere2moe", "superbpe", "bailingmoe", "bailingmoe2", "llada-moe", "seed-coder", "ufakzeka",
    "laguna", "exaone-moe", "minicpm5", "chameleon", "tekken",
    "poro-chat", "bloom", "gpt3-finnish", "viking",
    "gemma4", "granite-embed-multi-311m", "sarvam-moe",
]
SPM_STYLE = {"gemma4", "granite-embed-multi-311m", "sarvam-moe"}

EXTRA = [
    "e\u0301te\u0301 cafe\u0301 na\u0308ive",                    # combining marks
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",  # Devanagari
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",  # Thai
    "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 \u0628\u0650\u0643\u064f\u0645\u0652",  # Arabic with harakat
    "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",                # Hebrew with niqqud
    "Tie\u0302\u0301ng Vie\u0323\u0302t",                        # Vietnamese, decomposed
    "a\n\nb\n\n\nc\n\n\n\nd",
    "\n\n\n\n\n\n",
    " \n \n  \n\t\n",
    "x  \n\n  y\r\n\r\nz\r\r",
    "1 12 123 1234 12345 123456 1234567 12345678 3.14159 1,000,000",
    "I'M YOU'LL we'RE It'S they'VE I'D",
    "!!!??? ... --- === ((())) [[[]]] {{{}}} <<<>>>",
    "def f(x):\n    return x**2  # square\n\n\tpass",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd \u2764\ufe0f",
    "\u65e5\u672c\u8a9e\u306e\u3072\u3089\u304c\u306a\u3068\u30ab\u30bf\u30ab\u30ca \u4e2d\u6587 \ud55c\uad6d\uc5b4",
    "\u0391\u03b8\u03ae\u03bd\u03b1 \u041c\u043e\u0441\u043a\u0432\u0430 \u0531\u0580\u0574\u0565\u0576\u056b\u0561",
    "\u00a0nbsp\u2003em\u3000ideographic\u2028line",
    "MixedCASEWords camelCase snake_case kebab-case",
    "    leading and trailing spaces    ",
    "\u0663\u0664\u0665\u0666 \u00b2\u00b3 \u2460\u2461 \uff11\uff12\uff13\uff14",  # other digits
    "\u00c9COLE \u00e9cole \u0391\u0392\u0393 \u03b1\u03b2\u03b3 \u00c0B\u00e7D",  # non-ASCII case
    "<sentinel:12> IMGIMGABCZ x=y+1",
]


def read_strings(path):
    with open(path, encoding="utf-8", newline="") as f:
        raw = f.read()
    parts = raw.split(SEP)
    return parts[:-1] if parts[-1] == "" else parts


def relabel(data, reader_path, key, new_key, new_val):
    """Replaces the string KV `key` of the GGUF bytes `data` by the string KV
    (new_key, new_val): the same splice the C test does."""
    import gguf

    field = gguf.GGUFReader(reader_path).fields[key]
    start = field.offset
    end = start + sum(p.nbytes for p in field.parts)
    kb, vb = new_key.encode(), new_val.encode()
    kv = struct.pack("<Q", len(kb)) + kb + struct.pack("<IQ", 8, len(vb)) + vb
    return data[:start] + kv + data[end:]


def pre_vocab(vocab_dir, pre, tmpdir):
    if pre in SPM_STYLE:
        src = os.path.join(vocab_dir, "ggml-vocab-gemma-4.gguf")
        data = open(src, "rb").read()
        # the chat template goes first (it lies after tokenizer.ggml.model)
        data = relabel(data, src, "tokenizer.chat_template", "tokenizer.ggml.pre", pre)
        data = relabel(data, src, "tokenizer.ggml.model", "tokenizer.ggml.model", "gpt2")
    else:
        src = os.path.join(vocab_dir, "ggml-vocab-llama-bpe.gguf")
        data = relabel(open(src, "rb").read(), src, "tokenizer.ggml.pre", "tokenizer.ggml.pre", pre)
    path = os.path.join(tmpdir, "pre-%s.gguf" % pre)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_fixture(llm, strings, inp_path, out_path):
    if inp_path:
        with open(inp_path, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(s + SEP for s in strings)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        for s in strings:
            ids = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
            f.write("".join(" %d" % i for i in ids) + "\n")


def main():
    import llama_cpp

    vocab_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "cache", "vocab")
    load = lambda p: llama_cpp.Llama(model_path=p, vocab_only=True, verbose=False)
    vdir, pdir = os.path.join(OUT, "llama-vocab"), os.path.join(OUT, "llama-pre")
    os.makedirs(vdir, exist_ok=True)
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(vdir, "extra.inp"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(s + SEP for s in EXTRA)
    for name in VOCABS:
        llm = load(os.path.join(vocab_dir, "ggml-vocab-%s.gguf" % name))
        write_fixture(llm, EXTRA, None, os.path.join(vdir, name + ".out"))
        print("llama-vocab/%s.out" % name)
    strings = read_strings(os.path.join(vocab_dir, "ggml-vocab-llama-bpe.gguf.inp")) + EXTRA
    with open(os.path.join(pdir, "pre.inp"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(s + SEP for s in strings)
    special = []
    with tempfile.TemporaryDirectory() as tmp:
        for pre in PRE_NAMES:
            llm = load(pre_vocab(vocab_dir, pre, tmp))
            write_fixture(llm, strings, None, os.path.join(pdir, pre + ".out"))
            ids = llm.tokenize(b"Hello world", add_bos=True, special=False)
            special.append(pre + "".join(" %d" % i for i in ids) + "\n")
            del llm
    with open(os.path.join(pdir, "add_special.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(special)
    print("llama-pre: %d names x %d strings" % (len(PRE_NAMES), len(strings)))


if __name__ == "__main__":
    main()
