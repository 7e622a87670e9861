package abi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeExampleCompiles keeps the C example in README.md honest: it
// must compile against the header as C99, warnings as errors.
func TestReadmeExampleCompiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```c\n")
	if !ok {
		t.Fatal("README.md has no ```c block")
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md: unterminated ```c block")
	}
	src := filepath.Join(t.TempDir(), "readme.c")
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
		"-I../../include", "-c", src, "-o", filepath.Join(t.TempDir(), "readme.o")).CombinedOutput()
	if err != nil {
		t.Fatalf("README.md C example does not compile: %v\n%s\n%s", err, out, code)
	}
}
