# examples/c/rules.mk - the C example (included by the top Makefile).
#
#   make demo   builds build/examples/c/symbolize and runs it twice: on its
#               own process (known function names: its own functions, libc
#               via dlsym, libprocmapq, the vDSO) and on a spawned
#               build/target with 3 executable "modules".
#
# It shares the maps parser, the target spawner and the VMA comparison with
# tests/c (one copy of each).

EXAMPLES_C_OUT     := $(BUILD)/examples/c
EXAMPLES_C_BIN     := $(EXAMPLES_C_OUT)/symbolize
EXAMPLES_C_HELPERS := tests/c/mapsparse.c tests/c/spawn.c tests/c/vmacheck.c
EXAMPLES_C_HEADERS := tests/c/mapsparse.h tests/c/spawn.h tests/c/vmacheck.h $(INCLUDE_DIR)/procmapq.h

$(EXAMPLES_C_BIN): examples/c/symbolize.c $(EXAMPLES_C_HELPERS) $(EXAMPLES_C_HEADERS) | lib
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -Werror -I$(INCLUDE_DIR) -Itests/c -o $@ $< \
		$(EXAMPLES_C_HELPERS) -L$(BUILD) -lprocmapq -Wl,-rpath,$(abspath $(BUILD)) -ldl

# The target program rule lives in tests/c/rules.mk (defined once, guarded
# by PROCMAPQ_TARGET_BIN); define it here too if that file is absent.
ifndef PROCMAPQ_TARGET_BIN
PROCMAPQ_TARGET_BIN := $(BUILD)/target
$(PROCMAPQ_TARGET_BIN): tests/target/target.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -std=gnu11 -Wall -Wextra -o $@ $<
endif

.PHONY: demo-c
demo-c: $(EXAMPLES_C_BIN) $(PROCMAPQ_TARGET_BIN) lib ## the C symbolizer example, on itself and on a spawned target
	@echo "== symbolize (its own process)"
	$(Q)$(EXAMPLES_C_BIN)
	@echo
	@echo "== symbolize --spawn (a live target with 3 r-x modules)"
	$(Q)PROCMAPQ_TARGET=$(PROCMAPQ_TARGET_BIN) $(EXAMPLES_C_BIN) --spawn

DEMO_TARGETS  += demo-c
BUILD_TARGETS += $(EXAMPLES_C_BIN)
