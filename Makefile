# irsteps: `make demo` runs the main job, `make test` passes the tests; both
# install what they need on a fresh Debian 12 machine.
BUILD ?= build
ASAN_BUILD ?= build-asan
GENERATOR ?= Ninja
# Two tests at a time: the shared cluster's tests hold one lock and run one
# at a time (tests/CMakeLists.txt), the others run beside them; most of
# either waits on servers, so two lanes on two cores finish well before one.
CTEST_JOBS ?= 2
CTEST_FLAGS ?= --output-on-failure --parallel $(CTEST_JOBS)
# ctest, then tests/check-skips.py over its JUnit file: every skipped test is
# printed with its reason, and one tests/allowed-skips.txt does not list fails
# the run (as does a failed test; both reports are printed).
RUN_CTEST = cd $(1) && rm -f ctest-junit.xml && { ctest $(CTEST_FLAGS) --output-junit ctest-junit.xml; status=$$?; \
  /usr/bin/python3 $(CURDIR)/tests/check-skips.py ctest-junit.xml || status=1; exit $$status; }

.PHONY: all deps deps-build build test test-fast test-sanitize asan-build control-plane kubelet demo bench fuzz format format-check clean

all: build

deps:
	scripts/install-deps.sh

# What building needs, and nothing the tests alone need.
deps-build:
	scripts/install-deps.sh --build-only

# The release build links its dependencies statically (IRSTEPS_STATIC_DEPS):
# its binaries are what the images are made of (containers/).
build: deps-build
	cmake -S . -B $(BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRSTEPS_WERROR=ON -DIRSTEPS_STATIC_DEPS=ON
	cmake --build $(BUILD)

# kube-apiserver, controller-manager and scheduler for the tests, built once
# from Debian's kubernetes source and cached (about 10 minutes the first time).
control-plane: deps
	tests/cluster/build-control-plane.sh >/dev/null

# The real node's kubelet (start.sh --node real, the realnode tests of the
# release build), from the control plane's source tree (about 3.5 minutes).
kubelet: control-plane
	tests/cluster/build-kubelet.sh >/dev/null

# The formatting check, every test, then every test again under
# AddressSanitizer and UBSan. The sanitizer build compiles at the lowest
# priority while the release build's tests run (they mostly wait on servers
# they started, and take the CPU first when they need it): CI pays for the
# two builds and two test runs in less than their sum.
test: build control-plane kubelet format-check
	@echo "building $(ASAN_BUILD) at nice 19 while the tests run: $(ASAN_BUILD).log"
	@nice -n 19 $(MAKE) --no-print-directory asan-build >$(ASAN_BUILD).log 2>&1 & asan=$$!; \
	  ( $(call RUN_CTEST,$(BUILD)) ); status=$$?; \
	  if ! wait $$asan; then tail -n 60 $(ASAN_BUILD).log; echo "the $(ASAN_BUILD) build failed"; exit 1; fi; \
	  exit $$status
	$(call RUN_CTEST,$(ASAN_BUILD))

# The release build's tests only.
test-fast: build control-plane kubelet
	$(call RUN_CTEST,$(BUILD))

test-sanitize: asan-build control-plane
	$(call RUN_CTEST,$(ASAN_BUILD))

asan-build: deps
	cmake -S . -B $(ASAN_BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DIRSTEPS_WERROR=ON -DIRSTEPS_SANITIZE=ON
	cmake --build $(ASAN_BUILD)

demo: build control-plane
	scripts/demo.sh $(BUILD)

# Every benchmark in bench/, one after another (docs/benchmarks.md); each
# takes the build folder and its own defaults.
bench: deps build control-plane
	for b in bench/*.sh; do [ "$$b" = bench/lib.sh ] || "$$b" $(BUILD) || exit 1; done

# libFuzzer over the fuzz targets of tests/fuzz/, FUZZ_SECONDS each (clang).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	command -v clang++ >/dev/null && test -n "$$(find /usr/lib/llvm-14 -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null)" || \
	  apt-get install -y -q clang libclang-rt-14-dev
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRSTEPS_FUZZ=ON
	cmake --build $(FUZZ_BUILD) --target fuzz_reference fuzz_manifest fuzz_bundle fuzz_certificate fuzz_canonical_json fuzz_cosign fuzz_challenge fuzz_plugin_request
	for t in reference manifest bundle certificate canonical_json cosign challenge plugin_request; do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t && \
	  $(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check: deps
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
