# tests/c/rules.mk - C tests of the real library (included by the top
# Makefile; see its header for BUILD, LIB_SO, INCLUDE_DIR, CC, CFLAGS).
#
#   make test-c           build and run every C test: plain, built with
#                         -fsanitize=address,undefined, and plain again with
#                         PROCMAPQ_FORCE_PROBE=0 (text fallback); part of
#                         make test (about 20 s once the library is built)
#   make test-c-plain     only the plain build
#   make test-c-asan      only the sanitizer build
#   make test-c-fallback  only the fallback run
#   make test-c-cgocheck2 the plain build against a GOEXPERIMENT=cgocheck2
#                         library (part of make stress)
#
# Each test is a standalone program linked against build/libprocmapq.so that
# spawns live targets (build/target, from tests/target/target.c) and checks
# the library against its own parser (mapsparse.c). Exit 0 pass, 1 fail,
# 77 skip.

TESTS_C_PROGRAMS := live_compare arguments handle_kinds threads sigprof_host normalize compare_views dlopen_host
# Helpers shared with examples/c (one copy of the parser and the spawner).
TESTS_C_HELPERS  := tests/c/mapsparse.c tests/c/spawn.c tests/c/testbuf.c tests/c/vmacheck.c
TESTS_C_HEADERS  := $(wildcard tests/c/*.h) $(INCLUDE_DIR)/procmapq.h
TESTS_C_OUT      := $(BUILD)/tests/c
TESTS_C_ASAN_OUT := $(BUILD)/tests/c-asan
TESTS_C_BINS      := $(addprefix $(TESTS_C_OUT)/,$(TESTS_C_PROGRAMS))
TESTS_C_ASAN_BINS := $(addprefix $(TESTS_C_ASAN_OUT)/,$(TESTS_C_PROGRAMS))

TESTS_C_CFLAGS  := $(CFLAGS) -std=c11 -Wall -Wextra -Werror -pthread -I$(INCLUDE_DIR) -Itests/c
# Link by soname through the build directory; rpath so the tests run from
# any directory without LD_LIBRARY_PATH.
TESTS_C_LDLIBS  := -L$(BUILD) -lprocmapq -Wl,-rpath,$(abspath $(BUILD)) -pthread -ldl
TESTS_C_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The sanitizer run (gcc 12 libasan, Go 1.26). What was needed, and why:
#  - Nothing for signals. ASan installs its SIGSEGV handler at startup; the
#    Go runtime, loaded with the library, installs its own on top and
#    forwards faults outside Go code to ASan. So ASan's default
#    handle_segv=1 stays, and the library still turns bad caller pointers
#    into -EFAULT (arguments checks this in both builds).
#    (handle_segv=0 / allow_user_segv_handler=1 were tried: not needed.)
#  - LeakSanitizer reported one block at exit: C.malloc from Go code, which
#    LSan cannot unwind past (its stack ends in the cgo stub
#    _Cfunc__Cmalloc): cgosymbolizer's C.CString(os.Args[0]), kept for the
#    process lifetime. lsan.supp suppresses blocks from that stub only;
#    leaks in the tests and in C code of the library are still reported.
#    (Handles are C.malloc'd from Go, so a leaked handle is not seen.)
# UBSan findings abort (-fno-sanitize-recover=all); ASan findings always do.
TESTS_C_SANITIZER_ENV := LSAN_OPTIONS=suppressions=$(abspath tests/c/lsan.supp):print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The target program, shared with other areas' rules: defined once.
ifndef PROCMAPQ_TARGET_BIN
PROCMAPQ_TARGET_BIN := $(BUILD)/target
$(PROCMAPQ_TARGET_BIN): tests/target/target.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) -O2 -std=gnu11 -Wall -Wextra -pthread -o $@ $<
endif

# dlopen_host loads the library with dlopen (as Python ctypes does), so it is
# not linked against it; PROCMAPQ_LIBRARY names the file to load.
TESTS_C_DLOPEN_LDLIBS := -pthread -ldl
$(TESTS_C_OUT)/dlopen_host: tests/c/dlopen_host.c tests/c/mapsparse.c $(TESTS_C_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TESTS_C_CFLAGS) -o $@ $< tests/c/mapsparse.c $(TESTS_C_DLOPEN_LDLIBS)

$(TESTS_C_ASAN_OUT)/dlopen_host: tests/c/dlopen_host.c tests/c/mapsparse.c $(TESTS_C_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan,ubsan)"
	$(Q)$(CC) $(TESTS_C_CFLAGS) $(TESTS_C_SANITIZE) -o $@ $< tests/c/mapsparse.c $(TESTS_C_DLOPEN_LDLIBS)

$(TESTS_C_OUT)/%: tests/c/%.c $(TESTS_C_HELPERS) $(TESTS_C_HEADERS) | lib
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TESTS_C_CFLAGS) -o $@ $< $(TESTS_C_HELPERS) $(TESTS_C_LDLIBS)

$(TESTS_C_ASAN_OUT)/%: tests/c/%.c $(TESTS_C_HELPERS) $(TESTS_C_HEADERS) | lib
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan,ubsan)"
	$(Q)$(CC) $(TESTS_C_CFLAGS) $(TESTS_C_SANITIZE) -o $@ $< $(TESTS_C_HELPERS) $(TESTS_C_LDLIBS)

# What every run tells the programs: the target binary and, for
# dlopen_host, the library file.
TESTS_C_ENV = PROCMAPQ_TARGET=$(PROCMAPQ_TARGET_BIN) PROCMAPQ_LIBRARY=$(abspath $(LIB_SONAME_FILE))

.PHONY: test-c test-c-plain test-c-asan test-c-fallback

test-c: test-c-plain test-c-asan test-c-fallback ## C tests of the library: plain, ASan/UBSan, text fallback

test-c-plain: $(TESTS_C_BINS) $(PROCMAPQ_TARGET_BIN) lib
	$(Q)$(TESTS_C_ENV) tests/c/run-tests.sh c-tests $(TESTS_C_BINS)

# The plain programs again as on a kernel without PROCMAP_QUERY: the
# library's documented PROCMAPQ_FORCE_PROBE=0 makes auto use the text
# backend and a forced ioctl backend fail with -ENOTTY.
test-c-fallback: $(TESTS_C_BINS) $(PROCMAPQ_TARGET_BIN) lib
	$(Q)$(TESTS_C_ENV) PROCMAPQ_FORCE_PROBE=0 \
		tests/c/run-tests.sh c-tests-fallback $(TESTS_C_BINS)

test-c-asan: $(TESTS_C_ASAN_BINS) $(PROCMAPQ_TARGET_BIN) lib
	$(Q)$(TESTS_C_ENV) $(TESTS_C_SANITIZER_ENV) \
		tests/c/run-tests.sh c-tests-asan $(TESTS_C_ASAN_BINS)

# The same plain test programs against a library built with
# GOEXPERIMENT=cgocheck2, which checks every pointer crossing between C and
# Go (too slow to build for make test: part of make stress). LD_LIBRARY_PATH
# takes precedence over the programs' RUNPATH.
TESTS_C_CGOCHECK2_DIR := $(BUILD)/cgocheck2
TESTS_C_CGOCHECK2_LIB := $(TESTS_C_CGOCHECK2_DIR)/$(LIB_SONAME)

$(TESTS_C_CGOCHECK2_LIB): $(GO_LIB_SOURCES)
	@mkdir -p $(dir $@)
	@echo "  GO      $@ (GOEXPERIMENT=cgocheck2)"
	$(Q)GOEXPERIMENT=cgocheck2 GO=$(GO) $(BUILD_LIB) $@

.PHONY: test-c-cgocheck2
test-c-cgocheck2: $(TESTS_C_BINS) $(PROCMAPQ_TARGET_BIN) $(TESTS_C_CGOCHECK2_LIB) ## C tests against a cgocheck2 library
	$(Q)$(TESTS_C_ENV) LD_LIBRARY_PATH=$(abspath $(TESTS_C_CGOCHECK2_DIR)) \
		PROCMAPQ_LIBRARY=$(abspath $(TESTS_C_CGOCHECK2_LIB)) \
		tests/c/run-tests.sh c-tests-cgocheck2 $(TESTS_C_BINS)

TEST_TARGETS   += test-c
STRESS_TARGETS += test-c-cgocheck2
BUILD_TARGETS += $(TESTS_C_BINS) $(PROCMAPQ_TARGET_BIN)
