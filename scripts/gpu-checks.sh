#!/usr/bin/env bash
# gpu-checks.sh - everything the CUDA issue measures, in one command on a lent
# GPU machine, after scripts/gpu-pack.sh has filled .gpu/ here:
#
#   device run, carry [".gpu"], timeout_s 600:  bash scripts/gpu-checks.sh
#
# Results go to $OUT (what the device tool brings back; ./gpu-out elsewhere):
# the device, its measured read bandwidth, the CUDA suites and the model
# suites on the GPU (their output), every type's matmul (GB/s, % of HBM),
# and synthetic-model tg128/pp512 per type as bench JSON. Each step has its
# own time limit so one slow step cannot take the rest down; the budget is
# about 8 minutes in all (the device time of a session is 15).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
# the carried libraries that machine lacks (its own, often newer, win:
# cuBLAS may need a newer libstdc++ than the one built against here)
mkdir -p /tmp/qlm-gpu-lib
for f in .gpu/lib/*; do
    ldconfig -p | grep -q "^[[:space:]]$(basename "$f") " || ln -sf "$PWD/$f" /tmp/qlm-gpu-lib/
done
export LD_LIBRARY_PATH="/tmp/qlm-gpu-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# cuBLAS: the toolkit's, or the copy PyTorch's wheels bring
if ! ldconfig -p | grep -q 'libcublas.so.13' && [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]; then
    d=$(dirname "$(find / -name 'libcublas.so.13*' -not -path '*/proc/*' 2>/dev/null | head -1)" 2>/dev/null)
    [ -n "$d" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
fi

step() { # step NAME SECONDS command...: output to $OUT/NAME.txt, a line here
    local name=$1 secs=$2
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    echo "== $name: rc $rc, $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
    tail -3 "$OUT/$name.txt" | tee -a "$OUT/summary.txt"
}

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
git log -1 --format='commit %H %cd' >"$OUT/commit.txt" 2>/dev/null || true
export QLM_VOCAB_DIR=/nonexistent # the vocab suites are not run here
step bandwidth 60 .gpu/bench --bandwidth --device cuda -o json
step tests-cuda 120 .gpu/qlm-tests --jobs 8 --filter 'cuda*/*'
step tests-archs 120 env QLM_TEST_DEVICE=cuda .gpu/qlm-tests --jobs 8 --filter 'archs/*'
step kernels 120 .gpu/bench --kernels --device cuda -o json
for t in q4_0 q8_0 q4_k mxfp4 f16; do
    step "llama-1.1b-$t" 90 .gpu/bench --synthetic llama-1.1b --type "$t" -p 512 -n 128 -r 3 --device cuda -o json
done
step llama-7b-q4_0 180 .gpu/bench --synthetic llama-7b --type q4_0 -p 512 -n 128 -r 3 --device cuda -o json
echo "gpu-checks: done; results in $OUT"
