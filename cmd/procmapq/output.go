package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/libprocmapq/libprocmapq/core"
)

// hexAddr renders an address or offset as 0x-prefixed lowercase hex.
func hexAddr(a uint64) string { return "0x" + strconv.FormatUint(a, 16) }

// displayName renders a mapping name on one line as the maps file does
// (a newline becomes \012); "-" stands for no name.
func displayName(name []byte) string {
	if len(name) == 0 {
		return "-"
	}
	return string(bytes.ReplaceAll(name, []byte{'\n'}, []byte(`\012`)))
}

// buildIDText is the hex build ID, or "-" for none.
func buildIDText(id []byte) string {
	if len(id) == 0 {
		return "-"
	}
	return hex.EncodeToString(id)
}

// vmaJSON is a VMA for --json. Addresses are hex strings because JSON
// numbers lose precision above 2^53.
type vmaJSON struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	Perms    string `json:"perms"`
	Offset   string `json:"offset"`
	Dev      string `json:"dev"`
	Inode    uint64 `json:"inode"`
	PageSize uint64 `json:"page_size,omitempty"` // 0 (omitted): the text backend does not know it
	Kind     string `json:"kind"`
	// Name is the exact name with raw newlines. A name that is not valid
	// UTF-8 is also given byte for byte in NameBase64, since JSON strings
	// cannot carry it.
	Name       string   `json:"name"`
	NameBase64 []byte   `json:"name_base64,omitempty"`
	Flags      []string `json:"flags,omitempty"`
	BuildID    string   `json:"build_id,omitempty"`
}

func newVMAJSON(v *core.VMA) *vmaJSON {
	j := &vmaJSON{
		Start:    hexAddr(v.Start),
		End:      hexAddr(v.End),
		Perms:    v.Perms.String(),
		Offset:   hexAddr(v.Offset),
		Dev:      fmt.Sprintf("%02x:%02x", v.DevMajor, v.DevMinor),
		Inode:    v.Inode,
		PageSize: v.PageSize,
		Kind:     v.Kind.String(),
		Name:     string(v.Name),
		Flags:    flagNames(v.Flags, vmaFlagTable),
	}
	if !utf8.Valid(v.Name) {
		j.NameBase64 = bytes.Clone(v.Name)
	}
	if len(v.BuildID) > 0 {
		j.BuildID = hex.EncodeToString(v.BuildID)
	}
	return j
}

// flagName names one bit of a flag set, for --json.
type flagName[T ~uint8] struct {
	bit  T
	name string
}

func flagNames[T ~uint8](f T, table []flagName[T]) []string {
	var names []string
	for _, fn := range table {
		if f&fn.bit != 0 {
			names = append(names, fn.name)
		}
	}
	return names
}

var vmaFlagTable = []flagName[core.VMAFlags]{
	{core.FlagDeleted, "deleted"},
	{core.FlagNameAmbiguous, "name-ambiguous"},
	{core.FlagNameUnavailable, "name-unavailable"},
}

var metaFlagTable = []flagName[core.MetaFlags]{
	{core.MetaDeleted, "deleted"},
	{core.MetaFileUnavailable, "file-unavailable"},
	{core.MetaDevUnverified, "dev-unverified"},
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
