package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSpecRoundTrip(t *testing.T) {
	dir := t.TempDir()
	addrsPath := filepath.Join(dir, "a.addrs")
	addrs := []uint64{0x1000, 0x7fff12345678, 0xffffffffff600000}
	if err := WriteAddrs(addrsPath, addrs); err != nil {
		t.Fatal(err)
	}
	textPath := filepath.Join(dir, "maps")
	text := []byte("00400000-00401000 r-xp 00000000 08:01 12 /bin/x\n")
	if err := os.WriteFile(textPath, text, 0o644); err != nil {
		t.Fatal(err)
	}
	in := &Spec{Lib: "/x/libprocmapq.so", Contenders: []string{"c-limit", "go-auto"}, Workloads: []*Workload{
		{Name: "q", Kind: KindQuery, Pid: 42, Iters: 10, BudgetMs: 5, Arg: addrsPath},
		{Name: "e", Kind: KindEnum, Pid: 42, OpenEach: true, Iters: 1, Arg: "exec"},
		{Name: "b", Kind: KindBlazesym},
		{Name: "p", Kind: KindParse, Pid: 42, Iters: 3, Arg: textPath},
	}}
	var buf bytes.Buffer
	if err := in.Write(&buf); err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, "spec")
	if err := os.WriteFile(specPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Read(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if out.Lib != in.Lib || !slices.Equal(out.Contenders, in.Contenders) || len(out.Workloads) != 4 {
		t.Fatalf("read back %+v from\n%s", out, buf.String())
	}
	q, e, b := out.Workloads[0], out.Workloads[1], out.Workloads[2]
	if q.Pid != 42 || q.Iters != 10 || q.BudgetMs != 5 || !slices.Equal(q.Addrs, addrs) {
		t.Errorf("query workload read back as %+v", q)
	}
	if !e.OpenEach || !e.ExecOnly() || e.Kind != KindEnum {
		t.Errorf("enum workload read back as %+v", e)
	}
	if b.Kind != KindBlazesym || b.Arg != "-" {
		t.Errorf("blazesym workload read back as %+v", b)
	}
	if p := out.Workloads[3]; p.Kind != KindParse || !bytes.Equal(p.Text, text) {
		t.Errorf("parse workload read back as %+v", p)
	}
}

// The digest must not depend on anything but the fields it covers, and
// must tell every field apart: a change in any one changes it.
func TestDigestCoversEveryField(t *testing.T) {
	base := VMA{Start: 0x1000, End: 0x3000, Offset: 0x2000, Inode: 7, Major: 8, Minor: 1, Perms: 5, Name: []byte("/lib/x.so")}
	ref := MixVMA(DigestSeed, &base)
	if again := MixVMA(DigestSeed, &VMA{Start: 0x1000, End: 0x3000, Offset: 0x2000, Inode: 7, Major: 8, Minor: 1, Perms: 5, Name: []byte("/lib/x.so")}); again != ref {
		t.Fatal("same VMA, different digest")
	}
	for name, change := range map[string]func(*VMA){
		"start": func(v *VMA) { v.Start++ }, "end": func(v *VMA) { v.End++ }, "offset": func(v *VMA) { v.Offset++ },
		"inode": func(v *VMA) { v.Inode++ }, "major": func(v *VMA) { v.Major++ }, "minor": func(v *VMA) { v.Minor++ },
		"perms": func(v *VMA) { v.Perms ^= 8 }, "name": func(v *VMA) { v.Name = []byte("/lib/y.so") },
	} {
		v := base
		change(&v)
		if MixVMA(DigestSeed, &v) == ref {
			t.Errorf("changing %s leaves the digest unchanged", name)
		}
	}
	if MixMissing(DigestSeed) == ref {
		t.Error("a missing VMA digests like a found one")
	}
}

func TestRunParse(t *testing.T) {
	out := strings.Join([]string{
		"digest w c-limit 00000000000000ab 5 2",
		"samples w c-limit 100 200 300",
		"cold w c-limit 900",
		"samples w c-limit 400",
		"info w cabi-auto strategy=point-ioctl",
		"extra load_threads_added 5",
		"note c-abi-unavailable why",
		"error w go-text boom",
	}, "\n")
	r := NewRun()
	if err := r.Parse("c", strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	if got := r.Samples["w"]["c-limit"]; !slices.Equal(got, []float64{100, 200, 300, 400}) {
		t.Errorf("samples = %v", got)
	}
	if got := r.Cold["w"]["c-limit"]; !slices.Equal(got, []float64{900}) {
		t.Errorf("cold = %v", got)
	}
	if d := r.Digests["w"]["c-limit"]; len(d) != 1 || d[0] != (Digest{"00000000000000ab", 5, 2}) {
		t.Errorf("digests = %v", d)
	}
	if r.Info["w"]["cabi-auto"]["strategy"] != "point-ioctl" || len(r.Extras["load_threads_added"]) != 1 {
		t.Errorf("info %v extras %v", r.Info, r.Extras)
	}
	if len(r.Notes) != 1 || len(r.Errors) != 1 {
		t.Errorf("notes %v errors %v", r.Notes, r.Errors)
	}
	if err := r.Parse("c", strings.NewReader("samples w x notanumber")); err == nil {
		t.Error("a bad sample was accepted")
	}
}
