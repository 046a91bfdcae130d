package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dxmon/dxmon/gwlb"
	"github.com/dxmon/dxmon/internal/gwlbtest"
	"github.com/dxmon/dxmon/reuseport"
)

// The appliance scenario: a GWLB emulator on 127.0.0.2 sends Geneve with
// AWS's TLVs to a reflector on 127.0.0.1 at fixed rates and counts what
// comes back to 127.0.0.2 on the reflector's port. Reflectors, each in a
// child process so that its getrusage counts it alone: the C floor
// (c/reflect.c: recvmmsg, raw sendmmsg, no checks) blocking and with a 1 ms
// tick, and dxappliance's path (package gwlb, one worker, WaitTick).
const (
	reflectorC     = "C reflector (recvmmsg/sendmmsg)"
	reflectorCTick = "C reflector, 1 ms tick"
	reflectorGo    = "dxappliance (gwlb, 1 worker)"
)

// applianceRun is one run of one reflector at one offered rate.
type applianceRun struct {
	Sent        int64   `json:"sent"`
	OfferedPPS  float64 `json:"offered_pps"`
	Received    uint64  `json:"received"`          // by the reflector
	Returned    uint64  `json:"returned"`          // sent back by the reflector
	Heard       uint64  `json:"heard"`             // back at the emulator
	LossPct     float64 `json:"loss_pct"`          // (sent − heard) / sent
	CPUNsPerPkt float64 `json:"cpu_ns_per_packet"` // reflector CPU over packets returned
}

// applianceResult is one reflector at one target rate over repeated runs.
type applianceResult struct {
	Reflector  string         `json:"reflector"`
	TargetPPS  float64        `json:"target_pps"`
	OfferedPPS stat           `json:"offered_pps"`
	CPUPerPkt  stat           `json:"cpu_ns_per_packet"`
	LossPct    stat           `json:"loss_pct"`
	Runs       []applianceRun `json:"runs"`
}

// applianceSizes are the inner packet sizes sent in turn, IPv4 and IPv6.
var applianceSizes = []int{64, 200, 576, 1400}

// runAppliance measures every reflector at every rate, reps times. It
// returns a note instead when raw sockets are not allowed.
func runAppliance(ctx context.Context, cfg loopbackConfig, tmp string) ([]applianceResult, []string, error) {
	w, err := reuseport.NewRawWriter(1)
	if err != nil {
		return nil, []string{fmt.Sprintf("appliance scenario skipped: %v", err)}, nil
	}
	w.Close()
	var notes []string
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	childCfg, _ := json.Marshal(childConfig{RecvBuffer: cfg.RecvBuffer})
	type reflector struct {
		name string
		cmd  readerCmd
	}
	var refls []reflector
	if !cfg.SkipC {
		bin, note, err := buildC(tmp, "reflect")
		if err != nil {
			return nil, nil, err
		}
		if note != "" {
			notes = append(notes, note)
		} else {
			refls = append(refls,
				reflector{reflectorC, func() *exec.Cmd { return exec.Command(bin, strconv.Itoa(cfg.RecvBuffer)) }},
				reflector{reflectorCTick, func() *exec.Cmd { return exec.Command(bin, strconv.Itoa(cfg.RecvBuffer), "1000") }})
		}
	}
	refls = append(refls, reflector{reflectorGo, func() *exec.Cmd {
		c := exec.Command(self)
		c.Env = append(os.Environ(), childEnv+"=appliance", childConfigEnv+"="+string(childCfg))
		return c
	}})
	reflCPU, senderCPU := -1, -1
	if cfg.Pin && runtime.NumCPU() >= 2 {
		reflCPU, senderCPU = runtime.NumCPU()-1, 0
	}
	var pool [][]byte
	for i, size := range applianceSizes {
		for _, v6 := range []bool{false, true} {
			for f := range 16 { // 16 flows per size and family: cookies differ
				pool = append(pool, gwlbtest.Packet(v6, size, byte(16*i+f)))
			}
		}
	}
	results := make([]applianceResult, 0, len(cfg.Rates)*len(refls))
	for _, rate := range cfg.Rates {
		for _, r := range refls {
			results = append(results, applianceResult{Reflector: r.name, TargetPPS: rate})
		}
	}
	for rep := range cfg.Reps {
		for ri, rate := range cfg.Rates {
			for di, r := range refls {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				run, err := measureReflector(ctx, r.cmd, rate, cfg, pool, reflCPU, senderCPU)
				if err != nil {
					return nil, nil, fmt.Errorf("%s at %s: %w", r.name, rateName(rate), err)
				}
				if cfg.Log != nil {
					fmt.Fprintf(cfg.Log, "  rep %d %-8s %-32s offered %8.0f pps  CPU %6.0f ns/pkt returned  loss %6.2f%%\n",
						rep+1, rateName(rate), r.name, run.OfferedPPS, run.CPUNsPerPkt, run.LossPct)
				}
				res := &results[ri*len(refls)+di]
				res.Runs = append(res.Runs, run)
			}
		}
	}
	for i := range results {
		r := &results[i]
		var off, cpu, loss []float64
		for _, run := range r.Runs {
			off, cpu, loss = append(off, run.OfferedPPS), append(cpu, run.CPUNsPerPkt), append(loss, run.LossPct)
		}
		r.OfferedPPS, r.CPUPerPkt, r.LossPct = statOf(off), statOf(cpu), statOf(loss)
	}
	return results, notes, nil
}

// buildC compiles c/NAME.c with the machine's gcc into dir; "" and a note
// when gcc is missing.
func buildC(dir, name string) (string, string, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc not found: the C " + name + " was skipped", nil
	}
	var src string
	var cands []string
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "c", name+".c"))
	}
	cands = append(cands, filepath.Join("bench", "c", name+".c"), filepath.Join("c", name+".c"))
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			src = c
			break
		}
	}
	if src == "" {
		return "", "", fmt.Errorf("c/%s.c not found (looked in %s)", name, strings.Join(cands, ", "))
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command(gcc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("gcc %s: %w: %s", src, err, out)
	}
	return bin, "", nil
}

// measureReflector starts one reflector process, listens for its answers
// on 127.0.0.2 at its port, offers it Geneve from 127.0.0.2, closes its
// standard input and reads its result.
func measureReflector(ctx context.Context, mk readerCmd, rate float64, cfg loopbackConfig, pool [][]byte, reflCPU, senderCPU int) (applianceRun, error) {
	var run applianceRun
	c, err := startChild(mk, reflCPU, "reflector")
	if err != nil {
		return run, err
	}
	defer c.stop()
	port := c.Port
	// The emulator's ear: 127.0.0.2 on the reflector's port.
	ear, err := reuseport.Listen(reuseport.Config{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(port)).String(),
		RecvBuffer: cfg.RecvBuffer, MsgSize: gwlb.MsgSize, Wait: reuseport.WaitNetpoll})
	if err != nil {
		return run, fmt.Errorf("emulator listen: %w", err)
	}
	var heard atomic.Uint64
	earDone := make(chan struct{})
	go func() {
		defer close(earDone)
		r := ear.Readers()[0]
		b := r.NewBatch()
		for {
			n, err := r.Read(b)
			if err != nil {
				return
			}
			heard.Add(uint64(n))
		}
	}()
	st, err := sendGeneve(ctx, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), rate, cfg, pool, senderCPU)
	if err != nil {
		ear.Close()
		return run, err
	}
	cr, err := c.result()
	if err != nil {
		ear.Close()
		return run, err
	}
	// The reflector stopped after 50 ms idle: its answers are in the ear's
	// socket or counted. Stop once the count has not moved for 50 ms.
	last := heard.Load()
	for quiet := time.Duration(0); quiet < idleStop; {
		time.Sleep(10 * time.Millisecond) // polls a counter of this process, bounded: the sender is done
		if n := heard.Load(); n != last {
			last, quiet = n, 0
		} else {
			quiet += 10 * time.Millisecond
		}
	}
	ear.Close()
	<-earDone
	run.Sent, run.OfferedPPS, run.Received, run.Returned, run.Heard = st.Packets, st.PPS(), cr.Packets, cr.Returned, heard.Load()
	if st.Packets > 0 {
		run.LossPct = 100 * float64(st.Packets-int64(run.Heard)) / float64(st.Packets)
	}
	if cr.Returned > 0 {
		run.CPUNsPerPkt = float64(cr.UserNS+cr.SysNS) / float64(cr.Returned)
	}
	return run, nil
}

// sendGeneve offers the pool's packets in a cycle at rate packets per
// second (0: flat out) for cfg.Duration, from 127.0.0.2, on one thread
// pinned to cpu.
func sendGeneve(ctx context.Context, dst netip.AddrPort, rate float64, cfg loopbackConfig, pool [][]byte, cpu int) (genStats, error) {
	return onPinnedThread(cpu, func() (genStats, error) {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return genStats{}, err
		}
		s, err := mmsgSenderOn(c)
		if err != nil {
			c.Close()
			return genStats{}, err
		}
		defer s.Close()
		src := &packetSource{cfg: &genConfig{}, pool: pool}
		count := int64(1_000_000_000)
		if rate > 0 {
			count = int64(rate*cfg.Duration.Seconds()) + 1
		}
		start := time.Now()
		p, b, _, err := pace(ctx, s, src, rate, count, start.Add(cfg.Duration), 32)
		return genStats{Packets: p, Bytes: b, Elapsed: time.Since(start)}, err
	})
}

// applianceChild is dxappliance's path in a child process: a gwlb
// Reflector with one worker on 127.0.0.1 (WaitDefault: WaitTick with the
// bench's buffer), until standard input closes and it has been idle for
// idleStop.
func applianceChild(cfg childConfig, stdin io.Reader, stdout io.Writer) (childResult, error) {
	var res childResult
	rf, err := gwlb.New(gwlb.Config{Addr: "127.0.0.1:0", Workers: 1, RecvBuffer: cfg.RecvBuffer})
	if err != nil {
		return res, err
	}
	m, err := startMeter()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "ready %d\n", rf.LocalAddr().Port())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		last := rf.Stats().Received
		for quiet := time.Duration(0); quiet < idleStop; {
			time.Sleep(10 * time.Millisecond) // polls a counter of this process, bounded by the sender's end
			if n := rf.Stats().Received; n != last {
				last, quiet = n, 0
			} else {
				quiet += 10 * time.Millisecond
			}
		}
		cancel()
	}()
	if err := rf.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	st := rf.Stats()
	res.Packets, res.Bytes, res.Returned, res.SendErrors = st.Received, st.ReceivedBytes, st.Returned, st.SendErrors
	return res, m.stop(&res)
}

// applianceMarkdown renders the appliance section of results.md.
func (r *results) applianceMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Appliance: Geneve returned to the GWLB\n\nA GWLB emulator on 127.0.0.2 sends Geneve with AWS's three TLVs (inner IPv4 and IPv6 of %v bytes, 128 flows) to a reflector on 127.0.0.1 and counts what comes back. CPU per packet is the reflector process's getrusage (user + system) over the packets it returned; loss is (sent − heard back) / sent. The C reflector receives with recvmmsg and IP_PKTINFO and returns every datagram unchecked through a raw socket with sendmmsg, as dxappliance does; dxappliance also checks every packet (Geneve, TLVs, inner header, addresses) and counts it.\n\n", applianceSizes)
	b.WriteString("| target | reflector | offered pps | CPU per packet returned | × C reflector | loss % |\n|---|---|---|---|---|---|\n")
	floor := map[float64]float64{}
	for _, a := range r.Appliance {
		if a.Reflector == reflectorC {
			floor[a.TargetPPS] = a.CPUPerPkt.Median
		}
	}
	for _, a := range r.Appliance {
		ratio := "–"
		if f := floor[a.TargetPPS]; f > 0 {
			ratio = fmt.Sprintf("%.2f×", a.CPUPerPkt.Median/f)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", rateName(a.TargetPPS), a.Reflector,
			rangeOf(a.OfferedPPS, pps), rangeOf(a.CPUPerPkt, ns), ratio,
			rangeOf(a.LossPct, func(x float64) string { return fmt.Sprintf("%.2f", x) }))
	}
	b.WriteString("\n")
	return b.String()
}
