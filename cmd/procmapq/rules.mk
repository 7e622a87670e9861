# cmd/procmapq/rules.mk: the procmapq command-line tool, included by the
# top-level Makefile (which sets BUILD, GO and Q); $(BUILD)/procmapq joins
# BUILD_TARGETS. The tool needs only package core, not the C library.
PROCMAPQ_TOOL := $(BUILD)/procmapq

# Phony on purpose: go build knows better than make when to rebuild.
.PHONY: procmapq $(PROCMAPQ_TOOL)
procmapq: $(PROCMAPQ_TOOL) ## build the procmapq command-line tool
$(PROCMAPQ_TOOL):
	@mkdir -p $(BUILD)
	$(Q)$(GO) build -o $@ ./cmd/procmapq

BUILD_TARGETS += $(PROCMAPQ_TOOL)
