#!/bin/sh
# capi/build-lib.sh - the one recipe that links libprocmapq.so.
#
#   capi/build-lib.sh [-t TAGS] [-m MAPFILE] [-o OVERLAY] OUT
#   capi/build-lib.sh -n        print the soname and exit
#
# Builds ./capi with -buildmode=c-shared into OUT, with the soname
# libprocmapq.so.<major> (the major from include/procmapq.h) and the symbol
# versions of capi/procmapq.map (or MAPFILE, a variant of it; OVERLAY is a
# go build -overlay file, for test-only exports), then removes
# the header cgo writes beside OUT (include/procmapq.h is the API).
# The Makefile (lib, the cgocheck2 library of tests/c), capi's Go tests and
# the stress fuzzers all build through here, so every test links the
# artefact that is shipped. GO (default go) and GOEXPERIMENT are taken from
# the environment; works from any directory.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
major=$(sed -n 's/^#define PROCMAPQ_VERSION_MAJOR \([0-9][0-9]*\).*/\1/p' "$root/include/procmapq.h")
[ -n "$major" ] || { echo "$0: no PROCMAPQ_VERSION_MAJOR in include/procmapq.h" >&2; exit 1; }
soname=libprocmapq.so.$major

usage() { echo "usage: $0 [-t TAGS] [-m MAPFILE] [-o OVERLAY] OUT | $0 -n" >&2; exit 2; }
tags=
overlay=
map=$root/capi/procmapq.map
while getopts nt:m:o: opt; do
	case $opt in
	n) echo "$soname"; exit 0 ;;
	t) tags=$OPTARG ;;
	m) map=$OPTARG ;;
	o) overlay=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
out=$1
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
case $map in /*) ;; *) map=$(pwd)/$map ;; esac

cd "$root"
${GO:-go} build -buildvcs=false -buildmode=c-shared ${tags:+-tags "$tags"} ${overlay:+-overlay "$overlay"} \
	-ldflags "-extldflags '-Wl,-soname,$soname -Wl,--version-script=$map'" \
	-o "$out" ./capi
rm -f "${out%.*}.h"
