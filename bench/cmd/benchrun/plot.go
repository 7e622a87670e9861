package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// series is one line of a plot panel.
type series struct {
	contender, label, color, dash string
}

type panel struct {
	group, title string
}

var plotPanels = []panel{
	{"sparse", "100 addresses in 10 modules"},
	{"enum-all", "full enumeration"},
	{"enum-exec", "executable VMAs only"},
}

// plotSeries picks libprocmapq's three backends through the C ABI (or the
// Go core when the library was not there) and the two C references.
func (rep *report) plotSeries() []series {
	impl := "go"
	if slices.Contains(rep.contenders, "cabi-auto") {
		impl = "cabi"
	}
	return []series{
		{impl + "-text", impl + "-text", "#d62728", ""},
		{impl + "-ioctl", impl + "-ioctl", "#1f77b4", ""},
		{impl + "-auto", impl + "-auto", "#2ca02c", ""},
		{"c-limit", "c-limit (physical limit)", "#222222", "6,4"},
		{"c-fastparse", "c-fastparse (best C text)", "#888888", "2,3"},
	}
}

// plot draws time per call against the number of VMAs, log-log, one
// panel per workload group, as a self-contained SVG.
func (rep *report) plot() string {
	const (
		pw, ph       = 300.0, 230.0 // plot area of a panel
		left, top    = 70.0, 52.0
		gap          = 75.0
		legendHeight = 50.0
	)
	ss := rep.plotSeries()
	width := left + float64(len(plotPanels))*(pw+gap)
	height := top + ph + 45 + legendHeight
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14" font-weight="bold">Median time per call against the number of VMAs in the target (log-log; lower is better)</text>`+"\n", left)
	for pi, p := range plotPanels {
		x0 := left + float64(pi)*(pw+gap)
		type pt struct{ x, y float64 }
		lines := map[string][]pt{}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, t := range rep.tables {
			if t.w.Group != p.group || t.vmas == 0 {
				continue
			}
			for _, s := range ss {
				if m := t.median(s.contender); m > 0 {
					lines[s.contender] = append(lines[s.contender], pt{float64(t.vmas), m})
					lo, hi = math.Min(lo, m), math.Max(hi, m)
				}
			}
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", x0, top-8, p.title)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", x0, top, pw, ph)
		if math.IsInf(lo, 1) {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">no data</text>`+"\n", x0+pw/2-25, top+ph/2)
			continue
		}
		xlo, xhi := 1.9, 4.5
		ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if yhi == ylo {
			yhi++
		}
		px := func(v float64) float64 { return x0 + (math.Log10(v)-xlo)/(xhi-xlo)*pw }
		py := func(v float64) float64 { return top + ph - (math.Log10(v)-ylo)/(yhi-ylo)*ph }
		for e := 2.0; e <= 4; e++ {
			x := px(math.Pow(10, e))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/>`+"\n", x, top, x, top+ph)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, map[float64]string{2: "100", 3: "1,000", 4: "10,000"}[e])
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">VMAs in the target</text>`+"\n", x0+pw/2, top+ph+34)
		for e := ylo; e <= yhi; e++ {
			y := py(math.Pow(10, e))
			fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", x0, y, x0+pw, y)
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-4, y+4, decadeLabel(e))
		}
		for _, s := range ss {
			pts := lines[s.contender]
			if len(pts) == 0 {
				continue
			}
			slices.SortFunc(pts, func(a, b pt) int { return int(a.x - b.x) })
			var coords []string
			for _, q := range pts {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", px(q.x), py(q.y)))
			}
			dash := ""
			if s.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), s.color, dash)
			for _, q := range pts {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s at %.0f VMAs</title></circle>`+"\n",
					px(q.x), py(q.y), s.color, s.contender, fmtNs(q.y), q.x)
			}
		}
	}
	ly := top + ph + 60
	lx := left
	for _, s := range ss {
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+28, ly, s.color, dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", lx+34, ly+4, s.label)
		lx += 40 + 7.5*float64(len(s.label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func decadeLabel(e float64) string {
	v := math.Pow(10, e)
	switch {
	case v < 1e3:
		return fmt.Sprintf("%.0f ns", v)
	case v < 1e6:
		return fmt.Sprintf("%.0f µs", v/1e3)
	case v < 1e9:
		return fmt.Sprintf("%.0f ms", v/1e6)
	}
	return fmt.Sprintf("%.0f s", v/1e9)
}
