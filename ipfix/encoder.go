package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dxmon/dxmon/flow"
)

// Information Element identifiers (IANA "IPFIX Information Elements"
// registry; types in the comments; see the package documentation).
const (
	IEOctetDeltaCount          = 1   // unsigned64
	IEPacketDeltaCount         = 2   // unsigned64
	IEProtocolIdentifier       = 4   // unsigned8
	IESourceTransportPort      = 7   // unsigned16
	IESourceIPv4Address        = 8   // ipv4Address
	IEDestinationTransportPort = 11  // unsigned16
	IEDestinationIPv4Address   = 12  // ipv4Address
	IESourceIPv6Address        = 27  // ipv6Address
	IEDestinationIPv6Address   = 28  // ipv6Address
	IESamplingInterval         = 34  // unsigned32 (deprecated for 305; still read by collectors)
	IEObservationDomainID      = 149 // unsigned32
	IEFlowDirection            = 61  // unsigned8: 0x00 ingress, 0x01 egress (see FlowDirectionOf)
	IEFlowStartMilliseconds    = 152 // dateTimeMilliseconds
	IEFlowEndMilliseconds      = 153 // dateTimeMilliseconds
	IESamplingPacketInterval   = 305 // unsigned32
	IESamplingProbability      = 311 // float64
	IELayer2SegmentID          = 351 // unsigned64
)

// Template IDs: Data Set IDs of 256 and above name a template (RFC 7011
// §3.3.2).
const (
	TemplateIPv4     = 256 // IPv4 flows
	TemplateIPv6     = 257 // IPv6 flows
	TemplateSampling = 258 // options: the sampling rate, scoped to the observation domain
)

// Set IDs of template sets (RFC 7011 §3.3.2).
const (
	setTemplate        = 2
	setOptionsTemplate = 3
)

const (
	// Version is the IPFIX message header's version number (RFC 7011 §3.1).
	Version = 10
	// headerLen is the message header; setHeaderLen a set header.
	headerLen    = 16
	setHeaderLen = 4
	// DefaultMaxMessage is the default largest message: 1400 bytes of
	// IPFIX plus 8 of UDP and 40 of IPv6 (or 20 of IPv4) stay below the
	// 1500-byte MTU of traffic leaving a VPC through an internet gateway,
	// a VPN or across peering regions, so that no export is fragmented.
	DefaultMaxMessage = 1400
	// MinMaxMessage is the smallest MaxMessage accepted: one IPv6 record
	// with the message and set headers, or the template message.
	MinMaxMessage = 256
	// DefaultTemplateRefresh and DefaultTemplateRefreshMessages are how
	// often templates are sent again over UDP (RFC 7011 §8.4).
	DefaultTemplateRefresh         = 60 * time.Second
	DefaultTemplateRefreshMessages = 1000
	// VXLANSegmentType is the top byte of layer2SegmentId for a VXLAN VNI.
	VXLANSegmentType = 0x01
)

// flowDirection values (IANA "IPFIX Information Elements", element 61,
// from RFC 5102 §5.11.6: "The direction of the Flow observed at the
// Observation Point. There are only two values defined. 0x00: ingress flow
// 0x01: egress flow"). dxmon's Observation Point is the VPC's end of the
// Direct Connect or VPN link, where the mirrored appliances sit: traffic
// from on-premises enters the VPC there, traffic to on-premises leaves it.
const (
	// FlowIngress is to_aws: the source is on-premises.
	FlowIngress = 0x00
	// FlowEgress is from_aws: the destination is on-premises.
	FlowEgress = 0x01
	// FlowDirectionUnknown marks a flow of no known direction (both ends
	// on-premises, and the remainder record). The registry defines no
	// such value; 0xFF is outside its two and is what other exporters
	// (Juniper's MX, as collectors note) send for "unknown".
	FlowDirectionUnknown = 0xFF
)

// FlowDirectionOf is the flowDirection value of a flow's direction.
func FlowDirectionOf(d flow.Direction) uint8 {
	switch d {
	case flow.DirToAWS:
		return FlowIngress
	case flow.DirFromAWS:
		return FlowEgress
	}
	return FlowDirectionUnknown
}

// Config is an encoder's behaviour.
type Config struct {
	// DomainID is the message header's observation domain ID: one per
	// probe, so that a collector keeps their templates and sequence
	// numbers apart (see DomainID).
	DomainID uint32
	// MaxMessage bounds each message's length in bytes (default
	// DefaultMaxMessage); keep it within the path MTU less the UDP and IP
	// headers.
	MaxMessage int
	// SampleRate is the fraction of flows counted, in (0, 1] (default 1).
	// Records carry the counted packets and bytes; the sampling options
	// record tells collectors to scale them by 1/SampleRate.
	SampleRate float64
	// VNI, when not 0, is exported in every record as layer2SegmentId
	// (VXLAN type 0x01 in the top byte). dxmon's flows are not keyed by
	// VNI, so it is known only when the probe counts a single VNI.
	VNI uint32
	// TemplateRefresh and TemplateRefreshMessages: templates (and the
	// sampling options record) are sent before the first data message,
	// and again before any data message sent TemplateRefresh or more
	// after them or TemplateRefreshMessages data messages after them
	// (defaults DefaultTemplateRefresh, DefaultTemplateRefreshMessages).
	TemplateRefresh         time.Duration
	TemplateRefreshMessages int
	// Direction, when not nil, tells each flow's direction (probe's
	// NewClassifier, from -onprem-cidrs): every record then carries
	// flowDirection (IE 61) as the last field of its template (see
	// FlowDirectionOf). Nil leaves the field out: no direction is known.
	Direction flow.Classifier
}

func (c *Config) fill() error {
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxMessage < MinMaxMessage || c.MaxMessage > 65535 {
		return fmt.Errorf("ipfix: max message %d: want %d to 65535 bytes", c.MaxMessage, MinMaxMessage)
	}
	if c.SampleRate == 0 {
		c.SampleRate = 1
	}
	if !(c.SampleRate > 0 && c.SampleRate <= 1) {
		return fmt.Errorf("ipfix: sample rate %v: want a value in (0, 1]", c.SampleRate)
	}
	if c.VNI > 1<<24-1 {
		return fmt.Errorf("ipfix: vni %d: exceeds 24 bits", c.VNI)
	}
	if c.TemplateRefresh == 0 {
		c.TemplateRefresh = DefaultTemplateRefresh
	}
	if c.TemplateRefreshMessages == 0 {
		c.TemplateRefreshMessages = DefaultTemplateRefreshMessages
	}
	if c.TemplateRefresh < 0 || c.TemplateRefreshMessages < 0 {
		return errors.New("ipfix: template refresh: want positive values")
	}
	return nil
}

// field is one field specifier of a template.
type field struct{ id, length uint16 }

// Templates of flow records, in field order; layer2SegmentId is appended
// when a VNI is configured.
var (
	fieldsIPv4 = []field{{IESourceIPv4Address, 4}, {IEDestinationIPv4Address, 4}, {IEProtocolIdentifier, 1},
		{IESourceTransportPort, 2}, {IEDestinationTransportPort, 2}, {IEOctetDeltaCount, 8}, {IEPacketDeltaCount, 8},
		{IEFlowStartMilliseconds, 8}, {IEFlowEndMilliseconds, 8}}
	fieldsIPv6 = []field{{IESourceIPv6Address, 16}, {IEDestinationIPv6Address, 16}, {IEProtocolIdentifier, 1},
		{IESourceTransportPort, 2}, {IEDestinationTransportPort, 2}, {IEOctetDeltaCount, 8}, {IEPacketDeltaCount, 8},
		{IEFlowStartMilliseconds, 8}, {IEFlowEndMilliseconds, 8}}
	fieldVNI = field{IELayer2SegmentID, 8}
	fieldDir = field{IEFlowDirection, 1}
	// The sampling options template: one scope field, then the rate as
	// an interval (two IEs, for collectors that read one or the other)
	// and as a probability.
	fieldsSampling = []field{{IEObservationDomainID, 4}, {IESamplingInterval, 4}, {IESamplingPacketInterval, 4},
		{IESamplingProbability, 8}}
)

// recordLen is the length of a data record of the given fields.
func recordLen(fs []field) int {
	n := 0
	for _, f := range fs {
		n += int(f.length)
	}
	return n
}

// family is the open message of one template.
type family struct {
	template uint16
	recLen   int
	buf      []byte // the message being filled: header, set header, records
	records  int
}

// Encoder turns flows into IPFIX messages of at most Config.MaxMessage
// bytes and hands each complete message to its send function. It keeps one
// open message per template (IPv4 and IPv6 flows), so each message holds a
// single data set. Encoder is used by one goroutine; Add does not allocate.
type Encoder struct {
	cfg       Config
	send      func(msg []byte, records int)
	v4, v6    family
	templates []byte // the template message, sequence number patched in
	vni       uint64 // layer2SegmentId, 0 if none
	dirOff    int    // flowDirection's offset in a record after the ports, 0 if none
	seq       uint32 // data records sent before the next message
	sinceTmpl int    // data messages since templates were last sent
	tmplAt    time.Time
	tmplSent  bool
	now       time.Time // export time of the messages being built
	startMS   uint64
	endMS     uint64
}

// NewEncoder returns an encoder that hands every complete message to send,
// with the number of flow records it holds (0 for the template message,
// whose one options data record is not a flow).
// msg is valid only during the call: send copies it if it keeps it.
func NewEncoder(cfg Config, send func(msg []byte, records int)) (*Encoder, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	e := &Encoder{cfg: cfg, send: send}
	f4, f6 := fieldsIPv4, fieldsIPv6
	if cfg.VNI != 0 {
		e.vni = uint64(VXLANSegmentType)<<56 | uint64(cfg.VNI)
		f4 = append(f4[:len(f4):len(f4)], fieldVNI)
		f6 = append(f6[:len(f6):len(f6)], fieldVNI)
	}
	if cfg.Direction != nil {
		e.dirOff = recordLen(f4) - 8 // after the two IPv4 addresses, as r is sliced in Add
		f4 = append(f4[:len(f4):len(f4)], fieldDir)
		f6 = append(f6[:len(f6):len(f6)], fieldDir)
	}
	e.v4 = family{template: TemplateIPv4, recLen: recordLen(f4), buf: make([]byte, 0, cfg.MaxMessage)}
	e.v6 = family{template: TemplateIPv6, recLen: recordLen(f6), buf: make([]byte, 0, cfg.MaxMessage)}
	e.templates = e.templateMessage(f4, f6)
	if len(e.templates) > cfg.MaxMessage {
		return nil, fmt.Errorf("ipfix: max message %d: templates need %d bytes", cfg.MaxMessage, len(e.templates))
	}
	return e, nil
}

// templateMessage builds the message of both flow templates, the sampling
// options template and its one record.
func (e *Encoder) templateMessage(f4, f6 []field) []byte {
	b := make([]byte, headerLen, 256)
	// Template Set (RFC 7011 §3.4.1): template ID, field count, specifiers.
	set := len(b)
	b = binary.BigEndian.AppendUint16(b, setTemplate)
	b = binary.BigEndian.AppendUint16(b, 0)
	for _, t := range []struct {
		id uint16
		fs []field
	}{{TemplateIPv4, f4}, {TemplateIPv6, f6}} {
		b = binary.BigEndian.AppendUint16(b, t.id)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.fs)))
		for _, f := range t.fs {
			b = binary.BigEndian.AppendUint16(b, f.id)
			b = binary.BigEndian.AppendUint16(b, f.length)
		}
	}
	binary.BigEndian.PutUint16(b[set+2:], uint16(len(b)-set))
	// Options Template Set (§3.4.2.2): template ID, field count, scope
	// field count (at least 1), specifiers, scope fields first.
	set = len(b)
	b = binary.BigEndian.AppendUint16(b, setOptionsTemplate)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, TemplateSampling)
	b = binary.BigEndian.AppendUint16(b, uint16(len(fieldsSampling)))
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, f := range fieldsSampling {
		b = binary.BigEndian.AppendUint16(b, f.id)
		b = binary.BigEndian.AppendUint16(b, f.length)
	}
	binary.BigEndian.PutUint16(b[set+2:], uint16(len(b)-set))
	// Its data: this domain's sampling rate. The interval is 1/rate
	// rounded (exact when 1/rate is an integer); the probability is exact.
	set = len(b)
	b = binary.BigEndian.AppendUint16(b, TemplateSampling)
	b = binary.BigEndian.AppendUint16(b, 0)
	interval := uint32(math.Round(1 / e.cfg.SampleRate))
	b = binary.BigEndian.AppendUint32(b, e.cfg.DomainID)
	b = binary.BigEndian.AppendUint32(b, interval)
	b = binary.BigEndian.AppendUint32(b, interval)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.cfg.SampleRate))
	binary.BigEndian.PutUint16(b[set+2:], uint16(len(b)-set))
	return b
}

// Begin starts the records of one window: exported at now, each record
// spans [start, end) (flowStartMilliseconds, flowEndMilliseconds).
func (e *Encoder) Begin(now, start, end time.Time) {
	e.now = now
	e.startMS, e.endMS = uint64(start.UnixMilli()), uint64(end.UnixMilli())
}

// Add encodes one flow with its counted traffic; a full message is sent
// first. It does not allocate.
func (e *Encoder) Add(k *flow.Key, c flow.Counter) {
	fam := &e.v6
	if k.Version() != 6 {
		fam = &e.v4
	}
	if len(fam.buf)+fam.recLen > e.cfg.MaxMessage {
		e.flush(fam)
	}
	if len(fam.buf) == 0 {
		fam.buf = fam.buf[:headerLen+setHeaderLen]
	}
	n := len(fam.buf)
	fam.buf = fam.buf[:n+fam.recLen] // within cap: MaxMessage
	r := fam.buf[n:]
	if fam.template == TemplateIPv4 {
		copy(r[0:4], k[12:16]) // IPv4-mapped: the last four bytes
		copy(r[4:8], k[28:32])
		r = r[8:]
	} else {
		copy(r[0:32], k[0:32])
		r = r[32:]
	}
	r[0] = k[36]           // protocol
	copy(r[1:5], k[32:36]) // ports, big-endian already
	binary.BigEndian.PutUint64(r[5:], c.Bytes)
	binary.BigEndian.PutUint64(r[13:], c.Packets)
	binary.BigEndian.PutUint64(r[21:], e.startMS)
	binary.BigEndian.PutUint64(r[29:], e.endMS)
	if e.vni != 0 {
		binary.BigEndian.PutUint64(r[37:], e.vni)
	}
	if e.dirOff != 0 {
		r[e.dirOff] = FlowDirectionOf(e.cfg.Direction(k))
	}
	fam.records++
}

// Flush sends the open messages, IPv4 first.
func (e *Encoder) Flush() {
	e.flush(&e.v4)
	e.flush(&e.v6)
}

// flush completes and sends fam's message, after the templates when they
// are due.
func (e *Encoder) flush(fam *family) {
	if fam.records == 0 {
		return
	}
	if !e.tmplSent || e.sinceTmpl >= e.cfg.TemplateRefreshMessages || e.now.Sub(e.tmplAt) >= e.cfg.TemplateRefresh {
		e.SendTemplates(e.now)
	}
	b := fam.buf
	e.header(b)
	binary.BigEndian.PutUint16(b[headerLen:], fam.template)
	binary.BigEndian.PutUint16(b[headerLen+2:], uint16(len(b)-headerLen))
	e.send(b, fam.records)
	e.seq += uint32(fam.records) // modulo 2^32 (§3.1)
	e.sinceTmpl++
	fam.buf, fam.records = b[:0], 0
}

// SendTemplates sends the template message, exported at now (Add and
// Flush send it when it is due). An exporter sends it once at start, so
// that collectors that decode messages on several goroutines (goflow2)
// know the templates before a window's burst of data arrives.
func (e *Encoder) SendTemplates(now time.Time) {
	if now.After(e.now) {
		e.now = now
	}
	e.header(e.templates)
	e.send(e.templates, 0)
	e.seq++ // the sampling options record is a data record (§3.1)
	e.tmplSent, e.tmplAt, e.sinceTmpl = true, e.now, 0
}

// header writes the message header (§3.1) over b's first 16 bytes. The
// sequence number counts the data records sent before this message.
func (e *Encoder) header(b []byte) {
	binary.BigEndian.PutUint16(b[0:], Version)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint32(b[4:], uint32(e.now.Unix()))
	binary.BigEndian.PutUint32(b[8:], e.seq)
	binary.BigEndian.PutUint32(b[12:], e.cfg.DomainID)
}

// Sequence is the number of data records (flow and options records) sent
// so far, modulo 2^32.
func (e *Encoder) Sequence() uint32 { return e.seq }

// RecordLen is the length in bytes of a data record of an IPv4 (v6 false)
// or IPv6 flow.
func (e *Encoder) RecordLen(v6 bool) int {
	if v6 {
		return e.v6.recLen
	}
	return e.v4.recLen
}
