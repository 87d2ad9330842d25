# moee: build with `make`, test with `make test`.
#
# Layering (includes point one way, each folder using only those before it):
#   kernels <- weights <- tokenizer <- engine <- tools
# (weights uses kernels/types.h for block sizes; the tokenizer reads GGUF/JSON through
# weights/; engine uses all three; tools use engine/moee.h and the lower folders).
# Each library folder becomes its own archive so that a test links only what it needs:
#   tests/kernels_*.c   -> kernels
#   tests/weights_*.c   -> weights + kernels (block sizes come from the type table)
#   tests/tokenizer_*.c -> tokenizer + weights + kernels
#   tests/engine_*.c    -> engine + tokenizer + weights + kernels
#   tests/tools_*.c     -> the tools' objects (not main.c) + everything
#   tests/*.sh          -> shell tests that drive ./moee (run with the moee path as $1)
#   libmoee.so          -> the public API (engine/moee.h) as a shared library, copied into
#                          tools/python/moee/ for the Python package (tests/python/)
#
# Knobs: OPENMP=0 builds without OpenMP; SAN=1 adds -fsanitize=address,undefined;
# BUILD=dir puts objects elsewhere; T=prefix runs only tests whose name starts with it;
# RUN=cmd prefixes every test binary (e.g. qemu-aarch64 for the NEON build).

CC      ?= cc
OPENMP  ?= 1
SAN     ?= 0
BUILD   ?= build
T       ?=
RUN     ?=
ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)

# -fPIC everywhere: one set of objects serves the programs, libmoee.a and libmoee.so.
CFLAGS  := -std=c11 -pthread -O2 -g -fPIC -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_GNU_SOURCE -I. -Iengine $(EXTRA_CFLAGS)
LDLIBS  := -lm -pthread
ifeq ($(OPENMP),1)
CFLAGS  += -fopenmp
LDLIBS  += -fopenmp
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
LDLIBS  += -fsanitize=address,undefined
endif

# Per-ISA kernel folders are compiled with their instruction set enabled and only
# ever called after the CPU has been checked at run time (kernels/dispatch.c).
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq \
                -mavx512vnni -mavx512bf16
NEON_FLAGS   := -march=armv8.2-a+dotprod

WEIGHTS_SRC   := $(wildcard weights/*.c)
KERNELS_SRC   := $(wildcard kernels/*.c)
ifeq ($(ARCH),x86_64)
KERNELS_SRC   += $(wildcard kernels/avx2/*.c) $(wildcard kernels/avx512/*.c)
endif
ifeq ($(ARCH),aarch64)
KERNELS_SRC   += $(wildcard kernels/neon/*.c)
endif
TOKENIZER_SRC := $(wildcard tokenizer/*.c)
ENGINE_SRC    := $(wildcard engine/*.c)
TOOLS_SRC     := $(filter-out tools/main.c tools/gen_%.c,$(wildcard tools/*.c tools/*/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIB_WEIGHTS   := $(BUILD)/libweights.a
LIB_KERNELS   := $(BUILD)/libkernels.a
LIB_TOKENIZER := $(BUILD)/libtokenizer.a
LIB_ENGINE    := $(BUILD)/libengine.a
LIB_TOOLS     := $(BUILD)/libtools.a
PY_LIB        := tools/python/moee/libmoee.so

.PHONY: all test test-unit test-asan test-neon bench bench-embed demo fuzz clean
all: moee libmoee.a $(PY_LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/kernels/avx2/%.o: kernels/avx2/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@
$(BUILD)/kernels/avx512/%.o: kernels/avx512/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@
$(BUILD)/kernels/neon/%.o: kernels/neon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NEON_FLAGS) -MMD -MP -c $< -o $@

$(LIB_WEIGHTS):   $(call obj,$(WEIGHTS_SRC))
$(LIB_KERNELS):   $(call obj,$(KERNELS_SRC))
$(LIB_TOKENIZER): $(call obj,$(TOKENIZER_SRC))
$(LIB_ENGINE):    $(call obj,$(ENGINE_SRC))
$(LIB_TOOLS):     $(call obj,$(TOOLS_SRC))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# libmoee.a: the whole library (what programs embedding moee link against).
LIBMOEE_OBJ := $(call obj,$(ENGINE_SRC) $(TOKENIZER_SRC) $(WEIGHTS_SRC) $(KERNELS_SRC))
$(BUILD)/libmoee.a: $(LIBMOEE_OBJ)
	rm -f $@ && ar rcs $@ $^
libmoee.a: $(BUILD)/libmoee.a
	cp $< $@

# libmoee.so: the same objects, exporting only the moee_ functions (engine/libmoee.map);
# the Python package (tools/python/moee/) loads it with ctypes.
$(BUILD)/libmoee.so: $(LIBMOEE_OBJ) engine/libmoee.map
	$(CC) -shared -o $@ $(LIBMOEE_OBJ) -Wl,--version-script=engine/libmoee.map $(LDLIBS)
$(PY_LIB): $(BUILD)/libmoee.so
	cp $< $@.tmp && mv $@.tmp $@   # a new file: a Python process that has the old one mapped keeps it

LIBS_ALL := $(LIB_ENGINE) $(LIB_TOKENIZER) $(LIB_WEIGHTS) $(LIB_KERNELS)
$(BUILD)/moee: $(BUILD)/tools/main.o $(LIB_TOOLS) $(LIBS_ALL)
	$(CC) -o $@ $^ $(LDLIBS)
moee: $(BUILD)/moee
	cp $< $@

# ---- tests -----------------------------------------------------------------
TEST_SRC := $(wildcard tests/$(T)*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_SH  := $(filter-out tests/run.sh,$(wildcard tests/$(T)*.sh))

# One static pattern rule per prefix: a test links only the archives it needs.
define test_rule
$$(filter $$(BUILD)/tests/$(1)_%,$$(TEST_BIN)): $$(BUILD)/tests/%: tests/%.c $(2)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -MMD -MP -MF $$@.d -Itests -o $$@ $$(filter %.c %.a,$$^) $$(LDLIBS)
endef
$(eval $(call test_rule,kernels,$(LIB_KERNELS)))
$(eval $(call test_rule,weights,$(LIB_WEIGHTS) $(LIB_KERNELS)))
$(eval $(call test_rule,tokenizer,$(LIB_TOKENIZER) $(LIB_WEIGHTS) $(LIB_KERNELS)))
$(eval $(call test_rule,engine,$(LIBS_ALL)))
$(eval $(call test_rule,tools,$(LIB_TOOLS) $(LIBS_ALL)))

# Fuzz targets (tests/fuzz/) also build as plain programs that replay their seed
# corpus (tests/fuzz/corpus/NAME/): libFuzzer runs are tests/fuzz/run.sh (clang).
FUZZ_SRC := $(filter tests/fuzz/$(T)%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(FUZZ_SRC))
$(FUZZ_BIN): $(BUILD)/tests/%: tests/fuzz/%.c $(LIB_TOOLS) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d -Itests -o $@ $(filter %.c %.a,$^) $(LDLIBS)

# test-unit: build and run this configuration's tests; tests/run.sh prints one
# summary line "N passed, M failed" and fails if any test failed.
# The Python tests (tests/tools_python.sh) load $(BUILD)/libmoee.so; the sanitizer build
# makes none (Python would need the ASan runtime preloaded), so there they skip.
test-unit: $(TEST_BIN) $(FUZZ_BIN) $(if $(TEST_SH),$(BUILD)/moee $(if $(filter 0,$(SAN)),$(BUILD)/libmoee.so))
	@RUN="$(RUN)" MOEE="$(BUILD)/moee" sh tests/run.sh $(TEST_BIN) $(FUZZ_BIN) $(TEST_SH)

# test: the normal build (OpenMP on), then everything again without OpenMP under
# AddressSanitizer + UndefinedBehaviorSanitizer.
test: all
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-unit BUILD=build/asan SAN=1 OPENMP=0

# test-neon: the kernels (and everything else that runs without model files
# bigger than the tests' own) cross-compiled for aarch64 and run under qemu.
test-neon:
	$(MAKE) --no-print-directory test-unit BUILD=build/aarch64 CC=aarch64-linux-gnu-gcc \
	    OPENMP=0 T=kernels RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu"

# fuzz: every libFuzzer target (clang, ASan + UBSan) for FUZZ_SECONDS each, one after
# the other at the lowest priority, after replaying the long inputs of
# tests/fuzz/gen_long.c (tests/fuzz/run.sh; logs and findings under build/fuzz/).
# FUZZ_RUNS=N runs N executions per target instead of FUZZ_SECONDS.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
FUZZ_RUNS ?=
fuzz:
	sh tests/fuzz/build.sh
	FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# bench: kernels against the machine's measured peak, then the tokenizer (MB/s).
bench: $(BUILD)/bench/bench_kernels $(BUILD)/bench/bench_tokenizer
	$(BUILD)/bench/bench_kernels
	$(BUILD)/bench/bench_tokenizer

# bench-embed: end to end on the three full shapes, short and long texts (see
# bench/bench_embed.sh; synthesizes missing models into /tmp/models, 4-9 GB each).
bench-embed: moee $(BUILD)/bench/bench_kernels
	sh bench/bench_embed.sh

# demo: a small random-weight OLMoE-architecture model with the real OLMoE
# tokenizer, a few sentences embedded with PromptEOL as moee-sum.
demo: moee
	sh tools/demo.sh
$(BUILD)/bench/bench_eval: bench/bench_eval.c $(LIB_TOOLS) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%: bench/%.c $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build moee libmoee.a $(PY_LIB)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
