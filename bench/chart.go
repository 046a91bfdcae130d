package main

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// chartSVG draws CPU per packet and loss against offered rate for each
// reader: two panels, one line per reader through the medians, with
// vertical bars from min to max.
func chartSVG(r *results) string {
	const (
		W, H           = 1000, 460
		panelW, panelH = 400, 300
		left1, left2   = 80, 580
		top            = 70
		tickN          = 5
		fontAttr       = `font-family="sans-serif" font-size="12"`
	)
	colors := map[string]string{readerC: "#555555", readerNaive: "#d62728", readerPipeline: "#1f77b4", readerBlocking: "#2ca02c",
		readerCTick: "#999999", readerNetpoll: "#9467bd"}
	var order []string
	series := map[string][]readerResult{}
	maxX, maxCPU, maxLoss := 1.0, 1.0, 1.0
	for _, rr := range r.Readers {
		if _, ok := series[rr.Reader]; !ok {
			order = append(order, rr.Reader)
		}
		series[rr.Reader] = append(series[rr.Reader], rr)
		maxX = math.Max(maxX, rr.OfferedPPS.Max/1e3)
		maxCPU = math.Max(maxCPU, rr.CPUPerPkt.Max/1e3)
		maxLoss = math.Max(maxLoss, rr.LossPct.Max)
	}
	maxX, maxCPU, maxLoss = niceCeil(maxX), niceCeil(maxCPU), niceCeil(maxLoss)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	m := r.Machine
	fmt.Fprintf(&b, `<text x="%d" y="22" font-family="sans-serif" font-size="15" font-weight="bold">dxmon loopback readers: CPU per packet and loss vs offered rate (median, min–max bars)</text>`+"\n", left1)
	fmt.Fprintf(&b, `<text x="%d" y="40" %s>%s</text>`+"\n", left1, fontAttr,
		html.EscapeString(fmt.Sprintf("%s, %d cores, kernel %s, %s, %s; load average at start %s; %s mode", m.CPU, m.Cores, m.Kernel, m.OS, m.Go, m.LoadAvg, r.Mode)))
	panel := func(x0 int, title, ylabel string, maxY float64, val func(readerResult) stat) {
		px := func(x float64) float64 { return float64(x0) + x/maxX*panelW }
		py := func(y float64) float64 { return float64(top+panelH) - y/maxY*panelH }
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-weight="bold">%s</text>`+"\n", x0, top-8, fontAttr, html.EscapeString(title))
		for i := 0; i <= tickN; i++ {
			y := maxY * float64(i) / tickN
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", x0, py(y), x0+panelW, py(y))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s text-anchor="end">%s</text>`+"\n", x0-6, py(y)+4, fontAttr, tick(y))
			x := maxX * float64(i) / tickN
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s text-anchor="middle">%s</text>`+"\n", px(x), top+panelH+18, fontAttr, tick(x))
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", x0, top, panelW, panelH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s text-anchor="middle">offered rate (k packets/s)</text>`+"\n", x0+panelW/2, top+panelH+38, fontAttr)
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s text-anchor="middle" transform="rotate(-90 %d %d)">%s</text>`+"\n",
			x0-50, top+panelH/2, fontAttr, x0-50, top+panelH/2, html.EscapeString(ylabel))
		for _, name := range order {
			pts := slices.Clone(series[name])
			slices.SortFunc(pts, func(a, c readerResult) int { return cmp.Compare(a.OfferedPPS.Median, c.OfferedPPS.Median) })
			var line []string
			for _, p := range pts {
				x, s := px(p.OfferedPPS.Median/1e3), val(p)
				line = append(line, fmt.Sprintf("%.1f,%.1f", x, py(s.Median)))
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, py(s.Min), x, py(s.Max), colors[name])
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x, py(s.Median), colors[name])
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(line, " "), colors[name])
		}
	}
	panel(left1, "CPU per packet", "CPU per packet (µs, user + system)", maxCPU, func(rr readerResult) stat {
		return stat{Median: rr.CPUPerPkt.Median / 1e3, Min: rr.CPUPerPkt.Min / 1e3, Max: rr.CPUPerPkt.Max / 1e3}
	})
	panel(left2, "Loss", "loss (% of packets sent)", maxLoss, func(rr readerResult) stat { return rr.LossPct })
	for i, name := range order {
		x := left1 + i*220
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x, H-22, x+24, H-22, colors[name])
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`+"\n", x+30, H-18, fontAttr, html.EscapeString(name))
	}
	if len(order) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s>no loopback measurement in this run</text>`+"\n", left1, top+panelH/2, fontAttr)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds x up to a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or
// 8 times a power of ten).
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func tick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
