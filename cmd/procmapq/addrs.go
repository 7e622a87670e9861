package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
)

// readAddresses returns the addresses given as operands or, with -f, read
// from a file ("-" is stdin), in input order. Malformed addresses and empty
// input are usage errors that name the argument or line.
func readAddresses(e *env, file string, operands []string) ([]uint64, error) {
	switch {
	case file != "" && len(operands) > 0:
		return nil, usagef("give addresses either as arguments or with -f, not both")
	case file == "" && len(operands) == 0:
		return nil, usagef("no addresses: give ADDR arguments or -f FILE (-f - reads stdin)")
	case file == "":
		addrs := make([]uint64, len(operands))
		for i, s := range operands {
			a, why := parseAddress(s)
			if why != "" {
				return nil, usagef("argument %d: malformed address %q: %s", i+1, s, why)
			}
			addrs[i] = a
		}
		return addrs, nil
	}
	name, r := file, io.Reader(nil)
	if file == "-" {
		name, r = "stdin", e.stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, usagef("cannot read addresses: %v", err)
		}
		defer f.Close()
		r = f
	}
	return scanAddresses(name, r)
}

// scanAddresses reads one hex address per line; blank lines and lines
// starting with '#' are skipped.
func scanAddresses(name string, r io.Reader) ([]uint64, error) {
	var addrs []uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		a, why := parseAddress(s)
		if why != "" {
			return nil, usagef("%s:%d: malformed address %q: %s", name, line, s, why)
		}
		addrs = append(addrs, a)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, usagef("%s:%d: line too long", name, line+1)
		}
		return nil, usagef("reading %s: %v", name, err)
	}
	if len(addrs) == 0 {
		return nil, usagef("%s: no addresses (empty input)", name)
	}
	return addrs, nil
}

// parseAddress parses a hex address with or without "0x"; why is empty
// on success and says what is wrong otherwise.
func parseAddress(s string) (addr uint64, why string) {
	digits := s
	if len(digits) > 1 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
		digits = digits[2:]
	}
	if digits == "" {
		return 0, "no hex digits"
	}
	a, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, "more than 64 bits"
		}
		return 0, "want a hex number such as 0x7f12ab or 7f12ab"
	}
	return a, ""
}
