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
	"runtime"
	"sync/atomic"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// The harness runs each measured reader in a child process (itself,
// re-executed with childEnv naming the role and childConfigEnv holding a
// JSON childConfig), so that the child's getrusage counts the reader only.
const (
	childEnv       = "DXMON_BENCH_CHILD"
	childConfigEnv = "DXMON_BENCH_CONFIG"
)

// idleStop is how long a reader must see no packet, after its standard
// input closed, before it stops: the harness closes it once the sender is
// done, so every packet that reached the socket is counted.
const idleStop = 50 * time.Millisecond

// childConfig is a child's task.
type childConfig struct {
	RecvBuffer int `json:"recv_buffer"`
	// Flood measurement only.
	Flows    int `json:"flows"`
	MaxFlows int `json:"max_flows"`
}

// childResult is a reader child's one line of output; floor.c prints the
// same fields.
type childResult struct {
	Packets     uint64 `json:"packets"`
	Bytes       uint64 `json:"bytes"`
	Reads       uint64 `json:"reads"`
	Decoded     uint64 `json:"decoded"`
	UserNS      int64  `json:"utime_ns"`
	SysNS       int64  `json:"stime_ns"`
	MaxRSSKB    int64  `json:"maxrss_kb"`
	Mallocs     uint64 `json:"mallocs"`
	KernelDrops uint64 `json:"kernel_drops"`
	// SteadyMallocs are the heap allocations between the first packet and
	// the end of the sending (start-up and shutdown excluded), over
	// SteadyPackets packets; Go readers only.
	SteadyMallocs uint64 `json:"steady_mallocs"`
	SteadyPackets uint64 `json:"steady_packets"`
	// Flood measurement only.
	Flood *floodResult `json:"flood,omitempty"`
	// Appliance scenario only: datagrams sent back, and refused.
	Returned   uint64 `json:"returned,omitempty"`
	SendErrors uint64 `json:"send_errors,omitempty"`
}

// childMain runs the child role; its exit status is the process's.
func childMain(role string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childConfigEnv)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %s: %v\n", role, childConfigEnv, err)
		return 2
	}
	var (
		res childResult
		err error
	)
	switch role {
	case "naive":
		res, err = naiveReader(cfg, os.Stdin, os.Stdout)
	case "pipeline":
		res, err = pipelineReader(cfg, reuseport.WaitDefault, os.Stdin, os.Stdout)
	case "pipeline-netpoll":
		res, err = pipelineReader(cfg, reuseport.WaitNetpoll, os.Stdin, os.Stdout)
	case "pipeline-blocking":
		res, err = pipelineReader(cfg, reuseport.WaitBlocking, os.Stdin, os.Stdout)
	case "flood":
		res, err = floodChild(cfg)
	case "appliance":
		res, err = applianceChild(cfg, os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// meter takes the rusage and allocation count at the start of a run.
type meter struct {
	u       usage
	mallocs uint64
}

func startMeter() (meter, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u, err := selfUsage()
	return meter{u: u, mallocs: ms.Mallocs}, err
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

func (m meter) stop(r *childResult) error {
	u, err := selfUsage()
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.UserNS, r.SysNS = int64(u.User-m.u.User), int64(u.Sys-m.u.Sys)
	r.MaxRSSKB = u.MaxRSSKB
	r.Mallocs = ms.Mallocs - m.mallocs
	return nil
}

// naiveReader is what one writes first in Go: one net.UDPConn,
// ReadFromUDPAddrPort, decode, a map update per packet.
func naiveReader(cfg childConfig, stdin io.Reader, stdout io.Writer) (childResult, error) {
	var res childResult
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if err := setRecvBuffer(conn, cfg.RecvBuffer); err != nil {
		return res, fmt.Errorf("receive buffer %d: %w", cfg.RecvBuffer, err)
	}
	m, err := startMeter()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "ready %d\n", conn.LocalAddr().(*net.UDPAddr).Port)
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		stop.Store(true)
		_ = conn.SetReadDeadline(time.Now().Add(idleStop))
	}()
	buf := make([]byte, 2048)
	flows := make(map[flow.Key]flow.Counter)
	var (
		p        vxlan.Packet
		m0       uint64
		stopSeen bool
	)
	for {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if !stopSeen && stop.Load() && res.Packets > 0 {
			stopSeen = true
			res.SteadyMallocs, res.SteadyPackets = mallocs()-m0, res.Packets-1
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && stop.Load() {
				break
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return res, err
		}
		res.Packets++
		if res.Packets == 1 {
			m0 = mallocs()
		}
		res.Reads++
		res.Bytes += uint64(n)
		if p.Decode(buf[:n]) == vxlan.OK {
			res.Decoded++
			k := flow.KeyOf(&p)
			c := flows[k]
			flows[k] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + uint64(p.Length)}
		}
		if stop.Load() {
			_ = conn.SetReadDeadline(time.Now().Add(idleStop))
		}
	}
	return res, m.stop(&res)
}

// pipelineReader is dxprobe's packet path with one worker: a reuseport
// socket read with recvmmsg (WaitDefault, as dxprobe runs it: WaitTick with
// the bench's 128 MiB buffer; or another mode to compare), decode, hash, sample, flow table, 5-second windows merged
// and reported.
func pipelineReader(cfg childConfig, wait reuseport.WaitMode, stdin io.Reader, stdout io.Writer) (childResult, error) {
	var res childResult
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 1, RecvBuffer: cfg.RecvBuffer,
		BatchSize: reuseport.DefaultBatchSize, Wait: wait})
	if err != nil {
		return res, err
	}
	defer g.Close()
	pl, err := probe.New(probe.Config{DrainGrace: idleStop}, 1)
	if err != nil {
		return res, err
	}
	m, err := startMeter()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "ready %d\n", g.LocalAddr().Port())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := pl.Workers()[0]
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	var steadyMallocs, steadyPackets uint64
	go func() {
		// Steady state: from the first packet seen to the sender's end.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var m0, p0 uint64
	wait:
		for {
			select {
			case <-eof:
				break wait
			case <-tick.C:
				if p0 == 0 {
					if p := w.Stats().RxPackets; p > 0 {
						m0, p0 = mallocs(), p
					}
				}
			}
		}
		if p0 > 0 {
			steadyMallocs, steadyPackets = mallocs()-m0, w.Stats().RxPackets-p0
		}
		// Stop once the worker saw nothing for idleStop: the socket is empty.
		last := w.Stats().RxPackets
		quiet := time.Duration(0)
		const idleTick = 10 * time.Millisecond
		for quiet < idleStop {
			time.Sleep(idleTick) // polls a counter of this process, bounded by the sender's end
			if n := w.Stats().RxPackets; n != last {
				last, quiet = n, 0
			} else {
				quiet += idleTick
			}
		}
		cancel()
		// A backstop: closing the sockets ends a drain that does not
		// end (it ends when the socket is empty, so nothing is lost).
		time.AfterFunc(4*idleStop, func() { _ = g.Close() })
	}()
	if err := pl.Run(ctx, probe.Sources(g)); err != nil {
		return res, err
	}
	st := w.Stats()
	res.SteadyMallocs, res.SteadyPackets = steadyMallocs, steadyPackets // written before cancel, read after Run
	res.Packets, res.Bytes, res.Decoded = st.RxPackets, st.RxBytes, st.DecodedPackets
	if d, err := g.KernelDrops(); err == nil {
		res.KernelDrops = d
	}
	return res, m.stop(&res)
}
