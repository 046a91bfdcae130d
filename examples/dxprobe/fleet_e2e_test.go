package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/internal/mototest"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

const (
	fleetTable     = "dxmon-fleet-e2e"
	fleetThreshold = 1_000_000 // -alert-bps: 125 000 bytes in a 1 s window
	heavySrc       = "198.18.0.10"
)

// fleetProbe starts a dxprobe of the fleet: 1 s windows, on-premises
// 198.18.0.0/24, alerts to Slack above 1 Mbps in either direction with an
// hour's cooldown.
func fleetProbe(t *testing.T, env []string, id string, port int, slackURL string) *probeProc {
	return startProbeEnv(t, env, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "1", "-format", "json",
		"-window", "1s", "-metrics", "127.0.0.1:0", "-onprem-cidrs", "198.18.0.0/24",
		"-alert-bps", fmt.Sprint(fleetThreshold), "-alert-pps", "1e9", "-alert-cooldown", "1h",
		"-slack-webhook-url", slackURL, "-fleet", fleetTable, "-fleet-wait", "400ms", "-probe-id", id)
}

// atWindowMiddle waits for the wall clock to reach 300 ms into the next
// 1 s window, so that a burst sent now lands in one window of every probe
// (windows are aligned to the wall clock). It returns that window's start.
func atWindowMiddle() time.Time {
	next := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(next.Add(300 * time.Millisecond))) // aligning traffic to the wall clock's windows, not synchronising
	return next
}

// burst sends the heavy on-premises source's share (packets of 1500
// declared bytes, to AWS) and a light flow from AWS of the probe's own.
func burst(t *testing.T, port, i, heavyPackets int) {
	sendSpec(t, port, vxlan.Spec{VNI: 12345, Src: mustAddr(heavySrc), Dst: mustAddr("198.19.1.5"), Proto: vxlan.ProtoTCP,
		SrcPort: 40000, DstPort: 443, Length: 1500, Snap: 128}, heavyPackets)
	sendSpec(t, port, vxlan.Spec{VNI: 12345, Src: mustAddr(fmt.Sprintf("198.19.1.%d", 20+i)), Dst: mustAddr(fmt.Sprintf("198.18.0.%d", 50+i)),
		Proto: vxlan.ProtoUDP, SrcPort: 53, DstPort: uint16(30000 + i), Length: 100, Snap: 128}, 10)
}

// reportOf returns the probe's report of scope for the window starting at
// start, or nil.
func reportOf(t *testing.T, p *probeProc, scope string, start time.Time) *report.Report {
	for _, r := range parseReports(t, p.stdout.Lines()) {
		if r.Scope == scope && r.WindowStart.Equal(start) {
			return &r
		}
	}
	return nil
}

// waitFleet waits until every probe printed its fleet report of start.
func waitFleet(t *testing.T, start time.Time, ps ...*probeProc) []*report.Report {
	t.Helper()
	out := make([]*report.Report, len(ps))
	for i, p := range ps {
		p.waitReports(t, func([]report.Report) bool { return reportOf(t, p, report.ScopeFleet, start) != nil })
		out[i] = reportOf(t, p, report.ScopeFleet, start)
	}
	return out
}

func waitSlack(t *testing.T, s *slackServer, n int) []string {
	t.Helper()
	pollUntil(t, 60*time.Second, func() bool { return len(s.got()) >= n },
		func() string { return fmt.Sprintf("%d Slack posts after 60s, want %d", len(s.got()), n) })
	return s.got()
}

// TestFleetEndToEnd: three dxprobes share a fleet table in moto_server's
// DynamoDB. One on-premises source sends 40 % of the threshold through
// each: no probe's own window crosses it, the fleet's does, and exactly
// one Slack message names the source and the direction. The fleet's
// totals are the sum of the probes' reports, per direction. A probe killed
// leaves "probes":2 and no second alert; a probe restarted (its own policy
// fresh) does not re-send either. With moto stopped every probe falls back
// to its own share and says so; when moto is back they return to the
// fleet.
func TestFleetEndToEnd(t *testing.T) {
	t.Parallel()
	moto := mototest.Launch(t)
	// The probes reach DynamoDB through the proxy that makes moto's
	// conditional writes atomic, as AWS's are (two probes won one claim
	// straight on moto).
	dyn := mototest.StartDynamoProxy(t, moto)
	env := mototest.Env(dyn.URL)
	ctx := context.Background()
	if err := fleet.CreateTestTable(ctx, dynamodb.NewFromConfig(dyn.Config(t)), fleetTable); err != nil {
		t.Fatal(err)
	}
	slack := &slackServer{}
	srv := httptest.NewServer(slack)
	defer srv.Close()
	hook := srv.URL + "/services/T000/B000/fleet"

	ports := []int{freeUDPPort(t), freeUDPPort(t), freeUDPPort(t)}
	ps := make([]*probeProc, 3)
	for i := range ps {
		ps[i] = fleetProbe(t, env, fmt.Sprintf("probe-%d", i+1), ports[i], hook)
	}

	// 1. 34 packets of 1500 bytes per probe: 51 000 bytes, 41 % of the
	// threshold's 125 000 in each; 123 % in the fleet's window.
	w1 := atWindowMiddle()
	for i, p := range ports {
		burst(t, p, i, 34)
	}
	fleets := waitFleet(t, w1, ps...)
	var sum report.Report
	sumDir := map[string]*report.Direction{report.ToAWS: {}, report.FromAWS: {}}
	for i, p := range ps {
		own := reportOf(t, p, report.ScopeProbe, w1)
		if own == nil {
			t.Fatalf("probe %d printed no own report of %v", i+1, w1)
		}
		if own.Directions == nil || own.Directions.ToAWS.BPS >= fleetThreshold {
			t.Fatalf("probe %d's own window: directions %+v, want to_aws under %d bps", i+1, own.Directions, fleetThreshold)
		}
		sum.Packets += own.Packets
		sum.Bytes += own.Bytes
		for name, d := range map[string]*report.Direction{report.ToAWS: own.Directions.ToAWS, report.FromAWS: own.Directions.FromAWS} {
			sumDir[name].Packets += d.Packets
			sumDir[name].Bytes += d.Bytes
		}
	}
	for i, fr := range fleets {
		if fr.Probes != 3 || fr.Packets != sum.Packets || fr.Bytes != sum.Bytes || fr.Directions == nil {
			t.Fatalf("probe %d's fleet report: probes %d, %d packets %d bytes, directions %v; want 3, the sums %d and %d",
				i+1, fr.Probes, fr.Packets, fr.Bytes, fr.Directions != nil, sum.Packets, sum.Bytes)
		}
		for name, d := range map[string]*report.Direction{report.ToAWS: fr.Directions.ToAWS, report.FromAWS: fr.Directions.FromAWS} {
			if d.Packets != sumDir[name].Packets || d.Bytes != sumDir[name].Bytes {
				t.Errorf("probe %d's fleet %s: %d packets %d bytes, want the probes' sum %d and %d", i+1, name, d.Packets, d.Bytes, sumDir[name].Packets, sumDir[name].Bytes)
			}
		}
		if fr.Directions.ToAWS.BPS <= fleetThreshold || fr.Directions.ToAWS.TopSrc[0].IP.String() != heavySrc {
			t.Errorf("probe %d's fleet to_aws: %v bps, top source %v; want over %d and %s", i+1, fr.Directions.ToAWS.BPS, fr.Directions.ToAWS.TopSrc, fleetThreshold, heavySrc)
		}
	}
	// The page serves the fleet's window too (any probe shows the whole
	// link): /api/windows?scope=fleet holds the same merge of 3 probes.
	ps[0].mu.Lock()
	pageAddr := ps[0].metrics
	ps[0].mu.Unlock()
	var served *report.Report
	for deadline := time.Now().Add(10 * time.Second); served == nil && time.Now().Before(deadline); {
		resp, err := http.Get("http://" + pageAddr + "/api/windows?scope=fleet")
		if err != nil {
			t.Fatalf("GET /api/windows: %v", err)
		}
		var ws []report.Report
		err = json.NewDecoder(resp.Body).Decode(&ws)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("/api/windows?scope=fleet: %v", err)
		}
		for i := range ws {
			if ws[i].WindowStart.Equal(w1) {
				served = &ws[i]
			}
		}
		if served == nil {
			time.Sleep(50 * time.Millisecond) // the fleet's goroutine adds it just after printing it
		}
	}
	if served == nil || served.Scope != report.ScopeFleet || served.Probes != 3 || served.Packets != sum.Packets {
		t.Errorf("page's fleet window of %v: %+v, want scope fleet, 3 probes, %d packets", w1, served, sum.Packets)
	}
	waitSlack(t, slack, 1)
	// Two more windows merged everywhere: nobody sends a second message.
	waitFleet(t, w1.Add(2*time.Second), ps...)
	posts := slack.got()
	if len(posts) != 1 {
		t.Fatalf("%d Slack posts for one fleet crossing, want exactly 1:\n%s", len(posts), strings.Join(posts, "\n---\n"))
	}
	t.Logf("the fleet's alert:\n%s", posts[0])
	subject, _, _ := strings.Cut(posts[0], `\n`)
	for _, want := range []string{"top src " + heavySrc, "to AWS"} {
		if !strings.Contains(subject, want) {
			t.Errorf("alert subject does not say %q:\n%s", want, subject)
		}
	}
	for _, want := range []string{"3 probes", "probe-1, probe-2, probe-3"} {
		if !strings.Contains(posts[0], want) {
			t.Errorf("alert does not say %q:\n%s", want, posts[0])
		}
	}
	won := 0.0
	for _, p := range ps {
		won += p.metric(t, `dxmon_fleet_claims_total{kind="fire",outcome="won"}`)
	}
	if won != 1 {
		t.Errorf("fire claims won over the fleet: %v, want 1", won)
	}

	// 2. Probe 3 killed: the next windows merge 2 probes; 60 % through each
	// of the two crosses the threshold again, inside the cooldown.
	if err := ps[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ps[2].done
	w2 := atWindowMiddle()
	for i, p := range ports[:2] {
		burst(t, p, i, 51)
	}
	for i, fr := range waitFleet(t, w2, ps[:2]...) {
		if fr.Probes != 2 || fr.Directions.ToAWS.BPS <= fleetThreshold {
			t.Errorf("probe %d's fleet report after the kill: probes %d, to_aws %v bps; want 2 and over the threshold", i+1, fr.Probes, fr.Directions.ToAWS.BPS)
		}
	}

	// 3. Probe 3 back with the same id and a fresh policy: it sees the
	// fleet over the threshold, but the table's claim holds the cooldown.
	ports[2] = freeUDPPort(t)
	ps[2] = fleetProbe(t, env, "probe-3", ports[2], hook)
	var w3 time.Time
	for range 5 { // the restarted probe's first window may be incomplete
		w3 = atWindowMiddle()
		for i, p := range ports {
			burst(t, p, i, 34)
		}
		waitFleet(t, w3, ps...)
		if fr := reportOf(t, ps[2], report.ScopeFleet, w3); fr.Probes == 3 && fr.Directions.ToAWS.BPS > fleetThreshold {
			break
		}
	}
	ps[2].waitMetric(t, `dxmon_fleet_claims_total{kind="fire",outcome="lost"}`, 1)
	waitFleet(t, w3.Add(time.Second), ps...)
	posts = slack.got()
	if len(posts) != 1 {
		t.Fatalf("%d Slack posts after a probe was killed and restarted, want still 1:\n%s", len(posts), strings.Join(posts[1:], "\n---\n"))
	}

	// 4. moto stopped: every probe falls back to its own share, counts it
	// and says so; probe 1 alone over the threshold alerts on its share.
	moto.Stop()
	for _, p := range ps {
		p.waitMetric(t, `dxmon_fleet_windows_total{outcome="fallback"}`, 1)
		p.waitStderr(t, "this probe's share only") // a falling-back probe says so
	}
	atWindowMiddle()
	burst(t, ports[0], 0, 102)
	posts = waitSlack(t, slack, 2)
	if !strings.Contains(posts[1], "this probe&#39;s share only") && !strings.Contains(posts[1], "this probe's share only") {
		t.Errorf("the fallback alert does not say it is this probe's share only:\n%s", posts[1])
	}
	t.Logf("probe 1's fallback alert:\n%s", posts[1])
	if !strings.Contains(posts[1], heavySrc) || !strings.Contains(posts[1], "probe-1") {
		t.Errorf("the fallback alert does not name the source and the probe:\n%s", posts[1])
	}

	// 5. moto back on the same port (empty: the table is created again):
	// every probe returns to the fleet.
	moto.Restart(t)
	if err := fleet.CreateTestTable(ctx, dynamodb.NewFromConfig(dyn.Config(t)), fleetTable); err != nil {
		t.Fatal(err)
	}
	back := time.Now().Truncate(time.Second).Add(time.Second)
	for _, p := range ps {
		p.waitReports(t, func(rs []report.Report) bool {
			for _, r := range rs {
				if r.Scope == report.ScopeFleet && !r.WindowStart.Before(back) && r.Probes == 3 {
					return true
				}
			}
			return false
		})
		p.waitStderr(t, "fleet table answers again") // and says it is back on the fleet
	}
	for _, p := range ps {
		p.stop(t)
	}
}
