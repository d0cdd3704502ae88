#!/usr/bin/env bash
# Makes sure the build dependencies are present, installing them with apt-get
# when they are missing and we may (root, or sudo without a password).
#   scripts/deps.sh demo   compiler, PCRE2, SentencePiece, Python with pip
#   scripts/deps.sh test   the same plus Criterion, and (optional) the AArch64
#                          cross compiler and qemu-user for make kcheck-neon
set -euo pipefail
want=${1:-demo}
missing=()
optional=() # wanted, but make test runs without them (kcheck-neon is skipped)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists libpcre2-8 2>/dev/null || missing+=(libpcre2-dev)
pkg-config --exists sentencepiece 2>/dev/null || missing+=(libsentencepiece-dev)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ "$want" = test ]; then
    [ -f /usr/include/criterion/criterion.h ] || pkg-config --exists criterion 2>/dev/null || missing+=(libcriterion-dev)
    if [ "$(uname -m)" = x86_64 ]; then # on AArch64 itself, make kcheck runs the NEON tables natively
        command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || optional+=(gcc-aarch64-linux-gnu)
        [ -d /usr/aarch64-linux-gnu/include ] || optional+=(libc6-dev-arm64-cross)
        command -v qemu-aarch64 >/dev/null 2>&1 || optional+=(qemu-user)
    fi
fi
[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

# Missing required packages are an error when we cannot install them;
# missing optional ones only a note.
cannot() {
    if [ ${#missing[@]} -gt 0 ]; then
        echo "qlm: $1 ${missing[*]}${optional[*]:+ (and optionally ${optional[*]})}" >&2
        exit 1
    fi
    echo "qlm: note: make kcheck-neon will be skipped; $1 ${optional[*]}" >&2
    exit 0
}
if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
    cannot "please install them: sudo apt-get install"
fi
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get here; please install the equivalents of:"
export DEBIAN_FRONTEND=noninteractive
echo "qlm: installing missing build dependencies: ${missing[*]} ${optional[*]}" >&2
$sudo apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#optional[@]} -gt 0 ]; then
    $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null ||
        echo "qlm: note: could not install ${optional[*]}; make kcheck-neon will be skipped" >&2
fi
