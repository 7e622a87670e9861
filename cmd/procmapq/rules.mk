# cmd/procmapq/rules.mk: the procmapq command-line tool. Included by the
# top-level Makefile; build/procmapq joins BUILD_TARGETS.
GO ?= go

# Phony on purpose: go build knows better than make when to rebuild.
.PHONY: procmapq build/procmapq
procmapq: build/procmapq ## build the procmapq command-line tool
build/procmapq:
	@mkdir -p build
	$(GO) build -o $@ ./cmd/procmapq

BUILD_TARGETS += build/procmapq
