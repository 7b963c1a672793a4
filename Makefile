# openrsp: the two commands.
#   make demo   install what is missing, build, run the main scenario
#   make test   install what is missing, build (normal + ASan/UBSan + libFuzzer), run every tier
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
BUILD     ?= build
ASAN      ?= build-asan
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps build build-asan test test-fast demo bench bench-fleet format format-check gen clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN)/CMakeCache.txt:
	@CC=clang cmake -S . -B $(ASAN) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug \
	  -DRSP_SANITIZE=ON -DRSP_FUZZ=ON >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN)/CMakeCache.txt
	@cmake --build $(ASAN) -j $(JOBS)

# Every tier (unit, vectors, integration, fuzz) in the normal build, then again under
# AddressSanitizer + UndefinedBehaviorSanitizer with the libFuzzer targets running.
test: build build-asan
	@echo "== tests: normal build"
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "== tests: ASan + UBSan build, with fuzzers"
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# The normal build's tests only (quick loop while developing).
test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The programs the demo runs only (the test binaries are built by `make test`).
DEMO_TARGETS := rsp-pki rsp-smdp rsp-smdpctl rsp-eim rsp-eimctl rsp-fleet

demo: deps $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS)
	@scripts/demo.sh $(BUILD)

# bench/eim at full size (1,000,000 packages and devices) takes ~13 minutes: EIM_BENCH_ARGS=
EIM_BENCH_ARGS ?= --quick
bench: build
	@bench/crypto/run.sh $(BUILD)/bench/crypto/bench_crypto
	@if [ -x $(BUILD)/bench/msg/bench_msg ]; then $(BUILD)/bench/msg/bench_msg 1; else echo "bench_msg: not built (needs asn1c)"; fi
	@bench/http/run.sh $(BUILD) || echo "bench/http: failed (see above)"
	@bench/eim/run.sh $(BUILD) $(EIM_BENCH_ARGS) || echo "bench/eim: failed (see above)"
	@bench/coap/run.sh $(BUILD) || echo "bench/coap: failed (see above)"

# The fleet load run (docs/benchmarks.md): 10,000 devices polling rsp-eim for 10 minutes, then
# nginx for 2; FLEET_BENCH_ARGS="DEVICES SECONDS BASELINE_SECONDS" for another size.
bench-fleet: build
	@bench/fleet/run.sh $(BUILD) $(FLEET_BENCH_ARGS)

# Regenerates the message tables from the reference ASN.1 modules (needs ../shared or RSP_SHARED).
gen:
	python3 tools/msggen/msggen.py $${RSP_SHARED:-../shared}/spec/asn1 include/rsp/msg/asn1.h lib/msg/asn1_tables.c

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(ASAN)
