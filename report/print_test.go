package report_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// writes records each Write as one string. It has no lock of its own: the
// Printer's must keep writers apart (go test -race tells).
type writes struct{ got []string }

func (w *writes) Write(b []byte) (int, error) {
	w.got = append(w.got, string(b))
	return len(b), nil
}

// TestPrinterFormats: JSON is the report's JSON on one line, text is
// WriteText's table, each written with one Write.
func TestPrinterFormats(t *testing.T) {
	w, _ := window(t, 1)
	r := report.Build(w, nil)
	line, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := report.WriteText(&table, r); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[report.Format]string{report.FormatJSON: string(line) + "\n", report.FormatText: table.String()} {
		var out writes
		if err := report.NewPrinter(&out, f).Print(r); err != nil {
			t.Fatal(err)
		}
		if len(out.got) != 1 || out.got[0] != want {
			t.Errorf("%v: writes %q\nwant one: %q", f, out.got, want)
		}
	}
}

// TestPrinterTwoGoroutines: the coordinator and the fleet's goroutine
// print at once; every report arrives whole, none is lost.
func TestPrinterTwoGoroutines(t *testing.T) {
	w, _ := window(t, 1)
	own := report.Build(w, nil)
	w.Scope = report.ScopeFleet
	fleet := report.Build(w, nil)
	for _, f := range []report.Format{report.FormatJSON, report.FormatText} {
		var out writes
		p := report.NewPrinter(&out, f)
		const n = 200
		var wg sync.WaitGroup
		for _, r := range []*report.Report{own, fleet} {
			wg.Go(func() {
				for range n {
					if err := p.Print(r); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if len(out.got) != 2*n {
			t.Fatalf("%v: %d writes, want %d", f, len(out.got), 2*n)
		}
		if f != report.FormatJSON {
			continue
		}
		scopes := map[string]int{}
		for _, s := range out.got {
			var r report.Report
			if err := json.Unmarshal([]byte(s), &r); err != nil || strings.Count(s, "\n") != 1 {
				t.Fatalf("write %q is not one report line: %v", s, err)
			}
			scopes[r.Scope]++
		}
		if scopes[report.ScopeFleet] != n || scopes[own.Scope] != n {
			t.Errorf("reports by scope %v, want %d each", scopes, n)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []report.Format{report.FormatText, report.FormatJSON} {
		if g, err := report.ParseFormat(f.String()); err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", f.String(), g, err, f)
		}
	}
	if _, err := report.ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted it")
	}
}

// TestLookupInfo: a nil Lookup knows nothing; otherwise Info is what the
// lookup returns.
func TestLookupInfo(t *testing.T) {
	a := netip.MustParseAddr("10.0.1.5")
	var none report.Lookup
	if i := none.Info(a); !i.IsZero() {
		t.Errorf("nil Lookup: %+v", i)
	}
	l := report.Lookup(func(b netip.Addr) (enrich.Info, bool) {
		if b == a {
			return enrich.Info{Name: "web-01"}, true
		}
		return enrich.Info{}, false
	})
	if i := l.Info(a); i.Name != "web-01" {
		t.Errorf("Info(%v) = %+v, want web-01", a, i)
	}
	if i := l.Info(netip.MustParseAddr("10.0.1.6")); !i.IsZero() {
		t.Errorf("Info of an unknown address = %+v", i)
	}
}
