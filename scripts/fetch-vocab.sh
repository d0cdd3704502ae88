#!/usr/bin/env bash
# Fetches llama.cpp's tokenizer test fixtures: the vocab-only GGUF files
# ggml-vocab-*.gguf and their .inp (strings) / .out (llama.cpp's ids) that
# llama.cpp keeps in its models/ directory. The llama-cpp-python 0.3.36 source
# package on PyPI vendors that directory; we download it (76 MB, checksum
# verified), unpack those files only and install nothing. A copy that
# bench/compare-llamacpp.sh already downloaded is reused. Cached runs only
# re-check the unpacked files against the SHA256SUMS written beside them.
set -euo pipefail
dir=${1:-cache/vocab}
version=0.3.36
sdist=llama_cpp_python-$version.tar.gz
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
if [ -f "$dir/SHA256SUMS" ] && (cd "$dir" && sha256sum -c --status SHA256SUMS) 2>/dev/null; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src="${XDG_CACHE_HOME:-$HOME/.cache}/qlm/dl/$sdist"
if ! { [ -f "$src" ] && echo "$sha  $src" | sha256sum -c --status; }; then
    echo "fetching llama.cpp vocab fixtures (llama-cpp-python $version source from PyPI, 76 MB)..." >&2
    python3 -m pip download --quiet --no-deps --no-binary :all: --disable-pip-version-check \
        "llama-cpp-python==$version" -d "$tmp"
    src="$tmp/$sdist"
    echo "$sha  $src" | sha256sum -c --status || { echo "fetch-vocab: checksum mismatch for $sdist" >&2; exit 1; }
fi
tar -xzf "$src" -C "$tmp" --wildcards "llama_cpp_python-$version/vendor/llama.cpp/models/ggml-vocab-*"
models="$tmp/llama_cpp_python-$version/vendor/llama.cpp/models"
(cd "$models" && sha256sum ggml-vocab-*) > "$tmp/SHA256SUMS"
rm -f "$dir/SHA256SUMS"
cp "$models"/ggml-vocab-* "$dir/"
mv "$tmp/SHA256SUMS" "$dir/SHA256SUMS"
echo "saved $(ls "$models" | wc -l) files to $dir" >&2
