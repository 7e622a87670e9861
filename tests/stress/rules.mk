# tests/stress/rules.mk - the reliability suite (issue 9), included by the
# top-level Makefile (BUILD, LIB_SO, INCLUDE_DIR, CC, CFLAGS, lib).
#
#   make test-stress    (part of make test, about 20 s) the C-ABI checks:
#                       hostile callers, a mutating target queried from 4
#                       threads (and under seccomp without PROCMAP_QUERY:
#                       ENOTTY, EPERM, ENOSYS), targets killed or exec'ing
#                       mid-batch, a small soak (200k calls,
#                       5k open/close cycles, and the same with a leak of
#                       32 bytes per call, which must fail), the fuzz
#                       corpus replayed.
#                       The Go tests of tests/stress run in `go test ./...`.
#   make test-masked    (run by .ci/run after make test, required) the
#                       fallback suite with PROCMAP_QUERY masked by seccomp
#                       (ENOTTY, as a kernel before 6.11 answers): go test
#                       ./..., the C tests, the Python and Rust tests, all
#                       in a process tree whose ioctl fails (noprocmapq
#                       checks the mask and lifts PROCMAPQ_REQUIRE_IOCTL)
#   make stress-all     (part of make stress, several minutes) the Go suite
#                       in long mode (PROCMAPQ_STRESS=1), 60 s of C-ABI
#                       churn, the full soak (10M calls, 100k cycles), and
#                       every fuzzer for a fixed budget.
#
# Variables: STRESS_FUZZTIME=60s (each Go fuzzer), STRESS_LIBFUZZER_SECONDS=120,
# STRESS_CHURN_SECONDS=60, LIBFUZZER_CC=clang-14.
#
# Every program prints FIGURE lines with its measurements.

STRESS_OUT      := $(BUILD)/stress
STRESS_SRC      := tests/stress/c
STRESS_CFLAGS   := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -pthread -I$(INCLUDE_DIR) -Itests/c -I$(STRESS_SRC)
STRESS_LDLIBS   := -L$(BUILD) -lprocmapq -Wl,-rpath,$(abspath $(BUILD)) -pthread
STRESS_FUZZTIME ?= 60s
STRESS_LIBFUZZER_SECONDS ?= 120
STRESS_CHURN_SECONDS ?= 60
LIBFUZZER_CC    ?= clang-14
STRESS_CORPUS   := tests/stress/corpus/cabi
# Inputs libFuzzer found interesting (committed; replayed by make test).
STRESS_FOUND    := tests/stress/corpus/cabi-found

STRESS_BINS := $(STRESS_OUT)/mutator $(STRESS_OUT)/noprocmapq $(STRESS_OUT)/cabi_churn \
	$(STRESS_OUT)/cabi_hostile $(STRESS_OUT)/cabi_faults $(STRESS_OUT)/soak $(STRESS_OUT)/fuzz_cabi_replay

$(STRESS_OUT)/mutator: $(STRESS_SRC)/mutator.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< -pthread

$(STRESS_OUT)/noprocmapq: $(STRESS_SRC)/noprocmapq.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $<

$(STRESS_OUT)/cabi_churn: $(STRESS_SRC)/cabi_churn.c $(STRESS_SRC)/mutator_client.c $(STRESS_SRC)/mutator_client.h \
		tests/c/mapsparse.c tests/c/mapsparse.h $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $(STRESS_SRC)/cabi_churn.c $(STRESS_SRC)/mutator_client.c tests/c/mapsparse.c $(STRESS_LDLIBS)

$(STRESS_OUT)/cabi_hostile: $(STRESS_SRC)/cabi_hostile.c tests/c/check.h $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< $(STRESS_LDLIBS)

$(STRESS_OUT)/cabi_faults: $(STRESS_SRC)/cabi_faults.c tests/c/check.h $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< $(STRESS_LDLIBS)

$(STRESS_OUT)/soak: $(STRESS_SRC)/soak.c $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< $(STRESS_LDLIBS)

$(STRESS_OUT)/fuzz_cabi_replay: $(STRESS_SRC)/fuzz_cabi.c $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< $(STRESS_LDLIBS)

$(STRESS_OUT)/fuzz_cabi_libfuzzer: $(STRESS_SRC)/fuzz_cabi.c $(LIB_SO)
	@mkdir -p $(@D)
	$(Q)$(LIBFUZZER_CC) -g -O1 -fsanitize=fuzzer -DFUZZ_LIBFUZZER -I$(INCLUDE_DIR) -o $@ $< $(STRESS_LDLIBS)

.PHONY: test-stress stress-all stress-go stress-cabi stress-soak stress-fuzz stress-libfuzzer

# cabi_hostile's stderr (a line per case) is kept in a file and shown, FAIL
# lines first, only when it fails.
STRESS_HOSTILE = $(STRESS_OUT)/cabi_hostile 2>$(STRESS_OUT)/hostile.err || \
	{ grep '^FAIL' $(STRESS_OUT)/hostile.err >&2; exit 1; }

test-stress: lib $(STRESS_BINS)
	$(Q)$(STRESS_HOSTILE)
	$(Q)$(STRESS_OUT)/cabi_churn $(STRESS_OUT)/mutator 3 4
	$(Q)$(STRESS_OUT)/cabi_faults 9
	$(Q)for e in ENOTTY EPERM ENOSYS; do \
		echo "under seccomp: PROCMAP_QUERY fails with $$e"; \
		$(STRESS_OUT)/noprocmapq $$e $(STRESS_OUT)/cabi_churn $(STRESS_OUT)/mutator 1 2 || exit 1; \
		$(STRESS_OUT)/noprocmapq $$e $(STRESS_HOSTILE); \
	done
	$(Q)$(STRESS_OUT)/soak 200000 5000
	@echo "soak negative control: 32 bytes leaked per call must fail the RSS check"
	$(Q)if PMQ_SOAK_LEAK_BYTES=32 $(STRESS_OUT)/soak 200000 5000 2>$(STRESS_OUT)/soak-leak.err >/dev/null; then \
		echo "FAIL the soak passed with a leak of 32 bytes per call" >&2; exit 1; fi; \
	grep '^FAIL RSS grew' $(STRESS_OUT)/soak-leak.err | sed 's/^FAIL /negative control failed as it must: /' | grep . || \
		{ cat $(STRESS_OUT)/soak-leak.err >&2; exit 1; }
	$(Q)$(STRESS_OUT)/fuzz_cabi_replay $(STRESS_CORPUS)/* $(wildcard $(STRESS_FOUND)/*)

# The fallback suite under the seccomp mask (see the header). The Rust
# tests' own check "kernel >= 6.11 has the ioctl" is lifted with
# PROCMAPQ_TEST_IGNORE_VERSION: here the kernel has it and we hide it.
STRESS_MASK = $(abspath $(STRESS_OUT)/noprocmapq) ENOTTY

.PHONY: test-masked
test-masked: lib $(STRESS_OUT)/noprocmapq $(TESTS_C_BINS) $(PROCMAPQ_TARGET_BIN) $(ABI_LAYOUT_TXT) ## the fallback suite with PROCMAP_QUERY masked by seccomp (required by .ci/run)
	$(Q)$(STRESS_MASK) $(GO) test -buildvcs=false -count=1 -timeout $(GO_TEST_TIMEOUT) ./...
	$(Q)$(TESTS_C_ENV) $(STRESS_MASK) tests/c/run-tests.sh c-tests-masked $(TESTS_C_BINS)
	$(Q)cd $(PYTHON_DIR) && $(PYTHON_ENV) $(STRESS_MASK) $(PYTHON) -m unittest test_procmapq
	$(Q)cd $(RUST_DIR) && $(RUST_ENV) PROCMAPQ_TEST_IGNORE_VERSION=1 $(STRESS_MASK) $(CARGO) test --offline --quiet --tests
	@echo "test-masked: all passed (PROCMAP_QUERY masked with ENOTTY)"

stress-go:
	@mkdir -p $(STRESS_OUT)
	$(Q)PROCMAPQ_STRESS=1 $(GO) test ./tests/stress -count=1 -timeout 30m -v > $(STRESS_OUT)/stress-go.log 2>&1; \
		rc=$$?; grep -E '^(FIGURE|--- |ok|FAIL|PASS)|churn_test|faults_test' $(STRESS_OUT)/stress-go.log; exit $$rc

stress-cabi: lib $(STRESS_BINS)
	$(Q)$(STRESS_OUT)/cabi_churn $(STRESS_OUT)/mutator $(STRESS_CHURN_SECONDS) 4
	$(Q)$(STRESS_OUT)/noprocmapq EPERM $(STRESS_OUT)/cabi_churn $(STRESS_OUT)/mutator 10 4
	$(Q)$(STRESS_OUT)/cabi_faults 60

stress-soak: lib $(STRESS_OUT)/soak
	$(Q)$(STRESS_OUT)/soak 10000000 100000

# Go fuzzers for a fixed budget each: the text parser is core's
# (core/parse_test.go), the ELF note reader core/internal/elfnote's
# (elfnote_test.go); the C-ABI decoding one is ours.
stress-fuzz: lib
	$(GO) test ./core -run '^$$' -fuzz '^FuzzParseMaps$$' -fuzztime $(STRESS_FUZZTIME)
	$(GO) test ./core/internal/elfnote -run '^$$' -fuzz '^FuzzReadELF$$' -fuzztime $(STRESS_FUZZTIME)
	$(GO) test ./core/internal/elfnote -run '^$$' -fuzz '^FuzzScanNotes$$' -fuzztime $(STRESS_FUZZTIME)
	$(GO) test ./tests/stress -run '^$$' -fuzz '^FuzzCABIDecode$$' -fuzztime $(STRESS_FUZZTIME)

# libFuzzer on the real .so; new interesting inputs land in $(STRESS_FOUND).
stress-libfuzzer: lib
	$(Q)if ! command -v $(LIBFUZZER_CC) >/dev/null; then \
		echo "stress-libfuzzer: $(LIBFUZZER_CC) not found: apt-get install clang-14 libclang-rt-14-dev" >&2; exit 1; fi
	$(Q)$(MAKE) -s $(STRESS_OUT)/fuzz_cabi_libfuzzer
	@mkdir -p $(STRESS_FOUND)
	$(Q)$(STRESS_OUT)/fuzz_cabi_libfuzzer -max_total_time=$(STRESS_LIBFUZZER_SECONDS) -print_final_stats=1 \
		$(STRESS_FOUND) $(STRESS_CORPUS) 2>&1 | tail -8

stress-all: stress-go stress-cabi stress-soak stress-fuzz stress-libfuzzer

TEST_TARGETS   += test-stress
STRESS_TARGETS += stress-all
