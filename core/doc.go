// Package core answers "which mapping covers this address, at which file
// offset, in which file with which build ID?" for any Linux process.
//
// A [Handle] is one target address space, kept open between calls. It is
// opened by pid ([Open]), from a maps file descriptor handed over by the
// target ([OpenFD]), or from a captured maps text ([OpenText]). Queries are
// answered by one of two backends:
//
//   - the PROCMAP_QUERY ioctl (Linux 6.11+), one system call per distinct VMA
//     touched, with permission and file-backed filters applied in the kernel;
//   - the text backend, which reads the whole /proc/<pid>/maps file into a
//     reused buffer and parses it without allocating per line.
//
// The default backend, [BackendAuto], chooses per call from a cost model
// calibrated on the running machine, and falls back to text on kernels
// without the ioctl. Every backend returns the same [VMA] values, apart from
// the documented differences that [Handle.Compare] classifies as expected
// (see [DiffKind]).
//
// All methods of a Handle are safe for concurrent use. The package is pure
// Go and builds with CGO_ENABLED=0.
package core
