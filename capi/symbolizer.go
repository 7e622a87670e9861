//go:build !procmapq_nosymbolizer

package main

// cgosymbolizer makes a crash inside C code called from Go (a cgo call)
// print symbolized C frames in the Go traceback. The tag
// procmapq_nosymbolizer leaves it out (capi tests build both ways to show
// the difference).
import _ "github.com/ianlancetaylor/cgosymbolizer"
