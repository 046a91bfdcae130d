package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// metricWhere sums the samples of a metric family whose labels include
// label (such as direction="to_aws").
func (p *probeProc) metricWhere(t *testing.T, name, label string) float64 {
	t.Helper()
	p.mu.Lock()
	addr := p.metrics
	p.mu.Unlock()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// TestLoopbackDirections: dxprobe with -onprem-cidrs, -vpc-cidrs and
// -link-bps, fed over real UDP loopback with traffic both ways and some
// outside the scope, prints reports whose directions hold exactly what was
// sent each way (both present, totals, rates, utilization, rankings, each
// flow's dir), and whose metrics carry the same per direction.
func TestLoopbackDirections(t *testing.T) {
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "1m", "-top", "50", "-metrics", "127.0.0.1:0",
		"-onprem-cidrs", "172.16.0.0/12", "-vpc-cidrs", "10.0.0.0/16", "-link-bps", "100M")
	to := sendFlows(t, port, 20, 100) // 172.16.0.x → 10.0.1.50:443
	from := vxlan.Spec{VNI: 12345, Src: mustAddr("10.0.1.50"), Dst: mustAddr("172.16.9.9"), Proto: vxlan.ProtoUDP,
		SrcPort: 5432, DstPort: 40000, Length: 1400, Snap: 128}
	const fromN = 700
	sendSpec(t, port, from, fromN)
	outside := vxlan.Spec{VNI: 12345, Src: mustAddr("192.0.2.1"), Dst: mustAddr("10.0.1.50"), Proto: vxlan.ProtoTCP,
		SrcPort: 1, DstPort: 2, Length: 100, Snap: 128}
	sendSpec(t, port, outside, 50)
	p.waitMetric(t, "dxmon_probe_received_packets_total", float64(to.packets+fromN+50))
	if got := p.metricWhere(t, "dxmon_probe_decoded_packets_total", `direction="to_aws"`); got != float64(to.packets) {
		t.Errorf("decoded_packets_total{direction=to_aws} = %v, sent %d", got, to.packets)
	}
	if got := p.metricWhere(t, "dxmon_probe_decoded_bytes_total", `direction="from_aws"`); got != float64(fromN*1400) {
		t.Errorf("decoded_bytes_total{direction=from_aws} = %v, sent %d", got, fromN*1400)
	}
	reps := p.stop(t)
	var toSum, fromSum struct{ packets, bytes uint64 }
	for _, r := range reps {
		if r.Scope != report.ScopeProbe || r.LinkBPS != 1e8 {
			t.Errorf("scope %q link_bps %v, want probe and 1e8", r.Scope, r.LinkBPS)
		}
		d := r.Directions
		if d == nil || d.ToAWS == nil || d.FromAWS == nil {
			t.Fatalf("report without both directions: %+v", r)
		}
		if d.ToAWS.Packets+d.FromAWS.Packets != r.Packets || d.ToAWS.Bytes+d.FromAWS.Bytes != r.Bytes {
			t.Errorf("directions %d+%d packets, report %d", d.ToAWS.Packets, d.FromAWS.Packets, r.Packets)
		}
		for name, dir := range map[string]*report.Direction{report.ToAWS: d.ToAWS, report.FromAWS: d.FromAWS} {
			if dir.Bytes > 0 && dir.Utilization != dir.BPS/1e8 {
				t.Errorf("%s utilization %v, bps %v of 100 Mbps", name, dir.Utilization, dir.BPS)
			}
			for _, f := range dir.TopFlows {
				if f.Dir != name {
					t.Errorf("%s lists a flow of dir %q", name, f.Dir)
				}
			}
		}
		for _, f := range r.TopFlows {
			want := report.ToAWS
			if f.Src == mustAddr("10.0.1.50") {
				want = report.FromAWS
			}
			if f.Dir != want {
				t.Errorf("flow %v→%v dir %q, want %q", f.Src, f.Dst, f.Dir, want)
			}
		}
		toSum.packets += d.ToAWS.Packets
		toSum.bytes += d.ToAWS.Bytes
		fromSum.packets += d.FromAWS.Packets
		fromSum.bytes += d.FromAWS.Bytes
		if len(reps) == 1 {
			if h := d.FromAWS.TopSrc; len(h) != 1 || h[0].IP != mustAddr("10.0.1.50") || h[0].Packets != fromN {
				t.Errorf("from_aws top sources %+v, want 10.0.1.50 with %d packets", h, fromN)
			}
			if h := d.ToAWS.TopDport; len(h) != 1 || h[0].Port != 443 || h[0].Packets != to.packets {
				t.Errorf("to_aws top ports %+v, want 443 with %d packets", h, to.packets)
			}
		}
	}
	if toSum.packets != to.packets || toSum.bytes != to.bytes || fromSum.packets != fromN || fromSum.bytes != fromN*1400 {
		t.Fatalf("to_aws %+v (sent %d/%d), from_aws %+v (sent %d/%d)", toSum, to.packets, to.bytes, fromSum, fromN, fromN*1400)
	}
}

// TestAlertDirectionSlack: a link full towards on-premises and quiet
// towards AWS: with -alert-utilization the one Slack message (to a local
// server) says "from AWS", how full the link is, and that direction's top
// source, and the window's total alone would not have crossed -alert-bps.
func TestAlertDirectionSlack(t *testing.T) {
	t.Parallel()
	slack := &slackServer{}
	srv := httptest.NewServer(slack)
	defer srv.Close()
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "1", "-format", "json",
		"-window", "1s", "-metrics", "127.0.0.1:0", "-onprem-cidrs", "172.16.0.0/12",
		"-link-bps", "1M", "-alert-utilization", "0.5", "-alert-bps", "1e12", "-alert-pps", "1e9", "-alert-cooldown", "1h",
		"-slack-webhook-url", srv.URL+"/services/T000/B000/secret")
	// 400 packets of 1500 bytes from AWS: 4.8 Mbit, more than half of a
	// 1 Mbps link in whichever 1 s windows they land.
	sendSpec(t, port, vxlan.Spec{VNI: 12345, Src: mustAddr("10.0.1.50"), Dst: mustAddr("172.16.5.5"), Proto: vxlan.ProtoTCP,
		SrcPort: 5432, DstPort: 50000, Length: 1500, Snap: 128}, 400)
	sendSpec(t, port, vxlan.Spec{VNI: 12345, Src: mustAddr("172.16.5.5"), Dst: mustAddr("10.0.1.50"), Proto: vxlan.ProtoTCP,
		SrcPort: 50000, DstPort: 5432, Length: 60, Snap: 128}, 50)
	pollUntil(t, 60*time.Second, func() bool { return len(slack.got()) >= 1 },
		func() string { return fmt.Sprintf("no Slack post after 60s\n%s", p.stderrText()) })
	p.stop(t)
	posts := slack.got()
	if len(posts) != 1 {
		t.Fatalf("%d Slack posts, want exactly one:\n%s", len(posts), strings.Join(posts, "\n"))
	}
	text := posts[0]
	t.Logf("the Slack post:\n%s", text)
	for _, want := range []string{"dxmon ALERT: from AWS", "% of 1.00 Mbps", "over 50 %", "top src 10.0.1.50",
		"From AWS: top sources", "From AWS: top flows", "To AWS"} {
		if !strings.Contains(text, want) {
			t.Errorf("Slack message lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "To AWS: top") {
		t.Errorf("Slack message lists the quiet direction's talkers:\n%s", text)
	}
}

// TestBadLinkConfiguration: a bad -link-bps or -alert-utilization fails at
// start with status 2 and one line naming the setting; utilization without
// a link names both.
func TestBadLinkConfiguration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		env  []string
		want []string
	}{
		{env: []string{"LINK_BPS=ten"}, want: []string{"LINK_BPS", "500M"}},
		{env: []string{"LINK_BPS=-1G"}, want: []string{"LINK_BPS"}},
		{args: []string{"-alert-utilization", "0.8"}, want: []string{"-alert-utilization", "ALERT_UTILIZATION", "-link-bps", "LINK_BPS"}},
		{env: []string{"ALERT_UTILIZATION=0.8"}, want: []string{"-alert-utilization", "-link-bps"}},
		{args: []string{"-link-bps", "10G", "-alert-utilization", "1.5"}, want: []string{"-alert-utilization", "fraction"}},
		{env: []string{"ALERT_UTILIZATION=NaN", "LINK_BPS=10G"}, want: []string{"-alert-utilization"}},
	} {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			cmd := exec.Command(probeBin, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			for _, w := range c.want {
				if len(lines) != 1 || !strings.Contains(lines[0], w) {
					t.Errorf("stderr %q: want one line naming %s", stderr.String(), w)
				}
			}
		})
	}
}
