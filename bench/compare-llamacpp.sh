#!/usr/bin/env bash
# compare-llamacpp.sh - runs qlm's bench and llama.cpp's llama-bench on the
# same synthetic GGUF files (same threads, same tests) and prints the ratio
# qlm / llama.cpp per test.
#
# llama.cpp is built once from the llama-cpp-python source package (the
# version our oracles come from) into a cache outside the repo.
#
# usage: bench/compare-llamacpp.sh [PRESET:TYPE | FILE.gguf ...]   (default llama-110m:q4_0)
#   a FILE.gguf argument (a real model) is run as it is
#   env: THREADS (2), PP (512), TG (64), REPS (3), QLM_BENCH (bench/bench),
#        LLAMA_CPP_PY_VERSION (0.3.36), QLM_CACHE (${XDG_CACHE_HOME:-$HOME/.cache}/qlm),
#        LLAMA_NO_AMX (unset: 1 builds llama.cpp without AMX; see smoke_test)
set -euo pipefail

THREADS=${THREADS:-2}
PP=${PP:-512}
TG=${TG:-64}
REPS=${REPS:-3}
VERSION=${LLAMA_CPP_PY_VERSION:-0.3.36}
CACHE=${QLM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qlm}
QLM_BENCH=${QLM_BENCH:-bench/bench}
LLAMA_DIR=$CACHE/llama.cpp-$VERSION
LLAMA_BENCH=$LLAMA_DIR/build/bin/llama-bench
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(llama-110m:q4_0)

log() { echo "compare: $*" >&2; }

# GGML_NATIVE builds for the CPU it is built on (-march=native): a cached
# build from another CPU (the cache outlives machines) may use instructions
# this one lacks, or miss ones it has, so the build is redone when the CPU's
# model name and flags differ from the ones stamped at build time.
cpu_stamp() { grep -m2 -E '^(model name|flags)' /proc/cpuinfo 2>/dev/null | md5sum | cut -d' ' -f1; }

# -march=native compiles in ggml's AMX kernels where the CPU has AMX. On an
# Emerald Rapids VM they died with SIGILL at their first tile instruction
# (ggml_backend_amx_mul_mat, llama-cpp-python 0.3.36), so where llama-bench
# fails its smoke test it is rebuilt with AMX off (the ISA flags' -mno-amx-*
# override -march=native's) and compared with its AVX-512 kernels.
NO_AMX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
build_stamp() { echo "$(cpu_stamp) no-amx=${LLAMA_NO_AMX:-0}"; }

build_llama_cpp() {
    local stamp=$LLAMA_DIR/build/qlm-cpu-stamp
    [ -x "$LLAMA_BENCH" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$(build_stamp)" ] && return
    [ -x "$LLAMA_BENCH" ] && log "llama-bench was built for another CPU or AMX setting: rebuilding" &&
        rm -rf "$LLAMA_DIR/build"
    log "building llama-bench from llama-cpp-python $VERSION into $LLAMA_DIR (a few minutes)"
    local dl=$CACHE/dl
    mkdir -p "$dl" "$LLAMA_DIR"
    [ -f "$dl/llama_cpp_python-$VERSION.tar.gz" ] ||
        python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$dl" >&2
    tar -xzf "$dl/llama_cpp_python-$VERSION.tar.gz" -C "$dl"
    rm -rf "$LLAMA_DIR/src" && mv "$dl/llama_cpp_python-$VERSION/vendor/llama.cpp" "$LLAMA_DIR/src"
    local flags=""
    [ "${LLAMA_NO_AMX:-0}" = 1 ] && flags=$NO_AMX_FLAGS
    cmake -S "$LLAMA_DIR/src" -B "$LLAMA_DIR/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
        -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
        "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" >&2
    cmake --build "$LLAMA_DIR/build" --target llama-bench -j "$(nproc)" >&2
    build_stamp >"$stamp"
}

# A 32-token prompt on the model at $1 (one a prompt run multiplies in
# AMX where it is compiled in); on failure the build goes AMX-free.
smoke_test() {
    "$LLAMA_BENCH" -m "$1" -p 32 -n 0 -r 1 -t 1 >/dev/null 2>&1 && return
    [ "${LLAMA_NO_AMX:-0}" = 1 ] && { log "llama-bench fails on $1 even without AMX"; exit 1; }
    log "llama-bench died on a 32-token prompt (its AMX kernels?): rebuilding it without AMX"
    LLAMA_NO_AMX=1
    build_llama_cpp
    smoke_test "$1"
}

# "test avg_ts" lines from either engine's JSON (one object per result).
qlm_results() {
    "$QLM_BENCH" -m "$1" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" -o json |
        python3 -c 'import json,sys
for r in json.load(sys.stdin): print(r["test"], r["avg_ts"], r.get("weights_gbps", 0), r.get("pct_bandwidth", 0))'
}

llama_results() {
    "$LLAMA_BENCH" -m "$1" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" -o json 2>/dev/null |
        python3 -c 'import json,sys
for r in json.load(sys.stdin):
    t = "pp%d" % r["n_prompt"] if r["n_gen"] == 0 else "tg%d" % r["n_gen"]
    print(t, r["avg_ts"], r.get("cpu_info", ""), r.get("build_commit", ""))'
}

main() {
    [ -x "$QLM_BENCH" ] || { log "$QLM_BENCH missing: run make first"; exit 1; }
    build_llama_cpp
    mkdir -p "$CACHE/models"
    printf '| model | threads | test | qlm t/s | qlm GB/s | qlm %% of bandwidth | llama.cpp t/s | qlm / llama.cpp |\n'
    printf '|---|---:|---|---:|---:|---:|---:|---:|\n'
    for spec in "${MODELS[@]}"; do
        local f label
        if [ -f "$spec" ]; then
            f=$spec label=$(basename "$spec" .gguf)
        else
            local preset=${spec%%:*} type=${spec#*:}
            f=$CACHE/models/synthetic-$preset-$type.gguf label="$preset $type"
            [ -f "$f" ] || "$QLM_BENCH" --synthetic "$preset" --type "$type" --write "$f" -p 0 -n 0 >/dev/null
        fi
        [ -n "${smoked:-}" ] || { smoke_test "$f"; smoked=1; }
        local q l
        q=$(qlm_results "$f")
        l=$(llama_results "$f")
        while read -r test qts qgb qpct; do
            local lts
            lts=$(awk -v t="$test" '$1 == t { print $2 }' <<<"$l")
            python3 -c 'import sys
m, th, t, q, g, p, l = sys.argv[1:]
r = "%.2f" % (float(q) / float(l)) if l else "n/a"
pct = "%.0f%%" % float(p) if t.startswith("tg") else ""
gbs = "%.2f" % float(g) if t.startswith("tg") else ""
print("| %s | %s | %s | %.2f | %s | %s | %s | %s |" % (m, th, t, float(q), gbs, pct, "%.2f" % float(l) if l else "n/a", r))' \
                "$label" "$THREADS" "$test" "$qts" "$qgb" "$qpct" "${lts:-}"
        done <<<"$q"
    done
}

main
