package main

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/libprocmapq/libprocmapq/core"
)

const mapsHelp = `
Prints the process's mappings in the exact format of /proc/PID/maps, so the
output can be diffed against the kernel's file. The ioctl backend differs
from the file only as the kernel documents: it never shows [vsyscall], and
it cannot return names of PATH_MAX bytes or more (such lines have no name,
with a note on stderr).

--page-size and --build-ids put extra columns in front of each line,
separated by single spaces, so 'cut -d" " -f3-' gives back the maps line.
The page size and the build ID come from the ioctl ("-" when unknown).
--exec and --file-backed filter as the kernel does: --exec keeps every
executable mapping, --file-backed every mapping of a file (memfd, shared
anonymous memory and SysV shm included). With a filter (or --page-size,
--build-ids) the auto backend may walk the ioctl, so [vsyscall] can be
missing; --backend text always prints the file's lines.`

func runMaps(e *env, args []string) int {
	fs := newFlagSet("maps", "maps -p PID [options]", mapsHelp)
	pidArg, backendArg := fs.pidFlag(), fs.backendFlag()
	execOnly := fs.Bool("exec", false, "only executable mappings")
	fileBacked := fs.Bool("file-backed", false, "only mappings of a file")
	pageSize := fs.Bool("page-size", false, "add a page-size column (needs the ioctl)")
	buildIDs := fs.Bool("build-ids", false, "add a build-ID column (needs the ioctl)")
	asJSON := fs.Bool("json", false, "print a JSON array of mappings")
	operands, code, done := fs.start(e, args)
	if done {
		return code
	}
	if len(operands) > 0 {
		return fail(e, usagef("maps: unexpected argument %q", operands[0]))
	}
	pid, backend, err := parseTarget(*pidArg, *backendArg)
	if err != nil {
		return fail(e, err)
	}
	noteFallback(e, backend)
	opts := core.Options{Backend: backend, BuildIDs: *buildIDs}
	if *execOnly {
		opts.Filter.Perms = core.PermExec
	}
	opts.Filter.FileBacked = *fileBacked
	if (*pageSize || *buildIDs) && backend == core.BackendText {
		fmt.Fprintln(e.stderr, "procmapq: note: the text backend has no page sizes or build IDs; those columns show \"-\"")
	}
	if *pageSize && backend == core.BackendAuto {
		// Only the ioctl reports page sizes: ask for it when the kernel has it.
		if ok, _ := core.SupportsProcmapQuery(); ok {
			opts.Backend = core.BackendIoctl
		}
	}
	h, err := core.Open(pid)
	if err != nil {
		return fail(e, err)
	}
	defer h.Close()
	var res core.Result
	if err := h.Enumerate(&opts, &res); err != nil {
		return fail(e, err)
	}

	out := bufio.NewWriter(e.stdout)
	if *asJSON {
		vmas := make([]*vmaJSON, len(res.VMAs))
		for i := range res.VMAs {
			vmas[i] = newVMAJSON(&res.VMAs[i])
		}
		return finish(e, out, writeJSON(out, vmas))
	}
	var line []byte
	for i := range res.VMAs {
		v := &res.VMAs[i]
		line = line[:0]
		if *pageSize {
			if v.PageSize == 0 {
				line = append(line, "- "...)
			} else {
				line = strconv.AppendUint(line, v.PageSize, 10)
				line = append(line, ' ')
			}
		}
		if *buildIDs {
			line = append(line, buildIDText(v.BuildID)...)
			line = append(line, ' ')
		}
		line = v.AppendMapsLine(line)
		out.Write(line)
		if v.Flags&core.FlagNameUnavailable != 0 {
			fmt.Fprintf(e.stderr, "procmapq: note: pid %d: mapping %x-%x: its path is PATH_MAX bytes or longer, which the ioctl cannot return (--backend text shows it)\n", pid, v.Start, v.End)
		}
	}
	return finish(e, out, nil)
}
