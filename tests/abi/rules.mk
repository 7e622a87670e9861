# tests/abi: the struct layout program. Its output, build/abi-layout.txt
# ("struct NAME SIZE" / "field NAME.FIELD OFFSET" lines), is what the Rust
# and Python bindings check their mirrors against; the Go test in this
# directory checks it against cgo and pinned strides.

ABI_LAYOUT_BIN := $(BUILD)/abi-layout
ABI_LAYOUT_TXT := $(BUILD)/abi-layout.txt

$(ABI_LAYOUT_BIN): tests/abi/layout.c $(HEADER)
	@mkdir -p $(BUILD)
	$(Q)$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Wpadded -I$(INCLUDE_DIR) $< -o $@

$(ABI_LAYOUT_TXT): $(ABI_LAYOUT_BIN)
	$(Q)$< > $@

.PHONY: abi-layout
abi-layout: $(ABI_LAYOUT_TXT) ## build/abi-layout.txt: sizes and offsets of the public structs

BUILD_TARGETS += abi-layout
