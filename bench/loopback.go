package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Readers compared over loopback.
const (
	readerC        = "C recvmmsg floor"
	readerCTick    = "C recvmmsg, 1 ms tick"
	readerNaive    = "naive Go"
	readerPipeline = "dxprobe pipeline"
	readerNetpoll  = "pipeline, WaitNetpoll"
	readerBlocking = "pipeline, WaitBlocking"
)

// readerRun is one run of one reader at one offered rate.
type readerRun struct {
	Sent        int64   `json:"sent"`
	OfferedPPS  float64 `json:"offered_pps"`
	Counted     uint64  `json:"counted"`
	Loss        int64   `json:"loss"` // sent − counted
	LossPct     float64 `json:"loss_pct"`
	CPUNsPerPkt float64 `json:"cpu_ns_per_packet"`
	UserShare   float64 `json:"user_share"`
	AllocsPkt   float64 `json:"allocs_per_packet"` // Go readers, steady state: first packet to the sender's end
	KernelDrops uint64  `json:"kernel_drops"`      // pipeline only (SO_MEMINFO)
}

// readerResult is one reader at one target rate over repeated runs.
type readerResult struct {
	Reader     string      `json:"reader"`
	TargetPPS  float64     `json:"target_pps"` // 0: as fast as one sender goes
	OfferedPPS stat        `json:"offered_pps"`
	CPUPerPkt  stat        `json:"cpu_ns_per_packet"`
	LossPct    stat        `json:"loss_pct"`
	AllocsPkt  stat        `json:"allocs_per_packet"`
	Runs       []readerRun `json:"runs"`
}

// loopbackConfig is the reader comparison's setup.
type loopbackConfig struct {
	Rates      []float64     // packets per second; 0 = flat out
	Duration   time.Duration // per run
	Reps       int
	Flows      int
	RecvBuffer int
	Pin        bool
	SkipC      bool
	Blocking   bool // add the pipeline with reuseport.WaitBlocking
	Log        io.Writer
}

// readerCmd starts one reader process.
type readerCmd func() *exec.Cmd

// buildFloor compiles c/floor.c with the machine's gcc into dir. It returns
// "" and a note when gcc is missing.
func buildFloor(dir string) (string, string, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc not found: the C recvmmsg floor was skipped", nil
	}
	src, err := floorSource()
	if err != nil {
		return "", "", err
	}
	bin := filepath.Join(dir, "floor")
	out, err := exec.Command(gcc, "-O2", "-o", bin, src).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("gcc %s: %w: %s", src, err, out)
	}
	return bin, "", nil
}

// floorSource finds c/floor.c beside this package's sources.
func floorSource() (string, error) {
	var cands []string
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "c", "floor.c"))
	}
	cands = append(cands, filepath.Join("bench", "c", "floor.c"), filepath.Join("c", "floor.c"))
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("c/floor.c not found (looked in %s)", strings.Join(cands, ", "))
}

// runLoopback measures every reader at every rate, reps times, with the
// readers interleaved so that a change of the machine's load hits all.
func runLoopback(ctx context.Context, cfg loopbackConfig, tmp string) ([]readerResult, []string, error) {
	var notes []string
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	childCfg, _ := json.Marshal(childConfig{RecvBuffer: cfg.RecvBuffer})
	goChild := func(role string) readerCmd {
		return func() *exec.Cmd {
			c := exec.Command(self)
			c.Env = append(os.Environ(), childEnv+"="+role, childConfigEnv+"="+string(childCfg))
			return c
		}
	}
	type reader struct {
		name string
		cmd  readerCmd
	}
	var readers []reader
	if !cfg.SkipC {
		bin, note, err := buildFloor(tmp)
		if err != nil {
			return nil, nil, err
		}
		if note != "" {
			notes = append(notes, note)
		} else {
			readers = append(readers,
				reader{readerC, func() *exec.Cmd { return exec.Command(bin, strconv.Itoa(cfg.RecvBuffer)) }},
				reader{readerCTick, func() *exec.Cmd { return exec.Command(bin, strconv.Itoa(cfg.RecvBuffer), "0", "1000") }})
		}
	}
	readers = append(readers, reader{readerNaive, goChild("naive")}, reader{readerPipeline, goChild("pipeline")},
		reader{readerNetpoll, goChild("pipeline-netpoll")})
	if cfg.Blocking {
		readers = append(readers, reader{readerBlocking, goChild("pipeline-blocking")})
	}

	readerCPU, senderCPU := -1, -1
	if cfg.Pin && runtime.NumCPU() >= 2 {
		readerCPU, senderCPU = runtime.NumCPU()-1, 0
		notes = append(notes, fmt.Sprintf("reader pinned to CPU %d, sender thread to CPU %d", readerCPU, senderCPU))
	}
	results := make([]readerResult, 0, len(cfg.Rates)*len(readers))
	idx := map[[2]int]int{}
	for ri, rate := range cfg.Rates {
		for di, r := range readers {
			idx[[2]int{ri, di}] = len(results)
			results = append(results, readerResult{Reader: r.name, TargetPPS: rate})
		}
	}
	for rep := range cfg.Reps {
		for ri, rate := range cfg.Rates {
			for di, r := range readers {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				run, err := measureReader(ctx, r.cmd, rate, cfg, readerCPU, senderCPU)
				if err != nil {
					return nil, nil, fmt.Errorf("%s at %s: %w", r.name, rateName(rate), err)
				}
				if cfg.Log != nil {
					fmt.Fprintf(cfg.Log, "  rep %d %-8s %-17s offered %8.0f pps  CPU %6.0f ns/pkt  loss %6.2f%%\n",
						rep+1, rateName(rate), r.name, run.OfferedPPS, run.CPUNsPerPkt, run.LossPct)
				}
				res := &results[idx[[2]int{ri, di}]]
				res.Runs = append(res.Runs, run)
			}
		}
	}
	for i := range results {
		r := &results[i]
		var off, cpu, loss, allocs []float64
		for _, run := range r.Runs {
			off = append(off, run.OfferedPPS)
			cpu = append(cpu, run.CPUNsPerPkt)
			loss = append(loss, run.LossPct)
			allocs = append(allocs, run.AllocsPkt)
		}
		r.OfferedPPS, r.CPUPerPkt, r.LossPct, r.AllocsPkt = statOf(off), statOf(cpu), statOf(loss), statOf(allocs)
	}
	return results, notes, nil
}

// measureReader starts one reader process (pinned to readerCPU), offers it
// packets from this process (its sending thread pinned to senderCPU), closes
// its standard input and reads its result.
func measureReader(ctx context.Context, mk readerCmd, rate float64, cfg loopbackConfig, readerCPU, senderCPU int) (readerRun, error) {
	var run readerRun
	c, err := startChild(mk, readerCPU, "reader")
	if err != nil {
		return run, err
	}
	defer c.stop()
	st, err := sendPinned(ctx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(c.Port)), rate, cfg, senderCPU)
	if err != nil {
		return run, err
	}
	cr, err := c.result()
	if err != nil {
		return run, err
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		return run, errors.New("reader did not exit after its result")
	}
	run.Sent, run.OfferedPPS, run.Counted = st.Packets, st.PPS(), cr.Packets
	run.Loss = st.Packets - int64(cr.Packets)
	if st.Packets > 0 {
		run.LossPct = 100 * float64(run.Loss) / float64(st.Packets)
	}
	cpu := cr.UserNS + cr.SysNS
	if cr.Packets > 0 {
		run.CPUNsPerPkt = float64(cpu) / float64(cr.Packets)
	}
	if cr.SteadyPackets > 0 {
		run.AllocsPkt = float64(cr.SteadyMallocs) / float64(cr.SteadyPackets)
	}
	if cpu > 0 {
		run.UserShare = float64(cr.UserNS) / float64(cpu)
	}
	run.KernelDrops = cr.KernelDrops
	return run, nil
}

// sendPinned offers rate packets per second (0: flat out) for cfg.Duration
// from one sender goroutine whose OS thread is pinned to cpu.
func sendPinned(ctx context.Context, dst netip.AddrPort, rate float64, cfg loopbackConfig, cpu int) (genStats, error) {
	return onPinnedThread(cpu, func() (genStats, error) {
		gc := genConfig{Addr: dst, Rate: rate, Duration: cfg.Duration, Flows: cfg.Flows, Senders: 1, Batch: 32, VNI: 12345, Snap: 128, Seed: 1}
		return generate(ctx, gc, false)
	})
}

// onPinnedThread runs send on a goroutine whose OS thread is pinned to cpu
// (cpu < 0: not pinned) and returns what it returns. The thread is not
// unlocked: it exits with the goroutine, and its CPU mask with it.
func onPinnedThread(cpu int, send func() (genStats, error)) (genStats, error) {
	type out struct {
		st  genStats
		err error
	}
	ch := make(chan out, 1)
	go func() {
		if cpu >= 0 {
			runtime.LockOSThread()
			if _, err := pinThread(cpu); err != nil {
				ch <- out{err: err}
				return
			}
		}
		st, err := send()
		ch <- out{st, err}
	}()
	o := <-ch
	return o.st, o.err
}

func rateName(r float64) string {
	if r == 0 {
		return "max"
	}
	if r >= 1000 {
		return strconv.FormatFloat(r/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// child is a measured reader or reflector process: it prints "ready PORT"
// once listening, a JSON result after its standard input closes, and exits.
type child struct {
	what   string // "reader" or "reflector", for errors
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	stderr strings.Builder
	Port   int
}

// startChild starts mk's process pinned to cpu and waits for its ready line.
// The caller defers stop.
func startChild(mk readerCmd, cpu int, what string) (*child, error) {
	c := &child{what: what, cmd: mk(), lines: make(chan string, 2), exited: make(chan struct{})}
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stderr = &c.stderr
	if err := startPinned(cpu, c.cmd.Start); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	l, err := c.readLine("ready")
	if err != nil {
		c.stop()
		return nil, err
	}
	port, err := strconv.Atoi(strings.TrimPrefix(l, "ready "))
	if err != nil || !strings.HasPrefix(l, "ready ") {
		c.stop()
		return nil, fmt.Errorf("%s said %q, want \"ready PORT\"", what, l)
	}
	c.Port = port
	return c, nil
}

func (c *child) readLine(what string) (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			<-c.exited
			return "", fmt.Errorf("%s exited before %s: %s", c.what, what, strings.TrimSpace(c.stderr.String()))
		}
		return l, nil
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("no %s from the %s within 30s", what, c.what)
	}
}

// result closes the child's standard input and reads its JSON result.
func (c *child) result() (childResult, error) {
	var cr childResult
	c.stdin.Close()
	l, err := c.readLine("result")
	if err != nil {
		return cr, err
	}
	if err := json.Unmarshal([]byte(l), &cr); err != nil {
		return cr, fmt.Errorf("%s result %q: %w", c.what, l, err)
	}
	return cr, nil
}

// stop ends the child whatever happened: closing stdin stops it, Kill if not.
func (c *child) stop() {
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}
