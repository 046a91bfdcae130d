package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dxmon/dxmon/flow"
)

func main() {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(childMain(role))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// options are the harness's flags.
type options struct {
	short      bool
	out        string
	reps       int
	microReps  int
	duration   time.Duration
	rates      []float64
	flows      int
	recvBuffer int
	pin        bool
	noC        bool
	blocking   bool
	benchtime  time.Duration
	floodFlows int
	maxFlows   int
	skip       map[string]bool
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "max" {
			out = append(out, 0)
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || v > 1e8 {
			return nil, fmt.Errorf("-rates %q: %q is neither a packet rate in (0, 1e8] nor \"max\"", s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [-short] -out DIR [flags]\n       go run ./bench gen [flags]   (traffic generator; gen -h)\n\n")
		fs.PrintDefaults()
	}
	var o options
	fs.BoolVar(&o.short, "short", false, "short mode: fewer and shorter runs (< 2 minutes on 2 cores)")
	fs.StringVar(&o.out, "out", "", "directory for results.json, results.md and chart.svg (required)")
	reps := fs.Int("reps", 0, "runs per loopback cell (default 3 short, 5 full)")
	microReps := fs.Int("micro-reps", 0, "runs per micro-benchmark (default 3 short, 5 full)")
	fs.DurationVar(&o.duration, "duration", 0, "length of one loopback run (default 1s short, 5s full)")
	rates := fs.String("rates", "", `offered rates in packets/s, comma-separated, "max" = as fast as one sender goes (default "100000,200000,max" short, "50000,100000,200000,400000,max" full)`)
	fs.IntVar(&o.flows, "flows", 1000, "flows in the loopback traffic")
	fs.IntVar(&o.recvBuffer, "rcvbuf", 128<<20, "receive buffer of every reader's socket, bytes (SO_RCVBUFFORCE)")
	fs.BoolVar(&o.pin, "pin", true, "pin the reader process and the sender thread to different CPUs")
	fs.BoolVar(&o.noC, "no-c", false, "skip the C recvmmsg floor")
	blocking := fs.String("blocking", "", "also measure the pipeline with reuseport.WaitBlocking: true or false (default false short, true full)")
	fs.DurationVar(&o.benchtime, "benchtime", 0, "time per micro-benchmark run (default 100ms short, 1s full)")
	fs.IntVar(&o.floodFlows, "flood-flows", 0, "distinct flows in the flood window (default 1M short, 10M full)")
	fs.IntVar(&o.maxFlows, "max-flows", flow.DefaultMaxFlows, "flow-table cap (probe MaxFlows) in the flood")
	skip := fs.String("skip", "", "comma-separated parts to skip: loopback, micro, flood, appliance")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.out == "" {
		return o, errors.New("-out: a directory is required")
	}
	pick := func(v, short, full int) int {
		if v != 0 {
			return v
		}
		if o.short {
			return short
		}
		return full
	}
	o.reps, o.microReps = pick(*reps, 3, 5), pick(*microReps, 3, 5)
	o.floodFlows = pick(o.floodFlows, 1_000_000, 10_000_000)
	if o.duration == 0 {
		o.duration = map[bool]time.Duration{true: time.Second, false: 5 * time.Second}[o.short]
	}
	if o.benchtime == 0 {
		o.benchtime = map[bool]time.Duration{true: 100 * time.Millisecond, false: time.Second}[o.short]
	}
	if *rates == "" {
		*rates = map[bool]string{true: "100000,200000,max", false: "50000,100000,200000,400000,max"}[o.short]
	}
	switch *blocking {
	case "":
		o.blocking = !o.short
	case "true", "false":
		o.blocking = *blocking == "true"
	default:
		return o, fmt.Errorf("-blocking %q: want true or false", *blocking)
	}
	var err error
	if o.rates, err = parseRates(*rates); err != nil {
		return o, err
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "loopback", "micro", "flood", "appliance":
			o.skip[s] = true
		default:
			return o, fmt.Errorf("-skip %q: unknown part %q (loopback, micro, flood, appliance)", *skip, s)
		}
	}
	switch {
	case o.reps < 1 || o.reps > 100:
		return o, fmt.Errorf("-reps %d: must be in [1, 100]", o.reps)
	case o.microReps < 1 || o.microReps > 100:
		return o, fmt.Errorf("-micro-reps %d: must be in [1, 100]", o.microReps)
	case o.duration < 10*time.Millisecond || o.duration > 10*time.Minute:
		return o, fmt.Errorf("-duration %v: must be in [10ms, 10m]", o.duration)
	case o.flows < 1 || o.flows > 1<<24:
		return o, fmt.Errorf("-flows %d: must be in [1, 16777216]", o.flows)
	case o.recvBuffer < 4096:
		return o, fmt.Errorf("-rcvbuf %d: must be at least 4096", o.recvBuffer)
	case o.floodFlows < 2 || o.floodFlows > 1<<24:
		return o, fmt.Errorf("-flood-flows %d: must be in [2, 16777216]", o.floodFlows)
	case o.maxFlows < 1:
		return o, fmt.Errorf("-max-flows %d: must be >= 1", o.maxFlows)
	}
	return o, nil
}

// run is the harness (or, with "gen" first, the generator).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "gen" {
		return genMain(ctx, args[1:], stdout, stderr)
	}
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", o.out, err)
	}
	tmp, err := os.MkdirTemp("", "dxmon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	res := &results{Machine: machineInfo(), Mode: map[bool]string{true: "short", false: "full"}[o.short],
		Started: time.Now().UTC(), Command: strings.TrimSpace("go run ./bench " + strings.Join(args, " ")),
		Generator: "dxmon/bench",
		Settings: settings{Reps: o.reps, RunSeconds: o.duration.Seconds(), Rates: o.rates, Flows: o.flows,
			RecvBuffer: o.recvBuffer, BenchtimeMS: float64(o.benchtime.Milliseconds()),
			FloodFlows: o.floodFlows, FloodMaxFlows: o.maxFlows}}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		res.Revision = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(stderr, "bench %s mode on %s (%d cores), %s\n", res.Mode, res.Machine.CPU, res.Machine.Cores, res.Machine.Go)

	if !o.skip["loopback"] {
		if !supported {
			res.Notes = append(res.Notes, "loopback reader comparison skipped: Linux only (getrusage, SO_RCVBUFFORCE, recvmmsg)")
		} else {
			fmt.Fprintf(stderr, "loopback readers: %d rate(s) × %d run(s) of %v\n", len(o.rates), o.reps, o.duration)
			rr, notes, err := runLoopback(ctx, loopbackConfig{Rates: o.rates, Duration: o.duration, Reps: o.reps, Flows: o.flows,
				RecvBuffer: o.recvBuffer, Pin: o.pin, SkipC: o.noC, Blocking: o.blocking, Log: stderr}, tmp)
			if err != nil {
				return fmt.Errorf("loopback readers: %w", err)
			}
			res.Readers = rr
			res.Notes = append(res.Notes, notes...)
		}
	}
	if !o.skip["micro"] {
		fmt.Fprintf(stderr, "micro-benchmarks: %d run(s) of %v each\n", o.microReps, o.benchtime)
		mr, err := runMicro(o.microReps, o.benchtime, !o.short)
		if err != nil {
			return fmt.Errorf("micro-benchmarks: %w", err)
		}
		res.Micro = mr
	}
	if !o.skip["flood"] {
		if !supported {
			res.Notes = append(res.Notes, "flood measurement skipped: Linux only (getrusage)")
		} else {
			// Two sizes past the table's cap: equal peak RSS shows the bound.
			for _, n := range []int{min(o.floodFlows, max(2*o.maxFlows, o.floodFlows/10)), o.floodFlows} {
				fmt.Fprintf(stderr, "flood: %d distinct flows, MaxFlows %d\n", n, o.maxFlows)
				fr, err := runFloodChild(ctx, n, o.maxFlows)
				if err != nil {
					return fmt.Errorf("flood of %d flows: %w", n, err)
				}
				res.Floods = append(res.Floods, *fr)
				if !fr.TotalsExact || fr.HeavyRank != 1 {
					res.Notes = append(res.Notes, fmt.Sprintf("flood of %d flows: totals exact %v, heavy hitter rank %d (want true, 1)", n, fr.TotalsExact, fr.HeavyRank))
				}
			}
		}
	}
	if !o.skip["appliance"] {
		if !supported {
			res.Notes = append(res.Notes, "appliance scenario skipped: Linux only (raw sockets, getrusage)")
		} else {
			rates := map[bool][]float64{true: {50000, 100000}, false: {50000, 100000, 200000}}[o.short]
			fmt.Fprintf(stderr, "appliance: %d rate(s) × %d run(s) of %v\n", len(rates), o.reps, o.duration)
			ar, notes, err := runAppliance(ctx, loopbackConfig{Rates: rates, Duration: o.duration, Reps: o.reps,
				RecvBuffer: o.recvBuffer, Pin: o.pin, SkipC: o.noC, Log: stderr}, tmp)
			if err != nil {
				return fmt.Errorf("appliance: %w", err)
			}
			res.Appliance = ar
			res.Notes = append(res.Notes, notes...)
		}
	}
	res.Seconds = time.Since(res.Started).Seconds()
	return writeResults(o.out, res, stderr)
}

// runFloodChild runs the flood measurement in a child process, so that its
// peak RSS is the flood's alone.
func runFloodChild(ctx context.Context, flows, maxFlows int) (*floodResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(childConfig{Flows: flows, MaxFlows: maxFlows})
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"=flood", childConfigEnv+"="+string(cfg))
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil || cr.Flood == nil {
		return nil, fmt.Errorf("flood child printed %q: %v", out, err)
	}
	return cr.Flood, nil
}

func writeResults(dir string, res *results, stderr io.Writer) error {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	md := res.markdown()
	files := map[string][]byte{"results.json": append(js, '\n'), "results.md": []byte(md), "chart.svg": []byte(chartSVG(res))}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Fprintf(stderr, "\n%s\nwrote %s/{results.json,results.md,chart.svg}\n", md, dir)
	return nil
}
