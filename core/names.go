package core

import (
	"strconv"
	"strings"
)

// The enums of this package (Backend, Strategy, Reason, Kind, DiffKind,
// MetaKind, UnknownReason, BuildIDSource) name their values through these
// two helpers, so that every String method and parser follows one rule: a
// value without a name prints as what(N), and a parser accepts exactly
// the names.

// enumName returns names[v], or "what(v)" for a value without a name.
func enumName[T ~uint8](names []string, v T, what string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return what + "(" + strconv.Itoa(int(v)) + ")"
}

// parseEnum returns the value named s, or an error wrapping
// ErrInvalidArgument that lists the names.
func parseEnum[T ~uint8](names []string, s, what string) (T, error) {
	for i, n := range names {
		if s == n {
			return T(i), nil
		}
	}
	return 0, invalidf("unknown %s %q (want one of %s)", what, s, strings.Join(names, ", "))
}
