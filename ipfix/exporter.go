package ipfix

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/flow"
)

// DefaultQueueMessages is the default bound of an Exporter's queue: about
// 22 MiB of 1400-byte messages, a full window of one worker's default
// table (262 144 IPv4 flows make about 10 100 messages) twice over.
const DefaultQueueMessages = 1 << 14

// ExporterConfig is an Exporter's behaviour.
type ExporterConfig struct {
	Config
	// URL is the collector: udp://HOST:PORT.
	URL string
	// QueueMessages bounds the messages waiting to be sent (default
	// DefaultQueueMessages); their buffers are allocated as needed, up to
	// this many, and reused.
	QueueMessages int
}

// ParseURL checks a collector URL (udp://HOST:PORT) and returns HOST:PORT.
func ParseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "udp" {
		return "", fmt.Errorf("scheme %q: want udp://HOST:PORT", u.Scheme)
	}
	if u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", errors.New("want udp://HOST:PORT and nothing more")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", err
	}
	if host == "" || port == "" || port == "0" {
		return "", errors.New("want udp://HOST:PORT with a host and a port")
	}
	return u.Host, nil
}

// message is one encoded message waiting to be sent.
type message struct {
	b       []byte
	records int
}

// Stats are an Exporter's cumulative counters.
type Stats struct {
	// SentMessages and SentRecords were written to the socket (records:
	// data records, the template messages not counted).
	SentMessages, SentRecords uint64
	// DroppedRecords were never sent: QueueFull ones found the queue full
	// (the collector or the network is slower than the windows come),
	// SendErrors ones failed to be written (no collector listening, no
	// route).
	QueueFullRecords, SendErrorRecords uint64
	// Windows is the number of windows exported.
	Windows uint64
}

// Exporter sends every window's flows to one collector over UDP. The
// coordinator encodes a window into a bounded queue (ExportWindow never
// waits); the Exporter's own goroutine writes the queue to the socket.
// What does not fit the queue, or cannot be written, is counted, not
// waited for.
type Exporter struct {
	enc   *Encoder
	conn  net.Conn
	queue chan *message
	free  chan *message
	bufs  int // buffers allocated, at most cap(queue)
	max   int
	done  chan struct{}

	sentMsgs, sentRecs, fullRecs, errRecs, windows atomic.Uint64
}

// NewExporter checks cfg, opens the UDP socket and starts the sending
// goroutine; Close stops it.
func NewExporter(cfg ExporterConfig) (*Exporter, error) {
	addr, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ipfix: collector %q: %w", cfg.URL, err)
	}
	if cfg.QueueMessages == 0 {
		cfg.QueueMessages = DefaultQueueMessages
	}
	if cfg.QueueMessages < 1 {
		return nil, fmt.Errorf("ipfix: queue %d messages: want at least 1", cfg.QueueMessages)
	}
	x := &Exporter{queue: make(chan *message, cfg.QueueMessages), free: make(chan *message, cfg.QueueMessages),
		max: cfg.QueueMessages, done: make(chan struct{})}
	x.enc, err = NewEncoder(cfg.Config, x.enqueue)
	if err != nil {
		return nil, err
	}
	x.conn, err = net.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ipfix: collector %q: %w", cfg.URL, err)
	}
	go x.run()
	x.enc.SendTemplates(time.Now())
	return x, nil
}

// enqueue copies a finished message into a free buffer and queues it, or
// counts it dropped when the queue is full. It never blocks.
func (x *Exporter) enqueue(msg []byte, records int) {
	var m *message
	select {
	case m = <-x.free:
	default:
		if x.bufs == x.max {
			x.fullRecs.Add(uint64(records))
			return
		}
		x.bufs++
		m = &message{b: make([]byte, 0, x.enc.cfg.MaxMessage)}
	}
	m.b = append(m.b[:0], msg...)
	m.records = records
	x.queue <- m // never blocks: at most cap(queue) buffers exist
}

func (x *Exporter) run() {
	defer close(x.done)
	for m := range x.queue {
		if _, err := x.conn.Write(m.b); err != nil {
			x.errRecs.Add(uint64(m.records))
		} else {
			x.sentMsgs.Add(1)
			x.sentRecs.Add(uint64(m.records))
		}
		x.free <- m
	}
}

// ExportWindow encodes a window's flows and queues them; it satisfies
// probe.WindowExporter. Every key of m's flow dimension becomes a record
// (the flows held exactly and the heavy hitters of overflow), and what
// remains of m.Total after them (overflow traffic that no heavy hitter
// holds) becomes one record of zero addresses, ports and protocol, so that
// the records of a window always add up to its totals. Counts are those
// counted, before scaling by 1/SampleRate. It does not keep m. Call it
// from one goroutine, and not after Close.
func (x *Exporter) ExportWindow(start, end time.Time, m *flow.Merged) {
	x.enc.Begin(time.Now(), start, end)
	var sum flow.Counter
	m.Each(flow.DimFlow, func(k *flow.Key, c flow.Counter) {
		x.enc.Add(k, c)
		sum.Packets += c.Packets
		sum.Bytes += c.Bytes
	})
	if rest := RemainderOf(m.Total, sum); rest.Packets != 0 || rest.Bytes != 0 {
		var zero flow.Key
		x.enc.Add(&zero, rest)
	}
	x.enc.Flush()
	x.windows.Add(1)
}

// RemainderOf is total less the traffic of the records: what the
// remainder record carries (zero if the records hold it all).
func RemainderOf(total, records flow.Counter) flow.Counter {
	var r flow.Counter
	if total.Packets > records.Packets {
		r.Packets = total.Packets - records.Packets
	}
	if total.Bytes > records.Bytes {
		r.Bytes = total.Bytes - records.Bytes
	}
	return r
}

// Close sends what is queued, until ctx is done, then closes the socket.
// No ExportWindow may follow.
func (x *Exporter) Close(ctx context.Context) error {
	close(x.queue)
	select {
	case <-x.done:
	case <-ctx.Done():
	}
	err := x.conn.Close() // a write in progress returns
	<-x.done
	return err
}

// Stats returns the cumulative counters; safe from any goroutine.
func (x *Exporter) Stats() Stats {
	return Stats{SentMessages: x.sentMsgs.Load(), SentRecords: x.sentRecs.Load(),
		QueueFullRecords: x.fullRecs.Load(), SendErrorRecords: x.errRecs.Load(), Windows: x.windows.Load()}
}

// RegisterMetrics registers the exporter's counters on reg.
func (x *Exporter) RegisterMetrics(reg prometheus.Registerer) {
	c := func(name, help string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dxmon_ipfix_" + name, Help: help},
			func() float64 { return float64(f()) })
	}
	dropped := prometheus.NewDesc("dxmon_ipfix_dropped_records_total",
		"IPFIX data records not sent, by reason: queue_full (the collector or network is slower than the windows come) or send_error.",
		[]string{"reason"}, nil)
	reg.MustRegister(
		c("sent_messages_total", "IPFIX messages written to the collector's socket.", x.sentMsgs.Load),
		c("sent_records_total", "IPFIX data records written to the collector's socket.", x.sentRecs.Load),
		c("exported_windows_total", "Windows encoded for IPFIX export.", x.windows.Load),
		droppedCollector{desc: dropped, x: x})
}

type droppedCollector struct {
	desc *prometheus.Desc
	x    *Exporter
}

func (d droppedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d droppedCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.x.fullRecs.Load()), "queue_full")
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.x.errRecs.Load()), "send_error")
}
