package probe

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// DropCounter reports a socket's kernel drops and granted buffer; a
// reuseport.Reader satisfies it.
type DropCounter interface {
	// KernelDrops asks the kernel for the socket's drop count (exact).
	KernelDrops() (uint64, error)
	BufferGranted() int
}

// Metrics exports a pipeline's counters to Prometheus. Counters are summed
// over workers at scrape time from values the workers publish once per
// batch, so the packet path never touches Prometheus. Label values come
// from closed sets (reason, worker, rank, dimension), except the address
// labels of the top-talker gauges, whose count is bounded by Config.Top.
type Metrics struct {
	p     *Pipeline
	socks []DropCounter

	rxPackets, rxBytes, decPackets, decBytes, sampledOut, skipped *prometheus.Desc
	kernelDrops, bufGranted                                       *prometheus.Desc
	gwlbPackets, portsCut, scopeCIDRs                             *prometheus.Desc

	activeFlows prometheus.Gauge
	overflow    prometheus.Counter
	windowBPS   prometheus.Gauge
	windowPPS   prometheus.Gauge
	dirBPS      *prometheus.GaugeVec
	dirUtil     *prometheus.GaugeVec
	reportDur   prometheus.Histogram
	windows     prometheus.Counter
	topSrcBPS   *prometheus.GaugeVec
	topDstBPS   *prometheus.GaugeVec
	topFlowBPS  *prometheus.GaugeVec
	topPortBPS  *prometheus.GaugeVec
	mu          sync.Mutex // Observe may be called from the coordinator and from tests
}

// NewMetrics registers the pipeline's metrics on reg. socks, which may be
// nil, give the kernel's per-socket drop counts, in worker order.
func NewMetrics(reg prometheus.Registerer, p *Pipeline, socks []DropCounter) *Metrics {
	m := &Metrics{p: p, socks: socks}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dxmon_probe_"+name, help, labels, nil)
	}
	m.rxPackets = d("received_packets_total", "Mirror packets read from the sockets (or capture).", "worker")
	m.rxBytes = d("received_bytes_total", "Bytes of mirror packets read (UDP payloads).", "worker")
	m.decPackets = d("decoded_packets_total", "Inner IP packets decoded and kept by the VNI and on-premises filters (before sampling), by direction: to_aws (source on-premises), from_aws (destination on-premises), unknown (no -onprem-cidrs, or both ends on-premises).", "worker", "direction")
	m.decBytes = d("decoded_bytes_total", "Inner IP bytes decoded, as the inner headers declare them, by direction (see decoded_packets_total).", "worker", "direction")
	m.sampledOut = d("sampled_out_packets_total", "Decoded packets not counted because their flow was sampled out.", "worker")
	m.skipped = d("skipped_packets_total", "Mirror packets not counted, by reason.", "reason")
	m.kernelDrops = d("kernel_drops_total", "Packets the kernel dropped on a full socket buffer (SO_RXQ_OVFL).", "worker")
	m.bufGranted = d("socket_receive_buffer_bytes", "Receive buffer the kernel granted each socket.", "worker")
	m.gwlbPackets = d("gwlb_packets_total", "Decoded packets that were a client's packet inside a Gateway Load Balancer's Geneve.", "worker")
	m.portsCut = d("ports_cut_packets_total", "GWLB client packets counted without ports: the mirror's packet length cut them before their ports.", "worker")
	m.scopeCIDRs = d("scope_cidrs", "CIDRs of the on-premises <-> VPC filter (-onprem-cidrs, -vpc-cidrs); 0 on-premises CIDRs count everything.", "list")
	m.activeFlows = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dxmon_probe_active_flows", Help: "Distinct 5-tuples in the last window."})
	m.overflow = prometheus.NewCounter(prometheus.CounterOpts{Name: "dxmon_probe_flow_overflow_packets_total", Help: "Packets of flows that arrived when a flow table was full (counted in totals, not tracked exactly)."})
	m.windowBPS = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dxmon_probe_window_bytes_per_second", Help: "Inner traffic rate (bytes per second) of the last window, scaled by 1/sample rate."})
	m.windowPPS = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dxmon_probe_window_packets_per_second", Help: "Inner packet rate of the last window, scaled by 1/sample rate."})
	m.dirBPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_window_direction_bytes_per_second", Help: "Inner traffic rate (bytes per second) of the last window by direction (to_aws, from_aws), scaled by 1/sample rate; absent without -onprem-cidrs."}, []string{"direction"})
	m.dirUtil = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_window_direction_utilization_ratio", Help: "The last window's bps by direction over -link-bps (this probe's share; sum over probes for the link); absent without -onprem-cidrs or -link-bps."}, []string{"direction"})
	m.reportDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dxmon_probe_report_duration_seconds", Help: "Time to merge the workers' tables and build a window's report.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.windows = prometheus.NewCounter(prometheus.CounterOpts{Name: "dxmon_probe_windows_total", Help: "Windows reported."})
	m.topSrcBPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_top_source_bytes_per_second", Help: "The last window's top sources (rank 1 = heaviest); at most -top series."}, []string{"rank", "ip"})
	m.topDstBPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_top_destination_bytes_per_second", Help: "The last window's top destinations; at most -top series."}, []string{"rank", "ip"})
	m.topFlowBPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_top_flow_bytes_per_second", Help: "The last window's top 5-tuples; at most -top series."}, []string{"rank", "src", "dst", "proto", "sport", "dport"})
	m.topPortBPS = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dxmon_probe_top_destination_port_bytes_per_second", Help: "The last window's top (protocol, destination port) pairs; at most -top series."}, []string{"rank", "proto", "port"})
	reg.MustRegister(m, m.activeFlows, m.overflow, m.windowBPS, m.windowPPS, m.dirBPS, m.dirUtil, m.reportDur, m.windows, m.topSrcBPS, m.topDstBPS, m.topFlowBPS, m.topPortBPS)
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.rxPackets, m.rxBytes, m.decPackets, m.decBytes, m.sampledOut, m.skipped, m.kernelDrops, m.bufGranted,
		m.gwlbPackets, m.portsCut, m.scopeCIDRs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it sums the workers' published
// counters.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	var skipped [vxlan.NumReasons]uint64
	for i, w := range m.p.Workers() {
		s := w.Stats()
		id := strconv.Itoa(i)
		ch <- prometheus.MustNewConstMetric(m.rxPackets, prometheus.CounterValue, float64(s.RxPackets), id)
		ch <- prometheus.MustNewConstMetric(m.rxBytes, prometheus.CounterValue, float64(s.RxBytes), id)
		for d, c := range s.Decoded {
			dir := flow.Direction(d).String()
			ch <- prometheus.MustNewConstMetric(m.decPackets, prometheus.CounterValue, float64(c.Packets), id, dir)
			ch <- prometheus.MustNewConstMetric(m.decBytes, prometheus.CounterValue, float64(c.Bytes), id, dir)
		}
		ch <- prometheus.MustNewConstMetric(m.sampledOut, prometheus.CounterValue, float64(s.SampledOut), id)
		ch <- prometheus.MustNewConstMetric(m.gwlbPackets, prometheus.CounterValue, float64(s.GWLBPackets), id)
		ch <- prometheus.MustNewConstMetric(m.portsCut, prometheus.CounterValue, float64(s.PortsCut), id)
		for r, c := range s.Skipped {
			skipped[r] += c
		}
	}
	cfg := m.p.Config()
	ch <- prometheus.MustNewConstMetric(m.scopeCIDRs, prometheus.GaugeValue, float64(len(cfg.OnPrem)), "onprem")
	ch <- prometheus.MustNewConstMetric(m.scopeCIDRs, prometheus.GaugeValue, float64(len(cfg.VPC)), "vpc")
	for r := 1; r < vxlan.NumReasons; r++ {
		ch <- prometheus.MustNewConstMetric(m.skipped, prometheus.CounterValue, float64(skipped[r]), vxlan.Reason(r).String())
	}
	for i, s := range m.socks {
		id := strconv.Itoa(i)
		if n, err := s.KernelDrops(); err == nil {
			ch <- prometheus.MustNewConstMetric(m.kernelDrops, prometheus.CounterValue, float64(n), id)
		}
		ch <- prometheus.MustNewConstMetric(m.bufGranted, prometheus.GaugeValue, float64(s.BufferGranted()), id)
	}
}

// Observe updates the per-window metrics from a report; the pipeline calls
// it through OnReport.
func (m *Metrics) Observe(d time.Duration, r *report.Report, activeFlows int, overflowPackets uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reportDur.Observe(d.Seconds())
	m.windows.Inc()
	m.activeFlows.Set(float64(activeFlows))
	m.overflow.Add(float64(overflowPackets))
	m.windowBPS.Set(r.BPS / 8)
	m.windowPPS.Set(r.PPS)
	if r.Directions != nil {
		for name, d := range map[string]*report.Direction{report.ToAWS: r.Directions.ToAWS, report.FromAWS: r.Directions.FromAWS} {
			if d == nil {
				continue
			}
			m.dirBPS.WithLabelValues(name).Set(d.BPS / 8)
			if r.LinkBPS > 0 {
				m.dirUtil.WithLabelValues(name).Set(d.BPS / r.LinkBPS)
			}
		}
	}
	secs := r.Duration().Seconds()
	bps := func(b uint64) float64 {
		if secs <= 0 {
			return 0
		}
		return float64(b) / secs
	}
	m.topSrcBPS.Reset()
	for i, h := range r.TopSrc {
		m.topSrcBPS.WithLabelValues(strconv.Itoa(i+1), h.IP.String()).Set(bps(h.Bytes))
	}
	m.topDstBPS.Reset()
	for i, h := range r.TopDst {
		m.topDstBPS.WithLabelValues(strconv.Itoa(i+1), h.IP.String()).Set(bps(h.Bytes))
	}
	m.topFlowBPS.Reset()
	for i, f := range r.TopFlows {
		m.topFlowBPS.WithLabelValues(strconv.Itoa(i+1), f.Src.String(), f.Dst.String(), report.ProtoName(f.Proto),
			strconv.Itoa(int(f.Sport)), strconv.Itoa(int(f.Dport))).Set(bps(f.Bytes))
	}
	m.topPortBPS.Reset()
	for i, p := range r.TopDport {
		m.topPortBPS.WithLabelValues(strconv.Itoa(i+1), report.ProtoName(p.Proto), strconv.Itoa(int(p.Port))).Set(bps(p.Bytes))
	}
}

// WindowsMetric is the counter of windows reported, for tests.
func (m *Metrics) WindowsMetric() prometheus.Counter { return m.windows }
