package core

// kernelBuildID appends to dst the build ID PROCMAP_QUERY reports for the
// file v maps (one ioctl at v.Start, nothing when the kernel has none). ok
// is false when the ioctl cannot be used (kernel older than 6.11, text
// snapshot, target gone) or the VMA changed since it was found.
//
// Files are located and read by core/internal/locator, which never asks
// the kernel: Normalize joins the two (normalize.go).
func (h *Handle) kernelBuildID(v *VMA, dst []byte) (_ []byte, ok bool) {
	if h.kind == kindText || h.lockOpen("normalize") != nil {
		return dst, false
	}
	defer h.mu.Unlock()
	if h.gone || !h.ioctlUsable() {
		return dst, false
	}
	b := h.buffers()
	if b.doQuery(h.fd, v.Start, 0, true) != 0 {
		return dst, false
	}
	q := &b.q
	if q.VMAStart != v.Start || q.VMAEnd != v.End || q.Inode != v.Inode || q.DevMajor != v.DevMajor ||
		q.DevMinor != v.DevMinor || q.BuildIDSz > buildIDMax {
		return dst, false
	}
	return append(dst, b.buildID[:q.BuildIDSz]...), true
}
