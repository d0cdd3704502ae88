# qlm - plain GNU Makefile. See README.md.
#   make            libqlm.a libqlm.so run quantize bench/bench
#   make test       Criterion suites (fetches the default model first)
#   make asan       the same tests under AddressSanitizer + UBSan
#   make demo       fetch the default model and chat with it
#   make install PREFIX=/usr/local
#   CUDA=auto|0|1   compile kernels/cuda with nvcc (auto: when nvcc is found)

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
CXX      ?= g++
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA     ?= auto
OPT      ?= -O2
PYTHON   ?= python3

WARN     := -Wall -Wextra -Werror
INCS     := -Iinclude -Iengine -Imodels -Itokenizer -Ikernels/cpu -Ikernels/cuda
# -ffp-contract=off: no fused multiply-adds, so quantizers match ggml bit for bit
CFLAGS   += -std=c11 $(OPT) $(WARN) -ffp-contract=off -fPIC -fopenmp -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 $(INCS)
CXXFLAGS += -std=c++17 $(OPT) $(WARN) -fPIC $(INCS)
LDLIBS   += -fopenmp -lm

# PCRE2 runs the BPE pre-tokenizer regexes; SentencePiece loads .model files.
CFLAGS   += $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
SP_LIBS  := $(shell pkg-config --libs sentencepiece 2>/dev/null)

ifeq ($(CUDA),auto)
  CUDA := $(if $(NVCC),1,0)
endif

LIB_C    := $(sort $(wildcard engine/*.c models/*.c tokenizer/*.c kernels/cpu/*.c))
# CPU kernels: one file per ISA, each built with its own target flags so one
# binary runs on any x86-64 and picks its table at startup (kernels/cpu/select.c).
# The per-architecture probe file decides which tables exist: x86-64 (cpuid)
# or AArch64 (getauxval, the NEON tables); anything else gets the generic
# probe and the scalar reference only. $(call cpu_drop,TRIPLET): the files
# kernels/cpu/*.c that a compiler for TRIPLET must not build.
X86_ONLY := $(wildcard kernels/cpu/avx2*.c kernels/cpu/avx512*.c kernels/cpu/amx*.c) kernels/cpu/cpu_features_x86.c
ARM_ONLY := $(wildcard kernels/cpu/neon*.c) kernels/cpu/cpu_features_arm.c
cpu_drop = $(if $(findstring x86_64,$(1)),$(ARM_ONLY) kernels/cpu/cpu_features_generic.c,$(if \
             $(findstring aarch64,$(1)),$(X86_ONLY) kernels/cpu/cpu_features_generic.c,$(X86_ONLY) $(ARM_ONLY)))
LIB_C    := $(filter-out $(call cpu_drop,$(shell $(CC) -dumpmachine)),$(LIB_C))
LIB_CXX  :=
ifneq ($(SP_LIBS),)
  LIB_CXX += tokenizer/sentencepiece_shim.cpp
  CFLAGS  += -DQLM_HAVE_SENTENCEPIECE
  LDLIBS  += $(SP_LIBS) -lstdc++
endif
LIB_CU   :=
ifeq ($(CUDA),1)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  LIB_CU  += $(sort $(wildcard kernels/cuda/*.cu))
  CFLAGS  += -DQLM_HAVE_CUDA
  NVFLAGS := -O2 -std=c++17 -Xcompiler -fPIC -Xcompiler -Wall,-Wextra,-Werror $(INCS) \
             -gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 \
             -gencode arch=compute_90,code=sm_90
  CU_COMPILE = $(NVCC) $(NVFLAGS)
  # cuBLAS ships only as a shared library here: found through the rpath
  LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -ldl -lrt -lpthread -lstdc++
endif
# CUDA=emu: the same kernels/cuda sources built by the host C++ compiler
# against the CPU emulator in kernels/cuda/emu (its cuda_runtime.h and
# cublas_v2.h shadow the toolkit's), so the GPU code is tested where there
# is no GPU (make test builds this in build-cuemu/ and runs its cuda suites).
ifeq ($(CUDA),emu)
  LIB_CU  += $(sort $(wildcard kernels/cuda/*.cu))
  LIB_CXX += $(sort $(wildcard kernels/cuda/emu/*.cpp))
  LIB_ASM := $(sort $(wildcard kernels/cuda/emu/*.S))
  CFLAGS  += -DQLM_HAVE_CUDA -DQLM_CUDA_EMU
  CXXFLAGS += -DQLM_HAVE_CUDA -DQLM_CUDA_EMU -Ikernels/cuda/emu
  CU_COMPILE = $(CXX) -x c++ $(CXXFLAGS) -MMD -MP
  LDLIBS  += -lstdc++ -lpthread
endif

LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cpp=$(BUILD)/%.o) $(LIB_CU:%.cu=$(BUILD)/%.o) \
            $(LIB_ASM:%.S=$(BUILD)/%.o)
TEST_C   := $(sort $(wildcard tests/*.c))
# bench's synthetic-model generator writes the suites' small models (test_bench, test_transcode)
TEST_OBJ := $(TEST_C:%.c=$(BUILD)/%.o) $(BUILD)/bench/synth.o
TEST_BIN := $(BUILD)/qlm-tests

MODEL_DIR ?= cache
DEMO_MODEL := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
GEMMA3_MODEL := $(MODEL_DIR)/gemma-3-270m-q4_k_m.gguf
MODELS := $(DEMO_MODEL) $(GEMMA3_MODEL)
# llama.cpp's tokenizer fixtures (vocab GGUFs + .inp/.out), scripts/fetch-vocab.sh.
VOCAB_DIR ?= $(MODEL_DIR)/vocab
TEST_ENV := QLM_MODEL=$(DEMO_MODEL) QLM_GEMMA3_MODEL=$(GEMMA3_MODEL) QLM_VOCAB_DIR=$(VOCAB_DIR)

.PHONY: all test test-cuda-emu asan fuzz demo model models vocab install clean fixtures kcheck kcheck-neon
all: libqlm.a libqlm.so run quantize bench/bench

# Target-specific flags (they also apply to the asan build's objects): every
# kernels/cpu/avx2*.c file is an AVX2 table's, every avx512*.c an AVX-512 one's.
# -O3: the tiles rely on full unrolling of their small constant loops
# (accumulators in registers); the results do not depend on it.
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512bf16
$(BUILD)/kernels/cpu/avx2.o: CFLAGS += $(AVX2_FLAGS)
$(BUILD)/kernels/cpu/avx2_%.o: CFLAGS += $(AVX2_FLAGS) -O3
$(BUILD)/kernels/cpu/avx512.o $(BUILD)/kernels/cpu/avx512_%.o: CFLAGS += $(AVX512_FLAGS) -O3
# amx*.c: the AMX table's tiles (AVX-512 plus AMX's tile and int8 instructions)
$(BUILD)/kernels/cpu/amx.o $(BUILD)/kernels/cpu/amx_%.o: CFLAGS += $(AVX512_FLAGS) -mamx-tile -mamx-int8 -mamx-bf16 -O3
# neon.c is baseline armv8-a (every AArch64 CPU); neon_dotprod.c is the same
# source with SDOT, used only where the CPU reports it.
$(BUILD)/kernels/cpu/neon_dotprod.o $(BUILD)/kernels/cpu/neon_dotprod_%.o: CFLAGS += -march=armv8.2-a+dotprod
# GCC's pre-allocation scheduler hoists loads ahead of their uses until the
# R16 tiles' (and dot4's) accumulators spill out of the 32 vector registers;
# without it they stay in registers (out-of-order cores reorder anyway).
# Probed, as clang rejects the flag; the results do not depend on it.
NEON_NOSCHED = $(shell $(CC) -Werror -fno-schedule-insns -E -x c /dev/null -o /dev/null 2>/dev/null && echo -fno-schedule-insns)
$(BUILD)/kernels/cpu/neon.o $(BUILD)/kernels/cpu/neon_dotprod.o: CFLAGS += $(NEON_NOSCHED)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CU_COMPILE) -c $< -o $@

libqlm.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
libqlm.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

run: $(BUILD)/tools/run.o libqlm.a
	$(CC) -o $@ $< libqlm.a $(LDLIBS)
quantize: $(BUILD)/tools/quantize.o libqlm.a
	$(CC) -o $@ $< libqlm.a $(LDLIBS)
bench/bench: $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c)) libqlm.a
	$(CC) -o $@ $(filter %.o,$^) libqlm.a $(LDLIBS)

# The emulator's own semantics (barriers, shuffles, graphs, cuBLAS); the
# same source is valid CUDA, so on a GPU it checks the emulator against it.
$(BUILD)/emu-selftest: $(BUILD)/kernels/cuda/emu/selftest.o $(filter $(BUILD)/kernels/cuda/emu/%,$(LIB_OBJ))
	$(CXX) -o $@ $^ -lpthread

$(TEST_BIN): $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(OPT) -o $@ $^ -lcriterion $(LDLIBS)

model: $(DEMO_MODEL)
$(DEMO_MODEL):
	bash scripts/fetch-model.sh $(MODEL_DIR)
# The real models the tests run (the default one and Gemma 3 270M, 253 MB).
models: $(MODELS)
$(GEMMA3_MODEL):
	bash scripts/fetch-gemma3.sh $(MODEL_DIR)
# llama.cpp's vocab fixtures (75 MB; a cached run only re-checks their checksums).
vocab:
	@bash scripts/fetch-vocab.sh $(VOCAB_DIR)

# Tests read fixtures from tests/fixtures, ../shared/data/vocab, $(VOCAB_DIR) and the real models.
# deps.sh first (it may apt-get what is missing), then a fresh make so that the
# pkg-config probes above see what it installed.
# The kernel checks run first, so the Criterion summary stays the last line.
test:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory kcheck
	@$(MAKE) --no-print-directory kcheck-neon
	@$(MAKE) --no-print-directory $(TEST_BIN) run quantize $(MODELS) vocab
	@$(MAKE) --no-print-directory test-cuda-emu
	$(TEST_ENV) $(TEST_BIN) --jobs 2

# The CUDA backend without a GPU: kernels/cuda built against the CPU
# emulator (kernels/cuda/emu) in build-cuemu/, its suites (every kernel
# against the CPU reference, the whole model against the CPU path), then
# the model suites on the GPU path against their outside oracles: PyTorch's
# logits (archs) and llama.cpp's greedy tokens (forward).
# Emulated, a greedy step of the real models costs about a second: 16 of
# llama.cpp's 64 steps are followed there.
CUEMU_ENV := QLM_TEST_DEVICE=cuda QLM_TEST_GREEDY_STEPS=16 $(TEST_ENV)
test-cuda-emu: $(MODELS) vocab
	@$(MAKE) --no-print-directory CUDA=emu BUILD=build-cuemu build-cuemu/qlm-tests build-cuemu/emu-selftest
	build-cuemu/emu-selftest
	$(TEST_ENV) build-cuemu/qlm-tests --jobs 2 --filter 'cuda*/*'
	$(CUEMU_ENV) build-cuemu/qlm-tests --jobs 2 --filter 'archs/*'
	$(CUEMU_ENV) build-cuemu/qlm-tests --jobs 2 --filter 'forward/llama_cpp_greedy_*'
	$(CUEMU_ENV) build-cuemu/qlm-tests --jobs 2 --filter 'forward/gemma3_llama_cpp_greedy'

# Kernel-check harness (tests/kcheck): every kernel table this machine runs
# against the reference table and a double-precision oracle. Plain C over
# the kernel objects only, so it also cross-compiles for AArch64 (objects in
# build-aarch64/) and runs under qemu-user: once as qemu's default CPU (max:
# dot product present) and once as a Cortex-A53 (ARMv8.0, no dot product),
# each time checking that the probe lists exactly the tables that CPU runs.
# The table code is the same under both CPU models, so each table's checks
# run once: ref and neon-dot on the first, neon (baseline ARMv8.0, where an
# instruction beyond it would trap) on the Cortex-A53.
KCHECK_C     = $(wildcard tests/kcheck/*.c) engine/types.c $(wildcard engine/quant_ref*.c) $(filter kernels/cpu/%,$(LIB_C))
CROSS_CC     ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64
CROSS_ROOT   ?= /usr/aarch64-linux-gnu
QEMU_RUN     := $(QEMU_AARCH64) -L $(CROSS_ROOT)

$(BUILD)/qlm-kcheck: $(KCHECK_C:%.c=$(BUILD)/%.o)
	$(CC) $(OPT) -o $@ $^ -fopenmp -lm

kcheck: $(BUILD)/qlm-kcheck
	$(BUILD)/qlm-kcheck

kcheck-neon:
	@if ! command -v $(CROSS_CC) >/dev/null 2>&1 || ! command -v $(QEMU_AARCH64) >/dev/null 2>&1; then \
	    echo "kcheck-neon: skipped (aarch64-linux-gnu-gcc or qemu-aarch64 not installed)"; exit 0; fi; \
	$(MAKE) --no-print-directory BUILD=build-aarch64 CC=$(CROSS_CC) CUDA=0 build-aarch64/qlm-kcheck && \
	echo "KCHECK_EXPECT_TABLES='ref neon neon-dot' KCHECK_SKIP=neon $(QEMU_RUN) build-aarch64/qlm-kcheck" && \
	KCHECK_EXPECT_TABLES="ref neon neon-dot" KCHECK_SKIP=neon $(QEMU_RUN) build-aarch64/qlm-kcheck && \
	echo "KCHECK_EXPECT_TABLES='ref neon' KCHECK_SKIP=ref $(QEMU_RUN) -cpu cortex-a53 build-aarch64/qlm-kcheck" && \
	KCHECK_EXPECT_TABLES="ref neon" KCHECK_SKIP=ref $(QEMU_RUN) -cpu cortex-a53 build-aarch64/qlm-kcheck

# Same suites, sanitized build in build-asan/. Criterion's runner leaks one
# block of its own at exit: tests/lsan.supp silences exactly that library.
asan:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory $(MODELS) run quantize vocab
	$(MAKE) BUILD=build-asan CUDA=0 OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	        build-asan/qlm-tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(TEST_ENV) build-asan/qlm-tests --jobs 2

# libFuzzer target for the GGUF reader (clang only; not part of make test).
fuzz:
	clang -std=c11 -g -O1 -DQLM_FUZZ -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined $(INCS) \
	    tests/fuzz/fuzz_gguf.c engine/gguf.c engine/gguf_meta.c engine/errbuf.c engine/types.c \
	    $(wildcard engine/quant_ref*.c) -lm -o $(BUILD)/fuzz_gguf

demo:
	@bash scripts/deps.sh demo
	@$(MAKE) --no-print-directory run $(DEMO_MODEL)
	./run -m $(DEMO_MODEL) --chat -p "What is the capital of France? Answer in one sentence." -n 64 --temp 0

# Regenerates the committed oracle fixtures (needs gguf, sentencepiece and
# llama-cpp-python from PyPI, whose libggml-base.so is the quantizer oracle;
# not part of make test).
fixtures: $(MODELS) vocab
	$(PYTHON) tests/gen/gen_quant_fixtures.py
	$(PYTHON) tests/gen/gen_quant_fixtures_ggml.py
	$(PYTHON) tests/gen/gen_kquant_fixtures.py
	$(PYTHON) tests/gen/gen_kquant_low_fixtures.py
	$(PYTHON) tests/gen/gen_tokenizer_fixtures.py
	$(PYTHON) tests/gen/gen_model_vocab_fixtures.py gemma3 $(GEMMA3_MODEL)
	$(PYTHON) tests/gen/gen_llama_vocab_fixtures.py $(VOCAB_DIR)
	$(PYTHON) tests/gen/gen_hf_fixtures.py
	$(PYTHON) tests/gen/gen_llama_oracle.py smollm2_q4_1 $(DEMO_MODEL)
	$(PYTHON) tests/gen/gen_llama_oracle.py gemma3_270m_q4_k_m $(GEMMA3_MODEL)
	$(PYTHON) tests/gen/gen_type_oracle.py $(DEMO_MODEL)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 libqlm.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 libqlm.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/qlm.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 run $(DESTDIR)$(PREFIX)/bin/qlm-run
	install -m 755 quantize $(DESTDIR)$(PREFIX)/bin/qlm-quantize
	install -m 755 bench/bench $(DESTDIR)$(PREFIX)/bin/qlm-bench
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' -e 's|@LIBS@|$(LDLIBS)|' qlm.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/qlm.pc

clean:
	rm -rf build build-asan build-aarch64 build-cuemu libqlm.a libqlm.so run quantize bench/bench

-include $(shell find build build-asan build-aarch64 build-cuemu -name '*.d' 2>/dev/null)
