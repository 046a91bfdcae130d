package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file is a small IPFIX collector for the tests, written from RFC
// 7011 and not from the encoder: it learns templates and options templates
// from the messages and decodes data records by them, and rejects (never
// panics on) malformed input.

// decodedRecord is one data record: its template and its fields by IE.
type decodedRecord struct {
	template uint16
	fields   map[uint16][]byte
}

func (r decodedRecord) uint(ie uint16) uint64 {
	var v uint64
	for _, c := range r.fields[ie] {
		v = v<<8 | uint64(c)
	}
	return v
}

type decodedMessage struct {
	length, version      uint16
	exportTime, sequence uint32
	domain               uint32
	templates            int // template and options template records
	optionRecords        int // options data records
	records              []decodedRecord
}

type tmpl struct {
	fields []field
	scope  int
}

// collector holds templates per observation domain.
type collector struct {
	templates map[uint32]map[uint16]tmpl
	// sampling is the last samplingPacketInterval and probability per domain.
	interval    map[uint32]uint64
	probability map[uint32]float64
}

func newCollector() *collector {
	return &collector{templates: map[uint32]map[uint16]tmpl{}, interval: map[uint32]uint64{}, probability: map[uint32]float64{}}
}

var errMalformed = errors.New("malformed")

func (c *collector) decode(b []byte) (decodedMessage, error) {
	var m decodedMessage
	if len(b) < 16 {
		return m, fmt.Errorf("%w: message of %d bytes", errMalformed, len(b))
	}
	m.version = binary.BigEndian.Uint16(b)
	m.length = binary.BigEndian.Uint16(b[2:])
	m.exportTime = binary.BigEndian.Uint32(b[4:])
	m.sequence = binary.BigEndian.Uint32(b[8:])
	m.domain = binary.BigEndian.Uint32(b[12:])
	if m.version != 10 || int(m.length) != len(b) {
		return m, fmt.Errorf("%w: version %d length %d of %d", errMalformed, m.version, m.length, len(b))
	}
	ts := c.templates[m.domain]
	if ts == nil {
		ts = map[uint16]tmpl{}
		c.templates[m.domain] = ts
	}
	rest := b[16:]
	for len(rest) > 0 {
		if len(rest) < 4 {
			return m, fmt.Errorf("%w: set header", errMalformed)
		}
		id, n := binary.BigEndian.Uint16(rest), int(binary.BigEndian.Uint16(rest[2:]))
		if n < 4 || n > len(rest) {
			return m, fmt.Errorf("%w: set length %d", errMalformed, n)
		}
		set := rest[4:n]
		rest = rest[n:]
		switch {
		case id == 2 || id == 3:
			for len(set) >= 4 {
				tid, count := binary.BigEndian.Uint16(set), int(binary.BigEndian.Uint16(set[2:]))
				set = set[4:]
				scope := 0
				if id == 3 {
					if len(set) < 2 {
						return m, fmt.Errorf("%w: options template header", errMalformed)
					}
					scope = int(binary.BigEndian.Uint16(set))
					set = set[2:]
					if scope == 0 || scope > count {
						return m, fmt.Errorf("%w: scope count %d of %d", errMalformed, scope, count)
					}
				}
				if tid < 256 || count == 0 || len(set) < 4*count {
					return m, fmt.Errorf("%w: template %d of %d fields", errMalformed, tid, count)
				}
				t := tmpl{scope: scope}
				for i := range count {
					f := field{binary.BigEndian.Uint16(set[4*i:]), binary.BigEndian.Uint16(set[4*i+2:])}
					if f.id&0x8000 != 0 || f.length == 0 || f.length == 65535 {
						return m, fmt.Errorf("%w: field %d length %d", errMalformed, f.id, f.length)
					}
					t.fields = append(t.fields, f)
				}
				set = set[4*count:]
				ts[tid] = t
				m.templates++
			}
		case id >= 256:
			t, ok := ts[id]
			if !ok {
				return m, fmt.Errorf("%w: data set %d before its template", errMalformed, id)
			}
			size := recordLen(t.fields)
			if len(set)%size >= 4 { // padding is shorter than a record and than 4
				return m, fmt.Errorf("%w: data set of %d bytes for records of %d", errMalformed, len(set), size)
			}
			for len(set) >= size {
				r := decodedRecord{template: id, fields: map[uint16][]byte{}}
				off := 0
				for _, f := range t.fields {
					r.fields[f.id] = set[off : off+int(f.length)]
					off += int(f.length)
				}
				set = set[size:]
				if t.scope > 0 {
					if v, ok := r.fields[IESamplingPacketInterval]; ok {
						c.interval[m.domain] = r.uint(IESamplingPacketInterval)
						_ = v
					}
					if v, ok := r.fields[IESamplingProbability]; ok && len(v) == 8 {
						c.probability[m.domain] = math.Float64frombits(binary.BigEndian.Uint64(v))
					}
					m.optionRecords++
					continue
				}
				m.records = append(m.records, r)
			}
		default:
			return m, fmt.Errorf("%w: set ID %d", errMalformed, id)
		}
	}
	return m, nil
}
