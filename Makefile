# Thin wrapper around CMake.  The build itself lives in CMakeLists.txt.
#
#   make            build (build/); needs only the build tier of tools/deps.sh
#                   and never installs anything
#   make test       build + ctest in build/, in the sanitizer build build-asan/,
#                   with the ucontext switch in build-ucontext/, without TLS
#                   in build-notls/ (-DCIO_TLS=OFF); the cross-thread programs
#                   under ThreadSanitizer in build-tsan/; every fuzz harness for
#                   FUZZ_TEST_TIME seconds (default 30) in build-fuzz/ when clang
#                   is installed; AArch64 cross build + smoke test under
#                   qemu-user.  Checks the test tier first (installs it only as
#                   root with CI=true).  The AArch64, clang-format and fuzz
#                   checks run when their tools are present, and always in CI
#   make fuzz       build the libFuzzer harnesses (clang) in build-fuzz/ and run
#                   each for FUZZ_TIME seconds (default 300); FUZZ=name picks one
#   make bench      build and run the benchmarks (SECTIONS="core memory network tls"),
#                   then plot the side-by-side ratios into docs/
#   make soak       build and run the soak test (SOAK_SECONDS=600 SOAK_CONNS=1000;
#                   docs/reliability.md)
#   make demo       build and run the demo
#   make install    cmake --install build (PREFIX=/usr/local)
#   make format     clang-format -i the sources
#   make clean      remove the build directories

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory

BUILD      ?= build
ASAN_BUILD ?= build-asan
UCONTEXT_BUILD ?= build-ucontext
NOTLS_BUILD ?= build-notls
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME  ?= 300
FUZZ_TEST_TIME ?= 30
FUZZ       ?=
FUZZ_FLAGS := -DCMAKE_C_COMPILER=clang -DCIO_FUZZ=ON
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS ?= 2
# Extra -D options for every cmake configure, e.g. CMAKE_ARGS=-DCIO_CONTEXT=ucontext
CMAKE_ARGS ?=
SECTIONS ?=
SOAK_SECONDS ?= 600
SOAK_CONNS ?= 1000

FORMAT_DIRS := src include tests bench examples

.PHONY: all test-deps build test fuzz bench soak install demo format clean

all: build

# The test tier: checked, installed only by root in CI (CI=true).
test-deps:
	@if [ "$${CI:-}" = true ] && [ "$$(id -u)" = 0 ]; then tools/deps.sh ci; \
	else tools/deps.sh --check test; fi

build:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

# Runs every build even when one fails, then prints one summary line
# "N passed, M failed" over the ctest tests of all.  A build that fails to
# configure/compile, or a ctest run that prints no summary, counts as one
# failure.
# Warnings are errors here (CIO_WERROR=ON), not in a user's plain build.
test: test-deps
	@passed=0; failed=0; \
	for kind in normal asan ucontext notls tsan fuzz; do \
	    case $$kind in \
	    normal) dir=$(BUILD); flags="";; \
	    asan) dir=$(ASAN_BUILD); flags="-DCIO_SANITIZE=ON -DCIO_BUILD_BENCH=OFF";; \
	    ucontext) dir=$(UCONTEXT_BUILD); flags="-DCIO_CONTEXT=ucontext -DCIO_BUILD_BENCH=OFF";; \
	    notls) dir=$(NOTLS_BUILD); flags="-DCIO_TLS=OFF -DCIO_BUILD_BENCH=OFF";; \
	    tsan) dir=$(TSAN_BUILD); flags="-DCIO_TSAN=ON";; \
	    fuzz) dir=$(FUZZ_BUILD); flags="$(FUZZ_FLAGS)"; export FUZZ_TIME=$(FUZZ_TEST_TIME); \
	        if ! command -v clang >/dev/null; then echo "==== fuzz build: skipped (no clang)"; continue; fi;; \
	    esac; \
	    echo "==== $$kind build: $$dir"; \
	    if ! { cmake -S . -B $$dir -DCIO_WERROR=ON -DCIO_BUILD_TESTS=ON $$flags $(CMAKE_ARGS) && \
	           cmake --build $$dir -j$(JOBS); }; then \
	        echo "==== $$kind build: BUILD FAILED"; failed=$$((failed + 1)); continue; \
	    fi; \
	    ctest --test-dir $$dir --output-on-failure -j$(CTEST_JOBS) 2>&1 | tee $$dir/ctest.log; \
	    summary=$$(sed -n 's/.*tests passed, \([0-9][0-9]*\) tests\{0,1\} failed out of \([0-9][0-9]*\).*/\1 \2/p' $$dir/ctest.log | tail -n1); \
	    if [ -z "$$summary" ]; then \
	        echo "==== $$kind build: no ctest summary"; failed=$$((failed + 1)); continue; \
	    fi; \
	    set -- $$summary; \
	    failed=$$((failed + $$1)); passed=$$((passed + $$2 - $$1)); \
	done; \
	echo "==== AArch64: cross build, smoke test under qemu-user"; \
	if [ "$${CI:-}" != true ] && ! { command -v aarch64-linux-gnu-gcc && command -v qemu-aarch64; } >/dev/null; then \
	    echo "==== AArch64: skipped (no aarch64-linux-gnu-gcc or qemu-aarch64: tools/deps.sh extra)"; \
	elif tools/cross_aarch64.sh; then passed=$$((passed + 1)); else failed=$$((failed + 1)); fi; \
	echo "$$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

fuzz: test-deps
	cmake -S . -B $(FUZZ_BUILD) $(FUZZ_FLAGS) $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	FUZZ_TIME=$(FUZZ_TIME) ctest --test-dir $(FUZZ_BUILD) -V -j$(CTEST_JOBS) \
	    -R 'fuzz\.$(if $(FUZZ),$(FUZZ)$$,)'

bench:
	cmake -S . -B $(BUILD) -DCIO_BUILD_BENCH=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)
	CIO_BUILD_DIR=$(BUILD) bash bench/run.sh $(SECTIONS)

soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CONNS=$(SOAK_CONNS) $(BUILD)/tests/soak/cio_soak

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

demo: build
	@BUILD_DIR=$(BUILD) bash examples/demo.sh

format:
	@files=$$(find $(wildcard $(FORMAT_DIRS)) -type f \( -name '*.c' -o -name '*.h' \)); \
	if [ -n "$$files" ]; then clang-format -i $$files; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(UCONTEXT_BUILD) $(NOTLS_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) build-aarch64
