package nicstat

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports one device's allowance counters, read from its Source
// at each scrape:
//
//	dxmon_nic_allowance_counters_supported{interface}  1 when the driver has all five, else 0
//	dxmon_nic_<counter>_total{interface}                each of AllowanceCounters, only when supported
//	dxmon_nic_stats_read_errors_total{interface}        scrapes whose read failed
//
// A device without the counters, or whose read fails, exports the gauge at
// 0 and no counter: "unknown" must not read as "nothing dropped".
type Collector struct {
	src       Source
	dev       string
	supported *prometheus.Desc
	errorsD   *prometheus.Desc
	counters  []*prometheus.Desc // in AllowanceCounters' order
	errs      atomic.Uint64
	lastErr   atomic.Pointer[error]
}

// NewCollector registers with reg a Collector of dev's statistics read
// from src (Ethtool{} on a host).
func NewCollector(reg prometheus.Registerer, src Source, dev string) (*Collector, error) {
	labels := prometheus.Labels{"interface": dev}
	c := &Collector{src: src, dev: dev,
		supported: prometheus.NewDesc("dxmon_nic_allowance_counters_supported",
			"1 when the network device's driver reports the ENA allowance counters (dxmon_nic_*_allowance_exceeded_total), 0 when it does not or they could not be read.", nil, labels),
		errorsD: prometheus.NewDesc("dxmon_nic_stats_read_errors_total",
			"Scrapes at which the device's driver statistics (SIOCETHTOOL) could not be read.", nil, labels),
	}
	help := map[string]string{
		BWInAllowanceExceeded:      "Packets the ENA device queued or dropped because the inbound aggregate bandwidth exceeded the instance's allowance.",
		BWOutAllowanceExceeded:     "Packets the ENA device queued or dropped because the outbound aggregate bandwidth exceeded the instance's allowance.",
		PPSAllowanceExceeded:       "Packets the ENA device queued or dropped because the bidirectional packets per second exceeded the instance's allowance.",
		ConntrackAllowanceExceeded: "Packets the ENA device dropped because connection tracking exceeded the instance's allowance.",
		LinklocalAllowanceExceeded: "Packets to link-local services (DNS, IMDS, time sync) the ENA device dropped past the interface's PPS allowance.",
	}
	for _, n := range AllowanceCounters {
		c.counters = append(c.counters, prometheus.NewDesc("dxmon_nic_"+n+"_total", help[n], nil, labels))
	}
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Device returns the device read.
func (c *Collector) Device() string { return c.dev }

// Read reads the allowance counters now: their values and whether the
// device has them. A read that fails returns its error.
func (c *Collector) Read() (map[string]uint64, bool, error) {
	st, err := c.src.Stats(c.dev)
	if err != nil {
		return nil, false, err
	}
	v, ok := Allowances(st)
	return v, ok, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.supported
	ch <- c.errorsD
	for _, d := range c.counters {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	v, ok, err := c.Read()
	if err != nil {
		c.errs.Add(1)
		c.lastErr.Store(&err)
	}
	sup := 0.0
	if ok {
		sup = 1
		for i, n := range AllowanceCounters {
			ch <- prometheus.MustNewConstMetric(c.counters[i], prometheus.CounterValue, float64(v[n]))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.supported, prometheus.GaugeValue, sup)
	ch <- prometheus.MustNewConstMetric(c.errorsD, prometheus.CounterValue, float64(c.errs.Load()))
}

// LastError returns the error of the last failed read, or nil.
func (c *Collector) LastError() error {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}
