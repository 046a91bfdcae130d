package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/internal/backoff"
)

// EC2API is the part of the EC2 API the Enricher calls, with the SDK's exact
// signatures. *ec2.Client satisfies it; tests pass fakes.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// Defaults for Config's zero fields.
const (
	DefaultInterval       = 60 * time.Second
	DefaultJitter         = 0.1
	DefaultOwnerTag       = "Owner"
	DefaultRetryMin       = 5 * time.Second
	DefaultRefreshTimeout = 30 * time.Second
)

// ASGTag is the tag key EC2 Auto Scaling puts on its instances.
const ASGTag = "aws:autoscaling:groupName"

// Config configures an Enricher. Zero fields take the defaults above.
type Config struct {
	// VPCID limits both API calls to one VPC ("vpc-…"). Required.
	VPCID string
	// Interval is the time between successful refreshes (default 60 s).
	Interval time.Duration
	// Jitter spreads each wait uniformly over ±Jitter of its length, so
	// that a fleet of probes does not call the API in step. In [0, 1);
	// 0 means DefaultJitter, a negative value disables jitter.
	Jitter float64
	// OwnerTag is the tag key whose value becomes Info.Owner (default "Owner").
	OwnerTag string
	// OnPremCIDRs label addresses not found in the VPC as on-premises; the
	// first prefix that contains an address names it.
	OnPremCIDRs []netip.Prefix
	// PageSize is MaxResults for each API page (5–1000); 0 leaves it to
	// the API.
	PageSize int32
	// RetryMin is the wait after the first failed refresh; it doubles with
	// each further failure, up to Interval (default 5 s).
	RetryMin time.Duration
	// RefreshTimeout bounds one refresh, all pages of both calls (default 30 s).
	RefreshTimeout time.Duration
	// Now and Wait are the clock seams; nil means the real clock. Wait
	// returns after d, or with ctx's error when ctx ends first.
	Now  func() time.Time
	Wait func(ctx context.Context, d time.Duration) error
}

// Enricher keeps an immutable snapshot of the VPC's addresses, replaced as a
// whole by each successful refresh. Lookup and Get are safe for concurrent
// use with each other and with Refresh and Run, never lock and never allocate.
type Enricher struct {
	api     EC2API
	cfg     Config
	log     *slog.Logger
	onprem  *OnPrem // names what the snapshot does not hold
	snap    atomic.Pointer[snapshot]
	started time.Time
	m       metrics
}

type snapshot struct {
	at    time.Time
	index map[netip.Addr]int32
	infos []Info
}

type metrics struct {
	ok, failed, throttled prometheus.Counter
	entries               prometheus.Gauge
	duration              prometheus.Histogram
}

// New checks cfg and returns an Enricher with an empty snapshot; call Run (or
// Refresh) to fill it. Its metrics are registered on reg (nil: none):
// dxmon_enrich_refreshes_total{result="ok|error|throttled"},
// dxmon_enrich_entries, dxmon_enrich_snapshot_age_seconds and
// dxmon_enrich_refresh_duration_seconds.
func New(api EC2API, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Enricher, error) {
	if api == nil {
		return nil, errors.New("enrich: nil EC2 API client")
	}
	if cfg.VPCID == "" {
		return nil, errors.New("enrich: VPC ID is empty (-enrich-vpc)")
	}
	switch {
	case cfg.Interval < 0:
		return nil, fmt.Errorf("enrich: refresh interval %v is negative (-enrich-interval)", cfg.Interval)
	case cfg.Interval == 0:
		cfg.Interval = DefaultInterval
	}
	switch {
	case cfg.Jitter >= 1:
		return nil, fmt.Errorf("enrich: jitter %v is not below 1", cfg.Jitter)
	case cfg.Jitter == 0:
		cfg.Jitter = DefaultJitter
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	}
	if cfg.OwnerTag == "" {
		cfg.OwnerTag = DefaultOwnerTag
	}
	if cfg.PageSize != 0 && (cfg.PageSize < 5 || cfg.PageSize > 1000) {
		return nil, fmt.Errorf("enrich: page size %d is outside 5–1000", cfg.PageSize)
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMin > cfg.Interval {
		cfg.RetryMin = cfg.Interval
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = DefaultRefreshTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wait == nil {
		cfg.Wait = backoff.Wait
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	onprem, err := NewOnPrem(cfg.OnPremCIDRs)
	if err != nil {
		return nil, err
	}
	e := &Enricher{api: api, cfg: cfg, log: log.With("component", "enrich", "vpc", cfg.VPCID), onprem: onprem}
	e.started = cfg.Now()
	e.snap.Store(&snapshot{})
	if err := e.register(reg); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Enricher) register(reg prometheus.Registerer) error {
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dxmon_enrich_refreshes_total",
		Help: "Refreshes of the address snapshot from the EC2 API, by result (ok, error, throttled).",
	}, []string{"result"})
	e.m.ok = refreshes.WithLabelValues("ok")
	e.m.failed = refreshes.WithLabelValues("error")
	e.m.throttled = refreshes.WithLabelValues("throttled")
	e.m.entries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dxmon_enrich_entries",
		Help: "Addresses in the current snapshot.",
	})
	e.m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dxmon_enrich_refresh_duration_seconds",
		Help:    "Time taken by one refresh, successful or not.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dxmon_enrich_snapshot_age_seconds",
		Help: "Seconds since the current snapshot was taken (since start while no refresh has succeeded).",
	}, func() float64 { return e.Age().Seconds() })
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{refreshes, e.m.entries, e.m.duration, age} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("enrich: register metrics: %w", err)
		}
	}
	return nil
}

// Lookup returns what is known of ip: its VPC interface, else the on-prem
// CIDR containing it. ok is false when nothing is known. IPv4-mapped IPv6
// addresses are looked up as IPv4. It never locks or allocates.
func (e *Enricher) Lookup(ip netip.Addr) (Info, bool) {
	if p := e.Get(ip); p != nil {
		return *p, true
	}
	return Info{}, false
}

// Get is Lookup returning a pointer into the immutable snapshot, or nil when
// nothing is known: what report.Flow and report.Host carry. The Info it
// points to must not be modified. It never locks or allocates. A nil
// *Enricher (enrichment off) knows nothing.
func (e *Enricher) Get(ip netip.Addr) *Info {
	if e == nil { // enrichment off: callers need not check
		return nil
	}
	ip = ip.Unmap()
	if ip.Zone() != "" {
		ip = ip.WithZone("")
	}
	s := e.snap.Load()
	if i, ok := s.index[ip]; ok {
		return &s.infos[i]
	}
	return e.onprem.get(ip)
}

// Len is the number of addresses in the current snapshot.
func (e *Enricher) Len() int {
	if e == nil {
		return 0
	}
	return len(e.snap.Load().index)
}

// Age is the time since the current snapshot was taken, or since New while
// no refresh has succeeded.
func (e *Enricher) Age() time.Duration {
	at := e.snap.Load().at
	if at.IsZero() {
		at = e.started
	}
	return e.cfg.Now().Sub(at)
}

// Run refreshes the snapshot now and then every Interval (with jitter) until
// ctx ends, and returns nil then. A failed refresh keeps the previous
// snapshot, is counted, is logged once per streak of failures, and is retried
// after RetryMin, doubling up to Interval.
func (e *Enricher) Run(ctx context.Context) error {
	streak := 0
	for {
		err := e.Refresh(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var d time.Duration
		if err != nil {
			streak++
			if streak == 1 {
				e.log.Warn("enrichment refresh failed; keeping the previous snapshot and retrying",
					"err", err, "snapshot_entries", e.Len())
			}
			d = Backoff(streak, e.cfg.RetryMin, e.cfg.Interval)
		} else {
			if streak > 0 {
				e.log.Info("enrichment refresh recovered", "failed_refreshes", streak, "entries", e.Len())
			}
			streak = 0
			d = e.cfg.Interval
		}
		if e.cfg.Jitter > 0 {
			d = time.Duration(float64(d) * (1 + e.cfg.Jitter*(2*rand.Float64()-1)))
		}
		if e.cfg.Wait(ctx, d) != nil {
			return nil
		}
	}
}

// Backoff is the wait after the n-th consecutive failure (n ≥ 1): lo, then
// doubling each time, never more than hi.
func Backoff(n int, lo, hi time.Duration) time.Duration { return backoff.Delay(n, lo, hi) }

// Refresh reads the VPC's instances and interfaces once and, when both calls
// succeed, replaces the snapshot. On error the snapshot is kept and the
// failure counted (as throttled when the API throttled).
func (e *Enricher) Refresh(ctx context.Context) error {
	start := e.cfg.Now()
	s, err := e.load(ctx)
	e.m.duration.Observe(e.cfg.Now().Sub(start).Seconds())
	if err != nil {
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
			e.m.throttled.Inc()
		} else {
			e.m.failed.Inc()
		}
		return err
	}
	s.at = e.cfg.Now()
	e.snap.Store(s)
	e.m.ok.Inc()
	e.m.entries.Set(float64(len(s.index)))
	return nil
}

func (e *Enricher) load(ctx context.Context) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RefreshTimeout)
	defer cancel()
	b := builder{index: map[netip.Addr]int32{}}
	vpc := []types.Filter{{Name: aws.String("vpc-id"), Values: []string{e.cfg.VPCID}}}

	ip := ec2.NewDescribeInstancesPaginator(e.api, &ec2.DescribeInstancesInput{Filters: vpc},
		func(o *ec2.DescribeInstancesPaginatorOptions) { o.Limit = e.cfg.PageSize })
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("enrich: describe instances in %s: %w", e.cfg.VPCID, err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				base := Info{InstanceID: aws.ToString(in.InstanceId)}
				for _, t := range in.Tags {
					switch aws.ToString(t.Key) {
					case "Name":
						base.Name = aws.ToString(t.Value)
					case ASGTag:
						base.ASG = aws.ToString(t.Value)
					case e.cfg.OwnerTag:
						base.Owner = aws.ToString(t.Value)
					}
				}
				for _, n := range in.NetworkInterfaces {
					info := base
					info.ENI = aws.ToString(n.NetworkInterfaceId)
					info.InterfaceType = aws.ToString(n.InterfaceType)
					info.Description = aws.ToString(n.Description)
					idx := b.add(info)
					b.addr(n.PrivateIpAddress, idx)
					for _, a := range n.PrivateIpAddresses {
						b.addr(a.PrivateIpAddress, idx)
					}
					for _, a := range n.Ipv6Addresses {
						b.addr(a.Ipv6Address, idx)
					}
				}
			}
		}
	}

	np := ec2.NewDescribeNetworkInterfacesPaginator(e.api, &ec2.DescribeNetworkInterfacesInput{Filters: vpc},
		func(o *ec2.DescribeNetworkInterfacesPaginatorOptions) { o.Limit = e.cfg.PageSize })
	for np.HasMorePages() {
		page, err := np.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("enrich: describe network interfaces in %s: %w", e.cfg.VPCID, err)
		}
		for _, n := range page.NetworkInterfaces {
			if b.seen(n) {
				continue // described with its instance, which carries the tags
			}
			info := Info{
				ENI:           aws.ToString(n.NetworkInterfaceId),
				InterfaceType: string(n.InterfaceType),
				Description:   aws.ToString(n.Description),
			}
			if n.Attachment != nil {
				info.InstanceID = aws.ToString(n.Attachment.InstanceId)
			}
			for _, t := range n.TagSet {
				switch aws.ToString(t.Key) {
				case "Name":
					info.Name = aws.ToString(t.Value)
				case e.cfg.OwnerTag:
					info.Owner = aws.ToString(t.Value)
				}
			}
			idx := b.add(info)
			b.addr(n.PrivateIpAddress, idx)
			for _, a := range n.PrivateIpAddresses {
				b.addr(a.PrivateIpAddress, idx)
			}
			b.addr(n.Ipv6Address, idx)
			for _, a := range n.Ipv6Addresses {
				b.addr(a.Ipv6Address, idx)
			}
		}
	}
	return &snapshot{index: b.index, infos: b.infos}, nil
}

type builder struct {
	index map[netip.Addr]int32
	infos []Info
	enis  map[string]bool
}

func (b *builder) add(i Info) int32 {
	if i.ENI != "" {
		if b.enis == nil {
			b.enis = map[string]bool{}
		}
		b.enis[i.ENI] = true
	}
	b.infos = append(b.infos, i)
	return int32(len(b.infos) - 1)
}

func (b *builder) seen(n types.NetworkInterface) bool {
	id := aws.ToString(n.NetworkInterfaceId)
	return id != "" && b.enis[id]
}

// addr maps s to the idx-th Info unless the address is already mapped: an
// instance's view of an interface is richer than the interface's own.
func (b *builder) addr(s *string, idx int32) {
	if s == nil {
		return
	}
	a, err := netip.ParseAddr(*s)
	if err != nil {
		return
	}
	a = a.Unmap()
	if _, dup := b.index[a]; !dup {
		b.index[a] = idx
	}
}
