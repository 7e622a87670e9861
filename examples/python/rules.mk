# examples/python/rules.mk - the Python ctypes bindings (included by the top
# Makefile).
#
#   make test-python   unittest against the freshly built library: struct
#                      layouts vs tests/abi/layout.c, constants and
#                      signatures vs the header, live targets (build/target)
#                      vs the tests' own maps parser, compare.py as a user
#                      runs it; then again with PROCMAPQ_FORCE_PROBE=0 (the
#                      text fallback, as on a kernel before 6.11); part of
#                      make test
#   make demo-python   compare.py on a live process (the make shell)
#   make micro-python  microbench.py: lookup / query / query_bulk against C
#                      loops (raw ioctl, C ABI) timed in the same process

PYTHON     ?= python3
PYTHON_DIR := examples/python

# PROCMAPQ_TARGET_BIN (build/target) comes from tests/c/rules.mk; without
# it the tests compile tests/target/target.c themselves.
PYTHON_ENV := PYTHONDONTWRITEBYTECODE=1 \
	PROCMAPQ_LIBRARY=$(abspath $(LIB_SO)) \
	PROCMAPQ_ABI_LAYOUT=$(abspath $(ABI_LAYOUT_TXT)) \
	PROCMAPQ_TARGET=$(if $(PROCMAPQ_TARGET_BIN),$(abspath $(PROCMAPQ_TARGET_BIN)))

.PHONY: test-python demo-python micro-python

test-python: lib $(ABI_LAYOUT_TXT) $(PROCMAPQ_TARGET_BIN) ## Python bindings: unittest on live targets (ioctl and fallback)
	$(Q)cd $(PYTHON_DIR) && $(PYTHON_ENV) $(PYTHON) -m unittest test_procmapq
	$(Q)cd $(PYTHON_DIR) && $(PYTHON_ENV) PROCMAPQ_FORCE_PROBE=0 $(PYTHON) -m unittest test_procmapq

demo-python: lib ## Python example: compare.py on a live process
	$(Q)cd $(PYTHON_DIR) && $(PYTHON_ENV) $(PYTHON) compare.py $$$$ --differences-only

micro-python: lib $(PROCMAPQ_TARGET_BIN) ## Python binding vs C loops in one process (MICRO_ROUNDS, default 60)
	$(Q)cd $(PYTHON_DIR) && $(PYTHON_ENV) $(PYTHON) microbench.py $(or $(MICRO_ROUNDS),60)

TEST_TARGETS += test-python
DEMO_TARGETS += demo-python
