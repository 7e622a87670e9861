# libprocmapq - top-level Makefile.
#
# Targets (run `make help` for this list):
#   all (default)  the library, procmapq.pc and every area's BUILD_TARGETS
#   lib            build/libprocmapq.so.X.Y.Z (+ .so.X and .so links) and
#                  build/procmapq.pc
#   check-abi      fail when exported symbols, header prototypes and the
#                  version script disagree, when the header's version and
#                  the version script's newest node disagree, or when the
#                  header does not compile as C99 and C++17
#   test           go test ./..., check-abi, then every area's TEST_TARGETS
#   demo           the examples (DEMO_TARGETS)
#   bench          the benchmarks (BENCH_TARGETS, and bench-cabi: the C ABI
#                  against Go, side by side)
#   stress         the stress tests (STRESS_TARGETS)
#   install        install library, header and procmapq.pc under
#                  $(DESTDIR)$(PREFIX)
#   uninstall      remove what install installed
#   clean          remove build/
#
# Variables:
#   PREFIX=/usr/local  LIBDIR=$(PREFIX)/lib  INCLUDEDIR=$(PREFIX)/include
#   PKGCONFIGDIR=$(LIBDIR)/pkgconfig  DESTDIR=   (staged installs)
#   GO=go  CC=gcc  CXX=g++  CFLAGS=...  V=1 (echo commands)
#
# Area rule files (-include'd below) define their own targets and append
# their names to TEST_TARGETS, STRESS_TARGETS, BENCH_TARGETS, DEMO_TARGETS
# and BUILD_TARGETS. They may use BUILD, LIB_SO, LIB_SONAME_FILE,
# INCLUDE_DIR, CC, CFLAGS, BUILD_LIB (to link a variant of the library the
# same way), and depend on the `lib` target.
#
# The version comes from include/procmapq.h (PROCMAPQ_VERSION_*).

.DEFAULT_GOAL := all

GO          ?= go
# make's built-in defaults are cc and g++; prefer gcc unless CC is given.
ifeq ($(origin CC),default)
CC          := gcc
endif
CXX         ?= g++
CFLAGS      ?= -O2 -g -Wall -Wextra
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR     ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

BUILD       := build
INCLUDE_DIR := include
HEADER      := $(INCLUDE_DIR)/procmapq.h
MAP_FILE    := capi/procmapq.map

version_field = $(shell sed -n 's/^\#define PROCMAPQ_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' $(HEADER))
VERSION_MAJOR := $(call version_field,MAJOR)
VERSION_MINOR := $(call version_field,MINOR)
VERSION_PATCH := $(call version_field,PATCH)
VERSION     := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

LIB_NAME        := libprocmapq.so
LIB_SONAME      := $(LIB_NAME).$(VERSION_MAJOR)
LIB_REAL        := $(BUILD)/$(LIB_NAME).$(VERSION)
LIB_SONAME_FILE := $(BUILD)/$(LIB_SONAME)
LIB_SO          := $(BUILD)/$(LIB_NAME)
PC_FILE         := $(BUILD)/procmapq.pc

# The one link recipe (soname, version script, cgo header removed), shared
# with capi's Go tests and the stress fuzzers: $(BUILD_LIB) OUT.
BUILD_LIB := capi/build-lib.sh

# Everything the Go build of the library reads.
GO_LIB_SOURCES := go.mod go.sum $(HEADER) $(MAP_FILE) $(BUILD_LIB) \
	$(wildcard capi/*.go capi/*.c capi/*.h core/*.go core/internal/*/*.go)

# Filled by the area rule files.
TEST_TARGETS   :=
STRESS_TARGETS :=
BENCH_TARGETS  :=
DEMO_TARGETS   :=
BUILD_TARGETS  :=

# --- Area rule files ----------------------------------------------------------
# Included before the rules below so that their target lists are complete
# when the prerequisites are read.

-include tests/abi/rules.mk
-include tests/c/rules.mk
-include examples/c/rules.mk
-include examples/rust/rules.mk
-include examples/python/rules.mk
-include bench/rules.mk
-include tests/stress/rules.mk
-include cmd/procmapq/rules.mk

.PHONY: all lib check-abi header-check test go-test demo bench bench-cabi stress \
	install uninstall clean help

all: lib $(BUILD_TARGETS) ## build the library, procmapq.pc and all areas' programs

lib: $(LIB_REAL) $(LIB_SONAME_FILE) $(LIB_SO) $(PC_FILE) ## build/libprocmapq.so* and build/procmapq.pc

$(LIB_REAL): $(GO_LIB_SOURCES)
	@mkdir -p $(BUILD)
	@echo "  GO      $@"
	$(Q)GO=$(GO) $(BUILD_LIB) $@

$(LIB_SONAME_FILE): $(LIB_REAL)
	$(Q)ln -sf $(notdir $<) $@

$(LIB_SO): $(LIB_SONAME_FILE)
	$(Q)ln -sf $(notdir $<) $@

$(PC_FILE): procmapq.pc.in $(HEADER)
	@mkdir -p $(BUILD)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# --- ABI checks -------------------------------------------------------------

# Symbols three ways, one per line, sorted.
SYMS_EXPORTED = nm -D --defined-only $(LIB_REAL) | awk '$$2 == "T" { sub(/@.*/, "", $$3); print $$3 }' | sort
SYMS_MAP      = sed -n 's/^[[:space:]]*\(procmapq_[a-z0-9_]*\);.*/\1/p' $(MAP_FILE) | sort
SYMS_HEADER   = sed -n 's/^PROCMAPQ_API .*[ *]\(procmapq_[a-z0-9_]*\)(.*/\1/p' $(HEADER) | sort
MAP_NEWEST    = sed -n 's/^\(PROCMAPQ_[0-9][0-9.]*\)[[:space:]]*{.*/\1/p' $(MAP_FILE) | tail -n 1

check-abi: lib header-check ## exported symbols = version script = header; versions agree
	@$(SYMS_EXPORTED) > $(BUILD)/syms.exported
	@$(SYMS_MAP) > $(BUILD)/syms.map
	@$(SYMS_HEADER) > $(BUILD)/syms.header
	@nm -D --defined-only $(LIB_REAL) | awk '$$2 != "A" && $$3 !~ /^procmapq_/ { bad = 1; print "check-abi: exported non-API symbol: " $$0 } END { exit bad }'
	@diff -u $(BUILD)/syms.map $(BUILD)/syms.exported > $(BUILD)/syms.diff || \
		{ echo "check-abi: $(MAP_FILE) (-) and the exported symbols (+) disagree:"; cat $(BUILD)/syms.diff; exit 1; }
	@diff -u $(BUILD)/syms.header $(BUILD)/syms.exported > $(BUILD)/syms.diff || \
		{ echo "check-abi: $(HEADER) prototypes (-) and the exported symbols (+) disagree:"; cat $(BUILD)/syms.diff; exit 1; }
	@test -s $(BUILD)/syms.exported || { echo "check-abi: no symbols found"; exit 1; }
	@node=$$($(MAP_NEWEST)); want=PROCMAPQ_$(VERSION_MAJOR).$(VERSION_MINOR); \
		test "$$node" = "$$want" || { echo "check-abi: header version $(VERSION) needs map node $$want, newest node is $$node"; exit 1; }
	@soname=$$(readelf -d $(LIB_REAL) | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'); \
		test "$$soname" = "$(LIB_SONAME)" || { echo "check-abi: soname is '$$soname', want $(LIB_SONAME)"; exit 1; }
	@echo "check-abi: OK ($$(wc -l < $(BUILD)/syms.exported) procmapq_* symbols, node PROCMAPQ_$(VERSION_MAJOR).$(VERSION_MINOR), soname $(LIB_SONAME))"

header-check: ## the header compiles cleanly as C99 and as C++17
	@mkdir -p $(BUILD)/header-check
	@printf '#include "procmapq.h"\nint main(void) { return procmapq_version() == PROCMAPQ_VERSION_NUMBER ? 0 : 1; }\n' > $(BUILD)/header-check/check.c
	@cp $(BUILD)/header-check/check.c $(BUILD)/header-check/check.cpp
	$(Q)$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Wpadded -I$(INCLUDE_DIR) -c $(BUILD)/header-check/check.c -o $(BUILD)/header-check/c99.o
	$(Q)$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Wpadded -I$(INCLUDE_DIR) -c $(BUILD)/header-check/check.cpp -o $(BUILD)/header-check/cxx17.o
	@echo "header-check: OK (gcc -std=c99 and g++ -std=c++17, -Wall -Wextra -Werror -pedantic -Wpadded)"

# --- Tests, demos, benchmarks ---------------------------------------------------

# -timeout: go test's default of 10 minutes per package is within reach of
# capi (it builds four library variants) on a loaded 2-core machine: 205 s
# beside one busy loop at nice 19. A hang is still caught, later.
GO_TEST_TIMEOUT ?= 30m

go-test: ## go test ./... (capi's tests build their own checked library)
	$(GO) test -buildvcs=false -count=1 -timeout $(GO_TEST_TIMEOUT) ./...

test: go-test check-abi $(TEST_TARGETS) ## everything: Go tests, check-abi, C tests, bindings
	@echo "test: all passed"

# The cost of crossing the C ABI: the same query from Go and through the
# library, side by side (README "Performance").
bench-cabi: ## C ABI vs Go: empty and one-address query, side by side
	$(GO) test -buildvcs=false -run '^$$' -bench BenchmarkQueryCABI -count 6 ./capi

BENCH_TARGETS += bench-cabi

demo: lib $(DEMO_TARGETS) ## run the examples

bench: lib $(BENCH_TARGETS) ## run the benchmarks

stress: lib $(STRESS_TARGETS) ## run the stress tests

# --- Install ----------------------------------------------------------------

install: lib ## install under $(DESTDIR)$(PREFIX)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIB_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_REAL)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_NAME)
	install -m 0644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		procmapq.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/procmapq.pc

uninstall: ## remove what install installed
	rm -f $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_REAL)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
		$(DESTDIR)$(LIBDIR)/$(LIB_NAME) $(DESTDIR)$(INCLUDEDIR)/procmapq.h \
		$(DESTDIR)$(PKGCONFIGDIR)/procmapq.pc

clean: ## remove build/
	rm -rf $(BUILD)

help: ## list the targets
	@echo "libprocmapq $(VERSION) - make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
		awk 'BEGIN { FS = ":.*## " } { printf "  %-14s %s\n", $$1, $$2 }'
	@echo "Variables: PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) GO=$(GO) CC=$(CC) V=1"
