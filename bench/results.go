package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// stat is the median, minimum and maximum of repeated runs.
type stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// machine is what the figures were measured on.
type machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	Kernel    string  `json:"kernel"`
	OS        string  `json:"os"`
	Go        string  `json:"go"`
	GCC       string  `json:"gcc,omitempty"`
	LoadAvg   string  `json:"loadavg,omitempty"` // at the start: other work skews the figures
	RmemMax   string  `json:"rmem_max,omitempty"`
	MemTotalG float64 `json:"mem_total_gib,omitempty"`
}

func machineInfo() machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), Kernel: kernelRelease(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		m.RmemMax = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemTotalG = kb / (1 << 20)
		}
	}
	if out, err := exec.Command("gcc", "-dumpfullversion").Output(); err == nil {
		m.GCC = strings.TrimSpace(string(out))
	}
	return m
}

// results is everything one harness run measured: results.json.
type results struct {
	Machine  machine        `json:"machine"`
	Mode     string         `json:"mode"` // "short" or "full"
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Settings settings       `json:"settings"`
	Readers  []readerResult `json:"readers"`
	Micro    []microResult  `json:"micro"`
	// Floods are the flood measurement at a smaller count (a tenth, at
	// least twice MaxFlows) and at the full count: equal peak RSS shows
	// memory bounded by MaxFlows.
	Floods    []floodResult     `json:"floods,omitempty"`
	Appliance []applianceResult `json:"appliance,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
	Command   string            `json:"command"`
	Revision  string            `json:"revision,omitempty"`
	Generator string            `json:"generator"`
}

// settings are the run's parameters.
type settings struct {
	Reps          int       `json:"reps"`
	RunSeconds    float64   `json:"run_seconds"`
	Rates         []float64 `json:"rates"` // 0 = as fast as one sender goes
	Flows         int       `json:"flows"`
	RecvBuffer    int       `json:"recv_buffer"`
	BenchtimeMS   float64   `json:"benchtime_ms"`
	FloodFlows    int       `json:"flood_flows"`
	FloodMaxFlows int       `json:"flood_max_flows"`
}

func ns(x float64) string {
	switch {
	case x >= 1e4:
		return fmt.Sprintf("%.1f µs", x/1e3)
	case x >= 1e3:
		return fmt.Sprintf("%.2f µs", x/1e3)
	case x >= 100:
		return fmt.Sprintf("%.0f ns", x)
	}
	return fmt.Sprintf("%.1f ns", x)
}

func pps(x float64) string {
	if x >= 1e6 {
		return fmt.Sprintf("%.2f M", x/1e6)
	}
	return fmt.Sprintf("%.0f k", x/1e3)
}

// rangeOf formats a stat as "median (min–max)" with f.
func rangeOf(s stat, f func(float64) string) string {
	if s.N <= 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// markdown renders results.md.
func (r *results) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# dxmon bench (%s mode)\n\n", r.Mode)
	fmt.Fprintf(&b, "Machine: %s, %d cores, kernel %s, %s, %s", m.CPU, m.Cores, m.Kernel, m.OS, m.Go)
	if m.GCC != "" {
		fmt.Fprintf(&b, ", gcc %s", m.GCC)
	}
	fmt.Fprintf(&b, "; load average at start %s. Started %s, took %.0f s. `%s`", m.LoadAvg, r.Started.UTC().Format(time.RFC3339), r.Seconds, r.Command)
	if r.Revision != "" {
		fmt.Fprintf(&b, " at %s", r.Revision)
	}
	b.WriteString(".\n\nEach figure is the median of the runs, with (min–max).\n\n")
	if len(r.Readers) > 0 {
		s := r.Settings
		fmt.Fprintf(&b, "## Loopback readers\n\n%d run(s) of %.1f s per cell; %d flows of VXLAN mirror packets cut to 128 bytes, one sender; receive buffer %d MiB each. CPU per packet is the reader process's getrusage (user + system) over the run divided by the packets it counted; loss is sent − counted; allocs/packet counts heap allocations from the first packet to the sender's end (window reports included, start-up excluded). Target is the rate asked of the sender, offered what it reached. The C floor blocks in recvmmsg (MSG_WAITFORONE) and wakes as packets arrive; the 1 ms tick variant sleeps after each batch that drained the socket, as the pipeline's default WaitTick does; the WaitNetpoll row is the pipeline parked in Go's netpoller.\n\n",
			s.Reps, s.RunSeconds, s.Flows, s.RecvBuffer>>20)
		b.WriteString("| target | reader | offered pps | CPU per packet | × C floor | loss % | allocs/packet |\n|---|---|---|---|---|---|---|\n")
		floor := map[float64]float64{}
		for _, rr := range r.Readers {
			if rr.Reader == readerC {
				floor[rr.TargetPPS] = rr.CPUPerPkt.Median
			}
		}
		for _, rr := range r.Readers {
			ratio := "–"
			if f := floor[rr.TargetPPS]; f > 0 {
				ratio = fmt.Sprintf("%.2f×", rr.CPUPerPkt.Median/f)
			}
			allocs := "–"
			if rr.Reader != readerC && rr.Reader != readerCTick {
				allocs = fmt.Sprintf("%.4f", rr.AllocsPkt.Median)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", rateName(rr.TargetPPS), rr.Reader,
				rangeOf(rr.OfferedPPS, pps), rangeOf(rr.CPUPerPkt, ns), ratio,
				rangeOf(rr.LossPct, func(x float64) string { return fmt.Sprintf("%.2f", x) }), allocs)
		}
		b.WriteString("\n")
	}
	if len(r.Micro) > 0 {
		b.WriteString("## Go micro-benchmarks\n\n| what | case | implementation | ns/op | allocs/op |\n|---|---|---|---|---|\n")
		for _, mr := range r.Micro {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", mr.Group, mr.Case, mr.Impl,
				rangeOf(mr.NsPerOp, func(x float64) string { return fmt.Sprintf("%.1f", x) }), mr.AllocsPerOp)
		}
		b.WriteString("\n")
	}
	if len(r.Floods) > 0 {
		yes := func(ok bool) string {
			if ok {
				return "yes"
			}
			return "**NO**"
		}
		f0 := r.Floods[0]
		b.WriteString("## Flood: distinct flows in one window\n\n")
		fmt.Fprintf(&b, "Fed in process to a one-worker pipeline (decode → hash → sample → flow table → merge → report) from patched pre-encoded packets, one packet per flow, MaxFlows %d (one table %.1f MiB); a heavy hitter (%s → %s) starts when the table is full and then sends one packet per %d flows.\n\n",
			f0.MaxFlows, f0.TableMiB, heavySrc, heavyDst, heavyEvery)
		row := func(name string, cell func(f *floodResult) string) {
			fmt.Fprintf(&b, "| %s |", name)
			for i := range r.Floods {
				fmt.Fprintf(&b, " %s |", cell(&r.Floods[i]))
			}
			b.WriteString("\n")
		}
		row("distinct flows", func(f *floodResult) string { return fmt.Sprintf("**%d**", f.Flows) })
		b.WriteString("|---|" + strings.Repeat("---|", len(r.Floods)) + "\n")
		row("packets fed / reported", func(f *floodResult) string { return fmt.Sprintf("%d / %d", f.Packets, f.ReportPackets) })
		row("bytes fed / reported", func(f *floodResult) string { return fmt.Sprintf("%d / %d", f.Bytes, f.ReportBytes) })
		row("totals exact", func(f *floodResult) string { return yes(f.TotalsExact) })
		row("heavy hitter share of bytes", func(f *floodResult) string { return fmt.Sprintf("%.2f %%", 100*f.HeavyShare) })
		row("heavy hitter rank: top flows / top sources", func(f *floodResult) string { return fmt.Sprintf("%d / %d", f.HeavyRank, f.HeavySrcRank) })
		row("heavy hitter bytes fed / reported", func(f *floodResult) string { return fmt.Sprintf("%d / %d", f.HeavyBytes, f.HeavyRepBytes) })
		row("peak RSS of the process", func(f *floodResult) string { return fmt.Sprintf("%.0f MiB", f.PeakRSSMiB) })
		row("wall / CPU time per packet", func(f *floodResult) string {
			return fmt.Sprintf("%.0f ns / %.0f ns", f.NsPerPacket, f.CPUNsPerPacket)
		})
		row("windows reported", func(f *floodResult) string { return fmt.Sprint(f.Windows) })
		row("merge and report of the window (full table)", func(f *floodResult) string { return fmt.Sprintf("%.0f ms", f.ReportMs) })
		b.WriteString("\n")
	}
	if len(r.Appliance) > 0 {
		b.WriteString(r.applianceMarkdown())
	}
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	return b.String()
}
