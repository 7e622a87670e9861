module github.com/libprocmapq/libprocmapq/bench

go 1.26.0

replace github.com/libprocmapq/libprocmapq => ../

require (
	github.com/libprocmapq/libprocmapq v0.0.0
	github.com/prometheus/procfs v0.23.0
	golang.org/x/sys v0.50.0
)
