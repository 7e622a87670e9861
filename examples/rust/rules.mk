# examples/rust/rules.mk - the Rust bindings (included by the top Makefile).
#
#   make test-rust   cargo test (offline, no dependencies) against the
#                    freshly built build/libprocmapq.so: struct layouts vs
#                    tests/abi/layout.c (compile time), constants and
#                    functions vs the header, and live targets
#                    (build/target) vs the tests' own maps parser; then the
#                    tests again with PROCMAPQ_FORCE_PROBE=0 (the text
#                    fallback, as on a kernel before 6.11); part of make test
#   make demo-rust   cargo run --example normalize (its own code addresses)
#
# build.rs reads PROCMAPQ_LIB_DIR (link path and rpath) and
# PROCMAPQ_ABI_LAYOUT (the layout program's output); the tests read
# PROCMAPQ_TARGET. Cargo's output goes under build/ (removed by make clean).

CARGO            ?= cargo
RUST_DIR         := examples/rust
RUST_TARGET_DIR  := $(abspath $(BUILD))/rust
RUST_SOURCES     := $(RUST_DIR)/Cargo.toml $(RUST_DIR)/build.rs $(wildcard $(RUST_DIR)/src/*.rs \
	$(RUST_DIR)/tests/*.rs $(RUST_DIR)/tests/common/*.rs $(RUST_DIR)/examples/*.rs)

# PROCMAPQ_TARGET_BIN (build/target) comes from tests/c/rules.mk; without
# it the tests compile tests/target/target.c themselves.
RUST_ENV := PROCMAPQ_LIB_DIR=$(abspath $(BUILD)) \
	PROCMAPQ_ABI_LAYOUT=$(abspath $(ABI_LAYOUT_TXT)) \
	PROCMAPQ_TARGET=$(if $(PROCMAPQ_TARGET_BIN),$(abspath $(PROCMAPQ_TARGET_BIN))) \
	CARGO_TARGET_DIR=$(RUST_TARGET_DIR)

.PHONY: test-rust demo-rust rust-check-tools

rust-check-tools:
	@command -v $(CARGO) >/dev/null 2>&1 || \
		{ echo "test-rust: $(CARGO) not found (install Rust >= 1.85: rustup or apt-get install cargo)"; exit 1; }

test-rust: rust-check-tools lib $(ABI_LAYOUT_TXT) $(PROCMAPQ_TARGET_BIN) $(RUST_SOURCES) ## Rust bindings: cargo test on live targets
	$(Q)cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) test --offline --quiet
	$(Q)cd $(RUST_DIR) && $(RUST_ENV) PROCMAPQ_FORCE_PROBE=0 $(CARGO) test --offline --quiet --tests

demo-rust: rust-check-tools lib $(ABI_LAYOUT_TXT) ## Rust example: normalize its own code addresses
	$(Q)cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) run --offline --quiet --example normalize

TEST_TARGETS += test-rust
DEMO_TARGETS += demo-rust
