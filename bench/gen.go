package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// genConfig says what the traffic generator sends.
type genConfig struct {
	Addr     netip.AddrPort // destination (any address; tests use loopback)
	Rate     float64        // packets per second over all senders; 0 = flat out
	Duration time.Duration  // stop after this long
	Count    int64          // and after this many packets in total (0: rate × duration, or 1e9 flat out)
	Flows    int            // distinct flows (ignored in flood mode)
	Zipf     float64        // 0: flows uniform; > 1: Zipf skew with this exponent
	IPv6     float64        // fraction of flows that are IPv6
	Geneve   bool           // Geneve instead of VXLAN
	GWLB     bool           // VXLAN around GWLB's Geneve around the flow (a GWLB appliance ENI's mirror)
	Flood    bool           // a random 5-tuple per packet
	Senders  int            // sender goroutines, one socket (source port) each
	Batch    int            // packets per sendmmsg
	VNI      uint32
	Snap     int // inner frame cut, bytes (128 on AWS)
	Seed     uint64
}

// senderStats is what one sender sent.
type senderStats struct {
	Source  string  `json:"source"`
	Packets int64   `json:"packets"`
	Bytes   int64   `json:"bytes"`
	PPS     float64 `json:"pps"`
	Refused int64   `json:"refused"` // sends refused: nothing listened at the destination
}

// genStats is what the generator sent.
type genStats struct {
	Packets int64         `json:"packets"`
	Bytes   int64         `json:"bytes"` // UDP payload bytes
	Elapsed time.Duration `json:"elapsed_ns"`
	Senders []senderStats `json:"senders"`
}

// PPS is the achieved packet rate.
func (s genStats) PPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Packets) / s.Elapsed.Seconds()
}

// sender sends a batch of datagrams: reuseport.Sender on loopback,
// mmsgSender elsewhere.
type sender interface {
	Send(pkts [][]byte) (int, error)
	Close() error
}

// newSender opens a sender to dst: reuseport's loopback-only Sender when dst
// is loopback (unless forceSyscall), bench's own sendmmsg path otherwise.
func newSender(dst netip.AddrPort, forceSyscall bool) (sender, string, error) {
	if dst.Addr().Unmap().IsLoopback() && !forceSyscall {
		s, err := reuseport.NewSender(dst)
		if err != nil {
			return nil, "", err
		}
		return s, s.LocalAddr().String(), nil
	}
	s, err := newMmsgSender(dst)
	if err != nil {
		return nil, "", err
	}
	return s, s.conn.LocalAddr().String(), nil
}

func (c *genConfig) check() error {
	switch {
	case !c.Addr.IsValid() || c.Addr.Port() == 0:
		return fmt.Errorf("-addr %q: need host:port", c.Addr)
	case c.Rate < 0:
		return fmt.Errorf("-rate %v: must be >= 0", c.Rate)
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("-duration %v: must be in (0, 24h]", c.Duration)
	case c.Count < 0:
		return fmt.Errorf("-count %d: must be >= 0", c.Count)
	case c.Flows < 1 || c.Flows > 1<<24:
		return fmt.Errorf("-flows %d: must be in [1, 16777216]", c.Flows)
	case c.Zipf != 0 && c.Zipf <= 1:
		return fmt.Errorf("-zipf %v: must be 0 (uniform) or > 1", c.Zipf)
	case c.IPv6 < 0 || c.IPv6 > 1:
		return fmt.Errorf("-ipv6 %v: must be in [0, 1]", c.IPv6)
	case c.Senders < 1 || c.Senders > 64:
		return fmt.Errorf("-senders %d: must be in [1, 64]", c.Senders)
	case c.Batch < 1 || c.Batch > 1024:
		return fmt.Errorf("-batch %d: must be in [1, 1024]", c.Batch)
	case c.VNI >= 1<<24:
		return fmt.Errorf("-vni %d: exceeds 24 bits", c.VNI)
	case c.Snap != 0 && c.Snap < 64:
		return fmt.Errorf("-snap %d: must be 0 or >= 64", c.Snap)
	}
	return nil
}

// flowSpec returns the mirror packet of flow i (deterministic: the same i
// gives the same 5-tuple and length on every run and every sender).
func (c *genConfig) flowSpec(i uint32, s *vxlan.Spec) {
	h := mix(uint64(i) ^ c.Seed<<32)
	v6 := float64(h>>11)/(1<<53) < c.IPv6
	*s = vxlan.Spec{Geneve: c.Geneve, VNI: c.VNI, Snap: c.Snap, Proto: vxlan.ProtoTCP}
	c.gwlb(s, h)
	if h&3 == 0 {
		s.Proto = vxlan.ProtoUDP
	}
	ports := [...]uint16{443, 80, 53, 8080, 22, 3306, 5432, 6379}
	s.SrcPort = uint16(1024 + (h>>8)%60000)
	s.DstPort = ports[(h>>40)%uint64(len(ports))]
	s.Length = 64 + int((h>>20)%1437)
	if v6 {
		s.Src = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		s.Dst = netip.AddrFrom16([16]byte{0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(h >> 48)})
	} else {
		s.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.Dst = netip.AddrFrom4([4]byte{172, 16, byte(h >> 56), byte(h >> 48)})
	}
}

// gwlb makes s a GWLB packet when c.GWLB: one of four endpoints, by h.
func (c *genConfig) gwlb(s *vxlan.Spec, h uint64) {
	if c.GWLB {
		s.Geneve, s.GWLB, s.GWLBEndpointID, s.GWLBFlowCookie = false, true, 0x0123456789abcde0+h%4, uint32(h>>32)
	}
}

// floodSpec returns a packet of a random 5-tuple.
func (c *genConfig) floodSpec(r *rand.Rand, s *vxlan.Spec) {
	*s = vxlan.Spec{Geneve: c.Geneve, VNI: c.VNI, Snap: c.Snap, Proto: vxlan.ProtoTCP,
		SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Length: 64 + r.IntN(1437)}
	c.gwlb(s, r.Uint64())
	if r.Uint32()&1 == 0 {
		s.Proto = vxlan.ProtoUDP
	}
	if r.Float64() < c.IPv6 {
		var a, b [16]byte
		a[0], b[0] = 0xfd, 0xfd
		put64(a[8:], r.Uint64())
		put64(b[8:], r.Uint64())
		s.Src, s.Dst = netip.AddrFrom16(a), netip.AddrFrom16(b)
	} else {
		x := r.Uint64()
		s.Src = netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)})
		s.Dst = netip.AddrFrom4([4]byte{172, 16, byte(x >> 32), byte(x >> 40)})
	}
}

func put64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// mix is splitmix64's finaliser: a fixed, well-spread hash of a counter.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// poolMax bounds the packets pre-encoded per sender; beyond it packets are
// encoded as they are sent.
const poolMax = 1 << 16

// packetSource fills batches of packets to send.
type packetSource struct {
	cfg  *genConfig
	pool [][]byte // pre-encoded packets, sent in a cycle (nil: encode live)
	next int
	rng  *rand.Rand
	zipf *rand.Zipf
	bufs [][]byte // live mode: one buffer per batch slot
	spec vxlan.Spec
}

func newPacketSource(c *genConfig, id int) (*packetSource, error) {
	ps := &packetSource{cfg: c, rng: rand.New(rand.NewPCG(c.Seed, uint64(id)+1))}
	if c.Zipf > 1 {
		ps.zipf = rand.NewZipf(ps.rng, c.Zipf, 1, uint64(c.Flows-1))
	}
	switch {
	case c.Flood:
	case c.Zipf > 1: // a sample of the skewed distribution, sent in a cycle
		n := min(poolMax, max(1024, 16*c.Flows))
		for range n {
			if err := ps.addPool(uint32(ps.zipf.Uint64())); err != nil {
				return nil, err
			}
		}
	case c.Flows <= poolMax: // every flow once, in a cycle: exactly uniform
		for i := range c.Flows {
			if err := ps.addPool(uint32(i)); err != nil {
				return nil, err
			}
		}
	}
	if ps.pool == nil {
		ps.bufs = make([][]byte, c.Batch)
		for i := range ps.bufs {
			ps.bufs[i] = make([]byte, 0, 512)
		}
	}
	return ps, nil
}

func (ps *packetSource) addPool(i uint32) error {
	ps.cfg.flowSpec(i, &ps.spec)
	b, err := vxlan.Append(nil, &ps.spec)
	if err != nil {
		return fmt.Errorf("encode flow %d: %w", i, err)
	}
	ps.pool = append(ps.pool, b)
	return nil
}

// fill sets pkts[i] to the next packets.
func (ps *packetSource) fill(pkts [][]byte) error {
	if ps.pool != nil {
		for i := range pkts {
			pkts[i] = ps.pool[ps.next]
			if ps.next++; ps.next == len(ps.pool) {
				ps.next = 0
			}
		}
		return nil
	}
	for i := range pkts {
		if ps.cfg.Flood {
			ps.cfg.floodSpec(ps.rng, &ps.spec)
		} else {
			ps.cfg.flowSpec(uint32(ps.rng.IntN(ps.cfg.Flows)), &ps.spec)
		}
		b, err := vxlan.Append(ps.bufs[i][:0], &ps.spec)
		if err != nil {
			return err
		}
		ps.bufs[i] = b
		pkts[i] = b
	}
	return nil
}

// pace sends from src through s until the deadline, ctx's end or count
// packets, at rate packets per second (0: flat out), in batches of batch.
// Both bounds hold whatever the rate: every load loop ends.
//
// A refused send (ICMP port unreachable from a host where nothing listens
// yet) is counted in refused and not in pkts, and sending goes on.
func pace(ctx context.Context, s sender, src *packetSource, rate float64, count int64, deadline time.Time, batch int) (pkts, bytes, refused int64, err error) {
	buf := make([][]byte, batch)
	start := time.Now()
	for pkts < count {
		now := time.Now()
		if !now.Before(deadline) || ctx.Err() != nil {
			break
		}
		k := int64(batch)
		if rate > 0 {
			due := int64(rate * now.Sub(start).Seconds())
			if due <= pkts {
				// Pacing, not synchronisation: wait until the next batch is due.
				wait := time.Duration(float64(pkts+k-due) / rate * float64(time.Second))
				time.Sleep(min(wait, deadline.Sub(now), 10*time.Millisecond))
				continue
			}
			k = min(k, due-pkts)
		}
		k = min(k, count-pkts)
		b := buf[:k]
		if err := src.fill(b); err != nil {
			return pkts, bytes, refused, err
		}
		n, err := s.Send(b)
		for _, p := range b[:n] {
			bytes += int64(len(p))
		}
		pkts += int64(n)
		if errors.Is(err, syscall.ECONNREFUSED) {
			refused++
			continue
		}
		if err != nil {
			return pkts, bytes, refused, err
		}
	}
	return pkts, bytes, refused, nil
}

// generate runs cfg.Senders senders in parallel and sums what they sent.
func generate(ctx context.Context, cfg genConfig, forceSyscall bool) (genStats, error) {
	if err := cfg.check(); err != nil {
		return genStats{}, err
	}
	count := cfg.Count
	if count == 0 {
		count = 1_000_000_000
		if cfg.Rate > 0 {
			count = int64(cfg.Rate*cfg.Duration.Seconds()) + 1
		}
	}
	type result struct {
		st  senderStats
		err error
	}
	res := make([]result, cfg.Senders)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for i := range cfg.Senders {
		share := count / int64(cfg.Senders)
		if int64(i) < count%int64(cfg.Senders) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			src, err := newPacketSource(&cfg, i)
			if err != nil {
				res[i].err = err
				return
			}
			s, local, err := newSender(cfg.Addr, forceSyscall)
			if err != nil {
				res[i].err = err
				return
			}
			defer s.Close()
			t0 := time.Now()
			p, b, refused, err := pace(ctx, s, src, cfg.Rate/float64(cfg.Senders), share, deadline, cfg.Batch)
			res[i] = result{senderStats{Source: local, Packets: p, Bytes: b, Refused: refused, PPS: float64(p) / time.Since(t0).Seconds()}, err}
		}()
	}
	wg.Wait()
	st := genStats{Elapsed: time.Since(start)}
	var errs []error
	for _, r := range res {
		st.Packets += r.st.Packets
		st.Bytes += r.st.Bytes
		st.Senders = append(st.Senders, r.st)
		errs = append(errs, r.err)
	}
	return st, errors.Join(errs...)
}

// genMain is the gen subcommand.
func genMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg genConfig
	addr := fs.String("addr", "127.0.0.1:4789", "destination host:port (any address; a mirror target listens on 4789, Geneve on 6081)")
	fs.Float64Var(&cfg.Rate, "rate", 100_000, "packets per second over all senders; 0 = as fast as the senders go")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
	fs.Int64Var(&cfg.Count, "count", 0, "stop after this many packets (0 = rate × duration)")
	fs.IntVar(&cfg.Flows, "flows", 1000, "distinct flows (5-tuples)")
	fs.Float64Var(&cfg.Zipf, "zipf", 0, "Zipf exponent of the flows' popularity (> 1); 0 = uniform")
	fs.Float64Var(&cfg.IPv6, "ipv6", 0, "fraction of flows that are IPv6")
	fs.BoolVar(&cfg.Geneve, "geneve", false, "send Geneve instead of VXLAN")
	fs.BoolVar(&cfg.GWLB, "gwlb", false, "send VXLAN around a Gateway Load Balancer's Geneve (AWS's options) around each flow, as a GWLB appliance ENI's mirror does")
	fs.BoolVar(&cfg.Flood, "flood", false, "a random 5-tuple per packet (ignores -flows and -zipf)")
	fs.IntVar(&cfg.Senders, "senders", 1, "sender goroutines, one socket and source port each")
	fs.IntVar(&cfg.Batch, "batch", 64, "packets per sendmmsg")
	vni := fs.Uint("vni", 12345, "VXLAN/Geneve network identifier")
	fs.IntVar(&cfg.Snap, "snap", 128, "cut the inner Ethernet frame to this many bytes, as a mirror session does")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed (flows are a function of it)")
	jsonOut := fs.Bool("json", false, "print what was sent as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	cfg.Addr, cfg.VNI = ap, uint32(*vni)
	if *vni >= 1<<24 {
		return fmt.Errorf("-vni %d: exceeds 24 bits", *vni)
	}
	st, err := generate(ctx, cfg, false)
	if *jsonOut {
		fmt.Fprintf(stdout, `{"packets":%d,"bytes":%d,"seconds":%.3f,"pps":%.0f}`+"\n", st.Packets, st.Bytes, st.Elapsed.Seconds(), st.PPS())
	} else {
		fmt.Fprint(stdout, describeGen(&cfg, &st))
	}
	return err
}

// describeGen says what was sent, for people.
func describeGen(cfg *genConfig, st *genStats) string {
	var b strings.Builder
	encap := "VXLAN"
	if cfg.Geneve {
		encap = "Geneve"
	}
	flows := fmt.Sprintf("%d flows, uniform", cfg.Flows)
	if cfg.Zipf > 1 {
		flows = fmt.Sprintf("%d flows, Zipf s=%.2f", cfg.Flows, cfg.Zipf)
	}
	if cfg.Flood {
		flows = "flood (random 5-tuple per packet)"
	}
	rate := "flat out"
	if cfg.Rate > 0 {
		rate = fmt.Sprintf("target %.0f pps", cfg.Rate)
	}
	fmt.Fprintf(&b, "sent %d packets, %d bytes of UDP payload, in %.3fs: %.0f pps, %.1f Mbit/s (%s)\n",
		st.Packets, st.Bytes, st.Elapsed.Seconds(), st.PPS(), float64(st.Bytes)*8/st.Elapsed.Seconds()/1e6, rate)
	fmt.Fprintf(&b, "to %s: %s VNI %d, inner frames cut to %d bytes, %s, %.0f%% IPv6, %d sender(s), batches of %d\n",
		cfg.Addr, encap, cfg.VNI, cfg.Snap, flows, cfg.IPv6*100, cfg.Senders, cfg.Batch)
	for _, s := range st.Senders {
		fmt.Fprintf(&b, "  from %s: %d packets, %d bytes, %.0f pps\n", s.Source, s.Packets, s.Bytes, s.PPS)
		if s.Refused > 0 {
			fmt.Fprintf(&b, "  from %s: %d sends refused (ICMP port unreachable: is anything listening on %s?)\n", s.Source, s.Refused, cfg.Addr)
		}
	}
	return b.String()
}
