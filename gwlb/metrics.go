package gwlb

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the workers' counters at scrape time: the packet path
// only adds to its own worker's atomics, once per batch.
type collector struct {
	rf                                         *Reflector
	rxPkts, rxBytes, txPkts, txBytes, sendErrs *prometheus.Desc
	malformed, drops, healthy, workers         *prometheus.Desc
}

// Stats are the reflector's counters summed over its workers.
type Stats struct {
	Received, ReceivedBytes uint64 // datagrams and UDP payload bytes received
	Returned, ReturnedBytes uint64 // returned to their GWLB
	Malformed               uint64 // dropped, all reasons
	SendErrors              uint64 // valid, but refused by the kernel
}

// Stats returns the counters now; any goroutine may call it.
func (rf *Reflector) Stats() Stats {
	var st Stats
	for _, w := range rf.workers {
		s := &w.stats
		st.Received += s.rxPkts.Load()
		st.ReceivedBytes += s.rxBytes.Load()
		st.Returned += s.txPkts.Load()
		st.ReturnedBytes += s.txBytes.Load()
		st.SendErrors += s.sendErrors.Load()
		for r := range s.malformed {
			st.Malformed += s.malformed[r].Load()
		}
	}
	return st
}

// Register registers the reflector's metrics (dxmon_appliance_*) with reg.
func (rf *Reflector) Register(reg prometheus.Registerer) error {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("dxmon_appliance_"+name, help, labels, nil)
	}
	return reg.Register(&collector{rf: rf,
		rxPkts:    d("received_packets_total", "Geneve datagrams received on the GWLB port."),
		rxBytes:   d("received_bytes_total", "UDP payload bytes received on the GWLB port."),
		txPkts:    d("returned_packets_total", "Geneve datagrams returned to the GWLB that sent them."),
		txBytes:   d("returned_bytes_total", "UDP payload bytes returned to the GWLB."),
		sendErrs:  d("send_errors_total", "Valid datagrams the kernel refused to send back."),
		malformed: d("malformed_packets_total", "Datagrams dropped, not returned, by reason.", "reason"),
		drops:     d("kernel_drops_total", "Datagrams the kernel dropped on the receive sockets (buffer full), as last seen."),
		healthy:   d("healthy", "1 while every socket is open and every worker runs: what the health check answers."),
		workers:   d("workers", "Reflecting sockets, one goroutine each."),
	})
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rxPkts, c.rxBytes, c.txPkts, c.txBytes, c.sendErrs, c.malformed, c.drops, c.healthy, c.workers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var rxP, rxB, txP, txB, se uint64
	var mal [numReasons]uint64
	for _, w := range c.rf.workers {
		s := &w.stats
		rxP += s.rxPkts.Load()
		rxB += s.rxBytes.Load()
		txP += s.txPkts.Load()
		txB += s.txBytes.Load()
		se += s.sendErrors.Load()
		for r := range mal {
			mal[r] += s.malformed[r].Load()
		}
	}
	var drops uint64
	for _, r := range c.rf.group.Readers() {
		drops += r.Drops()
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.rxPkts, rxP)
	counter(c.rxBytes, rxB)
	counter(c.txPkts, txP)
	counter(c.txBytes, txB)
	counter(c.sendErrs, se)
	for _, r := range Reasons() {
		counter(c.malformed, mal[r], r.String())
	}
	counter(c.drops, drops)
	h := 0.0
	if c.rf.Healthy() {
		h = 1
	}
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, h)
	ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(len(c.rf.workers)))
}
