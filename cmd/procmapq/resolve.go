package main

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/libprocmapq/libprocmapq/core"
)

const resolveHelp = `
Resolves each address to the mapping that covers it and prints one line
per address, in input order:

  ADDR START-END PERMS FILE_OFFSET [BUILD_ID] NAME
  ADDR unresolved REASON            (REASON: unmapped or process-gone)

FILE_OFFSET is ADDR - START + the mapping's offset. NAME is written as in
/proc/PID/maps (a newline in a path as \012), "-" when the mapping has
none. BUILD_ID (with --build-ids) is hex, "-" when there is none; the
kernel reports it only through the ioctl backend.

With --normalize, addresses are normalized for symbolization instead:

  ADDR elf FILE_OFFSET [BUILD_ID] PATH
  ADDR vdso FILE_OFFSET [BUILD_ID] [vdso]
  ADDR unknown REASON               (REASON: unmapped, anonymous, unsupported, ...)

Addresses are hex, with or without 0x, given as arguments or one per line
with -f (blank lines and lines starting with # are skipped).`

func runResolve(e *env, args []string) int {
	fs := newFlagSet("resolve", "resolve -p PID [-f FILE|-] [options] [ADDR...]", resolveHelp)
	pidArg, file, backendArg := fs.pidFlag(), fs.fileFlag(), fs.backendFlag()
	buildIDs := fs.Bool("build-ids", false, "add the build-ID column")
	normalize := fs.Bool("normalize", false, "print normalized (file offset, ELF path, build ID) answers")
	asJSON := fs.Bool("json", false, "print one JSON document instead of lines")
	operands, code, done := fs.start(e, args)
	if done {
		return code
	}
	pid, backend, err := parseTarget(*pidArg, *backendArg)
	if err != nil {
		return fail(e, err)
	}
	addrs, err := readAddresses(e, *file, operands)
	if err != nil {
		return fail(e, err)
	}
	noteFallback(e, backend)
	h, err := core.Open(pid)
	if err != nil {
		return fail(e, err)
	}
	defer h.Close()

	out := bufio.NewWriter(e.stdout)
	if *normalize {
		opts := core.NormalizeOptions{Backend: backend, BuildIDs: *buildIDs}
		var res core.Normalized
		qerr := h.Normalize(addrs, &opts, &res)
		if !core.AnswersComplete(qerr) {
			return fail(e, qerr)
		}
		if *asJSON {
			err = writeJSON(out, normalizedJSON(pid, backend, addrs, &res))
		} else {
			writeNormalizedLines(out, addrs, &res, *buildIDs)
		}
		return finish(e, out, cmp.Or(qerr, err)) // one message: the target's, else the write's
	}
	opts := core.Options{Backend: backend, BuildIDs: *buildIDs}
	var res core.Result
	qerr := h.Query(addrs, &opts, &res)
	if !core.AnswersComplete(qerr) {
		return fail(e, qerr)
	}
	if *asJSON {
		err = writeJSON(out, resolvedJSON(pid, backend, addrs, &res))
	} else {
		writeResolvedLines(out, addrs, &res, *buildIDs)
	}
	return finish(e, out, cmp.Or(qerr, err)) // one message: the target's, else the write's
}

// finish flushes the results printed so far, then reports err if any: a
// target that went away mid-batch still gets its answered addresses out.
func finish(e *env, out *bufio.Writer, err error) int {
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return fail(e, err)
	}
	return exitOK
}

func writeResolvedLines(w io.Writer, addrs []uint64, res *core.Result, buildIDs bool) {
	for i, a := range addrs {
		v, reason := res.Found(i)
		if v == nil {
			fmt.Fprintf(w, "%s unresolved %s\n", hexAddr(a), reason)
			continue
		}
		fmt.Fprintf(w, "%s %08x-%08x %s %s ", hexAddr(a), v.Start, v.End, v.Perms, hexAddr(v.FileOffset(a)))
		if buildIDs {
			fmt.Fprintf(w, "%s ", buildIDText(v.BuildID))
		}
		fmt.Fprintf(w, "%s\n", displayName(v.Name))
	}
}

func writeNormalizedLines(w io.Writer, addrs []uint64, res *core.Normalized, buildIDs bool) {
	for i, a := range addrs {
		o := &res.Outputs[i]
		m := &res.Metas[o.Meta]
		if m.Kind == core.MetaUnknown {
			fmt.Fprintf(w, "%s unknown %s\n", hexAddr(a), m.Reason)
			continue
		}
		fmt.Fprintf(w, "%s %s %s ", hexAddr(a), m.Kind, hexAddr(o.FileOffset))
		if buildIDs {
			fmt.Fprintf(w, "%s ", buildIDText(m.BuildID))
		}
		fmt.Fprintf(w, "%s\n", displayName(m.Path))
	}
}

// batchJSON is the --json document of resolve.
type batchJSON struct {
	Pid      int    `json:"pid"`
	Backend  string `json:"backend"`
	Strategy string `json:"strategy"`
	Syscalls int    `json:"syscalls,omitempty"`
	Results  any    `json:"results"`
}

type resolvedAddrJSON struct {
	Address    string   `json:"address"`
	Found      bool     `json:"found"`
	Reason     string   `json:"reason,omitempty"`
	FileOffset string   `json:"file_offset,omitempty"`
	VMA        *vmaJSON `json:"vma,omitempty"`
}

func resolvedJSON(pid int, b core.Backend, addrs []uint64, res *core.Result) *batchJSON {
	out := make([]resolvedAddrJSON, len(addrs))
	for i, a := range addrs {
		v, reason := res.Found(i)
		out[i] = resolvedAddrJSON{Address: hexAddr(a), Found: v != nil}
		if v == nil {
			out[i].Reason = reason.String()
			continue
		}
		out[i].FileOffset = hexAddr(v.FileOffset(a))
		out[i].VMA = newVMAJSON(v)
	}
	return &batchJSON{Pid: pid, Backend: b.String(), Strategy: res.Strategy.String(), Syscalls: res.Syscalls, Results: out}
}

type normalizedAddrJSON struct {
	Address       string   `json:"address"`
	Kind          string   `json:"kind"`
	Reason        string   `json:"reason,omitempty"`
	FileOffset    string   `json:"file_offset,omitempty"`
	Path          string   `json:"path,omitempty"`
	BuildID       string   `json:"build_id,omitempty"`
	BuildIDSource string   `json:"build_id_source,omitempty"`
	Dev           string   `json:"dev,omitempty"`
	Inode         uint64   `json:"inode,omitempty"`
	Flags         []string `json:"flags,omitempty"`
}

func normalizedJSON(pid int, b core.Backend, addrs []uint64, res *core.Normalized) *batchJSON {
	out := make([]normalizedAddrJSON, len(addrs))
	for i, a := range addrs {
		o := &res.Outputs[i]
		m := &res.Metas[o.Meta]
		j := normalizedAddrJSON{Address: hexAddr(a), Kind: m.Kind.String()}
		if m.Kind == core.MetaUnknown {
			j.Reason = m.Reason.String()
		} else {
			j.FileOffset, j.Path, j.Flags = hexAddr(o.FileOffset), string(m.Path), flagNames(m.Flags, metaFlagTable)
			if m.Kind == core.MetaELF {
				j.Dev, j.Inode = fmt.Sprintf("%02x:%02x", m.DevMajor, m.DevMinor), m.Inode
			}
			if len(m.BuildID) > 0 {
				j.BuildID, j.BuildIDSource = hex.EncodeToString(m.BuildID), m.BuildIDSource.String()
			}
		}
		out[i] = j
	}
	return &batchJSON{Pid: pid, Backend: b.String(), Strategy: res.Strategy.String(), Results: out}
}
