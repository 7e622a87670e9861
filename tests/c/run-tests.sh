#!/bin/sh
# run-tests.sh LABEL PROGRAM... - run standalone C test programs, each with
# exit status 0 (pass), 77 (skip) or anything else (fail), print one line
# per program and a summary, and fail if any program failed.
label=$1
shift
passed=0 failed=0 skipped=0
for prog in "$@"; do
	start=$(date +%s.%N)
	"$prog"
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
	case $rc in
	0) passed=$((passed + 1)); verdict=PASS ;;
	77) skipped=$((skipped + 1)); verdict=SKIP ;;
	*) failed=$((failed + 1)); verdict="FAIL (exit $rc)" ;;
	esac
	printf '%s: %-28s %s  %ss\n' "$label" "$(basename "$prog")" "$verdict" "$secs"
done
echo "$label: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
