package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Format is how a Printer writes reports.
type Format uint8

const (
	// FormatText is WriteText's table, for people.
	FormatText Format = iota
	// FormatJSON is one JSON object per line, the report contract
	// (docs/CONTRACTS.md).
	FormatJSON
)

// String is the format's name, as ParseFormat reads it.
func (f Format) String() string {
	if f == FormatJSON {
		return "json"
	}
	return "text"
}

// ParseFormat reads "text" or "json".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return FormatText, nil
	case "json":
		return FormatJSON, nil
	}
	return 0, fmt.Errorf("report: unknown format %q, want text or json", s)
}

// Printer writes reports to one writer in one format. It is safe for
// concurrent use: a probe with a fleet view prints its own reports from
// the coordinator and the fleet's from another goroutine, and each report
// is written whole, with one Write, never interleaved with another.
type Printer struct {
	mu     sync.Mutex
	w      io.Writer
	format Format
	enc    *json.Encoder
}

// NewPrinter returns a Printer of reports to w in format f.
func NewPrinter(w io.Writer, f Format) *Printer {
	return &Printer{w: w, format: f, enc: json.NewEncoder(w)}
}

// Print writes r: a line of JSON (FormatJSON) or WriteText's table
// (FormatText). The error is the writer's.
func (p *Printer) Print(r *Report) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.format == FormatJSON {
		return p.enc.Encode(r)
	}
	return WriteText(p.w, r)
}
