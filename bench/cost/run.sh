#!/usr/bin/env bash
# run.sh - the cost account of a one-address call (bench/README.md, "Cost
# account"): the thread CPU time per call of plain C (one PROCMAP_QUERY on a
# kept fd) and of procmapq_query through the C ABI, measured alternately
# (medians of ROUNDS), then a perf profile of each split by account.py.
# Needs perf (Debian: linux-perf).  Usage: run.sh BUILD_DIR [CALLS] [ROUNDS]
set -euo pipefail
build=$1 calls=${2:-200000} rounds=${3:-7}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/cost-single
command -v perf >/dev/null || { echo "run.sh: perf is needed (apt-get install linux-perf)" >&2; exit 2; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
declare -A t
for mode in limit cabi empty; do : >"$build/bench/cost-$mode.txt"; done
for _ in $(seq "$rounds"); do
	for mode in limit cabi empty; do
		"$bin" "$mode" "$calls" >>"$build/bench/cost-$mode.txt"
	done
done
for mode in limit cabi empty; do t[$mode]=$(median <"$build/bench/cost-$mode.txt"); done
echo "thread CPU time per call, medians of $rounds alternating runs of $calls calls:"
echo "  plain C limit ${t[limit]} ns; C ABI one address ${t[cabi]} ns ($(awk "BEGIN {printf \"%.2f\", ${t[cabi]}/${t[limit]}}")x); C ABI empty batch ${t[empty]} ns"
echo "getppid: $(awk 'BEGIN{}' /dev/null)$(python3 -c 'import os,time
n=200000;t=time.thread_time_ns()
for _ in range(n): os.getppid()
print(round((time.thread_time_ns()-t)/n), "ns from Python (upper bound)")')"
for mode in limit cabi; do
	perf record -q -F 20000 --call-graph dwarf,16384 -o "$build/bench/cost-$mode.data" "$bin" "$mode" $((calls / 4)) >/dev/null 2>&1
	perf script -i "$build/bench/cost-$mode.data" -F comm,tid,ip,sym,dso 2>/dev/null |
		python3 "$here/account.py" --ns "${t[$mode]}" --title "$mode: where one call's time goes"
	echo
done
