# bench/rules.mk - the side-by-side benchmark harness (issue 6), included by
# the top-level Makefile.
#
#   make bench                      every workload, ≤ 5 minutes; tables in
#                                   bench/out/results.md, plot in bench/out/results.svg
#   make bench BENCH_ONLY=dense     only the workloads matching a regexp
#                                   (e.g. 'procfs_query|adv-'), seconds
#   make bench-publish              also rewrite bench/RESULTS.md,
#                                   bench/results.svg and the README section
#   make bench-smoke                (in make test) the harness's Go tests, then
#                                   every contender once on every workload;
#                                   fails if answers differ
#
# BENCH_FLAGS passes more benchrun flags (-rounds N, -budget 0.5, -seed N).

BENCH_BUILD  := $(BUILD)/bench
BENCH_DRIVER := $(BENCH_BUILD)/driver
BENCH_GO     := $(BENCH_BUILD)/gobench
BENCH_RUN    := $(BENCH_BUILD)/benchrun
BENCH_ONLY   ?=
BENCH_FLAGS  ?=
BENCH_ARGS    = -c-driver $(BENCH_DRIVER) -go-driver $(BENCH_GO) -lib $(LIB_SO) \
	$(if $(BENCH_ONLY),-only '$(BENCH_ONLY)') $(BENCH_FLAGS)

.PHONY: bench-run bench-smoke bench-publish bench-binaries

$(BENCH_DRIVER): bench/c/driver.c bench/c/plain.c bench/c/cabi.c bench/c/common.c bench/c/bench.h $(INCLUDE_DIR)/procmapq.h tests/uapi/procmap_query.h
	@mkdir -p $(BENCH_BUILD)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -I$(INCLUDE_DIR) -o $@ bench/c/driver.c bench/c/plain.c bench/c/cabi.c bench/c/common.c -ldl -lpthread

# The Go programs live in their own module (bench/go.mod) so that
# prometheus/procfs stays out of the library's dependencies; go build's
# cache makes rebuilding them cheap. -mod=mod lets a new dependency of the
# library (reached through the replace directive) be added to bench/go.sum
# instead of failing the build.
bench-binaries: $(BENCH_DRIVER)
	$(Q)cd bench && $(GO) build -mod=mod -buildvcs=false -o ../$(BENCH_GO) ./cmd/gobench
	$(Q)cd bench && $(GO) build -mod=mod -buildvcs=false -o ../$(BENCH_RUN) ./cmd/benchrun

bench-run: lib bench-binaries ## the side-by-side benchmark (BENCH_ONLY=regexp for some workloads)
	$(Q)$(BENCH_RUN) $(BENCH_ARGS)

bench-publish: lib bench-binaries ## run the benchmark and rewrite bench/RESULTS.md, bench/results.svg, README section
	$(Q)$(BENCH_RUN) -publish $(BENCH_ARGS)

bench-smoke: lib bench-binaries ## the harness's own tests, then every benchmark contender once; fails unless all answers agree
	$(Q)cd bench && $(GO) test -mod=mod -buildvcs=false -count=1 ./...
	$(Q)$(BENCH_RUN) -quick $(BENCH_ARGS)

BENCH_TARGETS += bench-run
TEST_TARGETS  += bench-smoke

# The cost account of a one-address call (bench/README.md): plain C against
# the C ABI, thread CPU time and a perf profile split by account.py.
BENCH_COST_BIN := $(BENCH_BUILD)/cost-single
$(BENCH_COST_BIN): bench/cost/single.c $(INCLUDE_DIR)/procmapq.h tests/uapi/procmap_query.h | lib
	@mkdir -p $(BENCH_BUILD)
	$(Q)$(CC) -O2 -g -I$(INCLUDE_DIR) -o $@ $< -L$(BUILD) -lprocmapq -Wl,-rpath,$(abspath $(BUILD))

.PHONY: bench-cost
bench-cost: lib $(BENCH_COST_BIN) ## cost account of one address through the C ABI (needs perf)
	$(Q)bench/cost/run.sh $(BUILD)
