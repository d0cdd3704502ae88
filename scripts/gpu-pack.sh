#!/usr/bin/env bash
# gpu-pack.sh - prepares .gpu/ for a run on a lent GPU machine (which has the
# CUDA toolkit and a driver but no package registry, so the test binary's
# libraries travel with it): the CUDA=1 builds of run, bench and the test
# suite, and the shared libraries they need that a bare CUDA image may lack
# (Criterion and its dependencies, PCRE2, SentencePiece). cuBLAS and the C
# library are the device machine's own. Then scripts/gpu-checks.sh runs there
# (see its header for the one device command).
set -euo pipefail
cd "$(dirname "$0")/.."

make -j"$(nproc)" CUDA=1 all build/qlm-tests >/dev/null
rm -rf .gpu
mkdir -p .gpu/lib
cp run bench/bench build/qlm-tests .gpu/

# every library the binaries resolve here, but glibc's own and CUDA's
ldd .gpu/run .gpu/bench .gpu/qlm-tests | awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | ld-linux* | libcublas* | libcudart*) ;;
        *) cp -L "$lib" .gpu/lib/ ;;
    esac
done
du -sh .gpu
echo "gpu-pack: .gpu/ is ready; carry it (device run: carry [\".gpu\"], command: bash scripts/gpu-checks.sh)"
