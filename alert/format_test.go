package alert_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

func sampleReport() *report.Report {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	web := &enrich.Info{InstanceID: "i-0abc", Name: "web-01", ASG: "web-asg", Owner: "team-a", ENI: "eni-1"}
	r := &report.Report{
		WindowStart: t0, WindowEnd: t0.Add(5 * time.Second),
		Packets: 1_500_000, Bytes: 1_500_000_000, PPS: 300_000, BPS: 2.4e9, SampleRate: 1,
	}
	for i := range 7 {
		ip := netip.MustParseAddr("10.0.1." + strconv.Itoa(10+i))
		h := report.Host{IP: ip, Packets: uint64(1000 - i), Bytes: uint64(1e9) >> i}
		if i == 0 {
			h.Info = web
		}
		r.TopSrc = append(r.TopSrc, h)
		r.TopDst = append(r.TopDst, report.Host{IP: netip.MustParseAddr("192.168.7." + strconv.Itoa(i+1)), Bytes: 100})
		r.TopFlows = append(r.TopFlows, report.Flow{Src: ip, Dst: netip.MustParseAddr("192.168.7.1"), Proto: 6,
			Sport: uint16(40000 + i), Dport: 443, Packets: 10, Bytes: 1000, SrcInfo: h.Info})
	}
	return r
}

func TestFormatAlert(t *testing.T) {
	r := sampleReport()
	p, _ := alert.NewPolicy(alert.Config{})
	d := p.Observe(r, time.Now())
	if d.Kind != alert.Fire {
		t.Fatalf("2.4 Gbps did not fire: %+v", d)
	}
	lookup := func(ip netip.Addr) enrich.Info {
		if ip == netip.MustParseAddr("10.0.1.11") {
			return enrich.Info{Name: "batch-02", InstanceID: "i-0def"}
		}
		if ip.Is4() && ip.As4()[0] == 192 {
			return enrich.Info{OnPrem: "192.168.0.0/16"}
		}
		return enrich.Info{}
	}
	subject, body := alert.Format(r, d, lookup)
	t.Logf("subject: %s\n%s", subject, body)
	for _, want := range []string{"dxmon ALERT", "2.40 Gbps > 1.00 Gbps", "10.0.1.10", "web-01"} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q lacks %q", subject, want)
		}
	}
	if strings.Contains(subject, "kpps >") {
		t.Errorf("subject %q names the pps threshold, which was not crossed", subject)
	}
	for _, want := range []string{
		"OVER by 1.40 Gbps (2.40×)", // how much
		"1.50 GB",                   // total bytes, human units (SI: 1.5e9 B)
		"web-01 (i-0abc, asg web-asg, owner team-a)", // Info from the report
		"batch-02 (i-0def)",                          // Info from lookup
		"on-prem 192.168.0.0/16",                     // on-prem label
		"10.0.1.14",                                  // 5th source
		"10.0.1.10:40000",                            // flow tuple
		"tcp",
		"Top destinations",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if strings.Contains(body, "10.0.1.15") {
		t.Errorf("body lists a 6th source; want the top %d", alert.TopN)
	}
}

func TestFormatResolved(t *testing.T) {
	p, _ := alert.NewPolicy(alert.Config{BPS: 1e6, ResolveAfter: 1})
	now := time.Now()
	p.Observe(&report.Report{BPS: 2e6}, now)
	r := &report.Report{BPS: 1e3, PPS: 2}
	d := p.Observe(r, now.Add(5*time.Second))
	if d.Kind != alert.Resolve {
		t.Fatalf("quiet window after alert: %+v, want resolve", d)
	}
	subject, _ := alert.Format(r, d, nil)
	if !strings.HasPrefix(subject, "dxmon resolved") {
		t.Errorf("subject %q, want a resolved message", subject)
	}
}

// Whatever the subject and body, SNS gets one line of at most 99
// characters and a message within 256 KiB, both valid UTF-8 cut on
// character boundaries.
func TestSNSTextLimits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		piece := rapid.SampledFrom([]string{"a", "é", "名", "🚨", "\n", "\t", " ", "\x7f"})
		n := rapid.IntRange(0, 400).Draw(t, "subject_len")
		var sb strings.Builder
		for range n {
			sb.WriteString(piece.Draw(t, "s"))
		}
		body := strings.Repeat(piece.Draw(t, "b"), rapid.IntRange(0, 300_000).Draw(t, "body_len"))
		m := alert.Message{Kind: alert.Fire, Subject: sb.String(), Body: body}
		subject, message := alert.SNSText(m)
		if c := utf8.RuneCountInString(subject); c > alert.SNSSubjectMax {
			t.Fatalf("subject has %d characters, want ≤ %d", c, alert.SNSSubjectMax)
		}
		if !utf8.ValidString(subject) || !utf8.ValidString(message) {
			t.Fatalf("cut inside a character")
		}
		if strings.ContainsAny(subject, "\n\r\t\x7f") {
			t.Fatalf("subject %q has control characters", subject)
		}
		if len(message) > alert.SNSMessageMax {
			t.Fatalf("message is %d bytes, want ≤ %d", len(message), alert.SNSMessageMax)
		}
		if utf8.RuneCountInString(m.Subject) <= alert.SNSSubjectMax && strings.TrimSpace(subject) != strings.TrimSpace(strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, m.Subject)) {
			t.Fatalf("short subject %q changed to %q", m.Subject, subject)
		}
	})
}

func TestSlackTextEscapes(t *testing.T) {
	got := alert.SlackText(alert.Message{Subject: "a<b>&c\nd", Body: "x ``` <y>"})
	want := "*a&lt;b&gt;&amp;c d*\n```\nx ''' &lt;y&gt;\n```"
	if got != want {
		t.Errorf("SlackText = %q, want %q", got, want)
	}
}
