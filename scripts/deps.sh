#!/usr/bin/env bash
# Makes sure the build dependencies are present, installing them with apt-get
# when they are missing and we may (root, or sudo without a password).
#   scripts/deps.sh demo   compiler, PCRE2, SentencePiece, Python with pip
#   scripts/deps.sh test   the same plus Criterion
set -euo pipefail
want=${1:-demo}
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists libpcre2-8 2>/dev/null || missing+=(libpcre2-dev)
pkg-config --exists sentencepiece 2>/dev/null || missing+=(libsentencepiece-dev)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ "$want" = test ]; then
    [ -f /usr/include/criterion/criterion.h ] || pkg-config --exists criterion 2>/dev/null || missing+=(libcriterion-dev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "qlm: installing missing build dependencies: ${missing[*]}" >&2
if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "qlm: please install them: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "qlm: no apt-get here; please install the equivalents of: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
