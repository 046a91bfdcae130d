package linkrate

import (
	"flag"
	"io"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"", 0}, {"0", 0}, {"1e9", 1e9}, {"10000000000", 1e10}, {"500M", 5e8}, {"1.5G", 1.5e9}, {"10G", 1e10},
		{"10Gbps", 1e10}, {"100k", 1e5}, {"100K", 1e5}, {"1T", 1e12}, {" 10G , 10G ", 2e10}, {"10G,1G,500M", 11.5e9},
		{"2.5 G", 2.5e9},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"G", "-1G", "10X", "ten", "10G,", ",", "NaN", "Inf", "1e400", "10GG", "2000T", "0x10"} {
		if v, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, v)
		} else if !strings.Contains(err.Error(), "want") && !strings.Contains(err.Error(), "more than") {
			t.Errorf("Parse(%q): error %q says nothing of what is expected", in, err)
		}
	}
}

// TestFormatRoundTrip: what Format writes, Parse reads back.
func TestFormatRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := float64(rapid.Uint64Range(0, 1e15).Draw(t, "bps"))
		got, err := Parse(Format(v))
		if err != nil {
			t.Fatalf("Parse(Format(%v) = %q): %v", v, Format(v), err)
		}
		if d := got - v; d > v*1e-12 || d < -v*1e-12 {
			t.Fatalf("Parse(Format(%v) = %q) = %v", v, Format(v), got)
		}
	})
}

func TestValueFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var v Value
	fs.Var(&v, "link-bps", "")
	if err := fs.Parse([]string{"-link-bps", "10G,10G"}); err != nil || v != 2e10 || v.String() != "20G" {
		t.Fatalf("-link-bps 10G,10G: %v, %v (%s)", err, float64(v), v.String())
	}
	if err := fs.Parse([]string{"-link-bps", "fast"}); err == nil {
		t.Fatal("-link-bps fast accepted")
	}
}

// FuzzParse: no input panics; what is accepted is finite, ≥ 0, within
// MaxBPS, and reads back through Format.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "10G", "1.5G,500M", "1e9", "-1", "Gbps", "1e308T", "0x1p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		if !(v >= 0 && v <= MaxBPS) {
			t.Fatalf("Parse(%q) = %v", s, v)
		}
		back, err := Parse(Format(v))
		if err != nil || (back-v) > v*1e-9 || (v-back) > v*1e-9 {
			t.Fatalf("Parse(Format(%v) = %q) = %v, %v", v, Format(v), back, err)
		}
	})
}
