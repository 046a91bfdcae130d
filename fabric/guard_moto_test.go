package fabric_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
	"github.com/dxmon/dxmon/internal/mototest"
)

// switchableHTTP fails every request with "connection refused" while down
// is set, as an API endpoint the guard cannot reach.
type switchableHTTP struct {
	next aws.HTTPClient
	down atomic.Bool
}

func (s *switchableHTTP) Do(r *http.Request) (*http.Response, error) {
	if s.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return s.next.Do(r)
}

// slackServer is a local Slack incoming webhook that keeps the texts.
type slackServer struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
	got   chan struct{}
}

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{got: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct{ Text string }
		_ = json.Unmarshal(b, &m)
		s.mu.Lock()
		s.texts = append(s.texts, m.Text)
		s.mu.Unlock()
		s.got <- struct{}{}
	}))
	t.Cleanup(s.Close)
	return s
}

// wait waits for n messages in all and returns them.
func (s *slackServer) wait(t *testing.T, n int) []string {
	t.Helper()
	for {
		s.mu.Lock()
		have := len(s.texts)
		s.mu.Unlock()
		if have >= n {
			break
		}
		select {
		case <-s.got:
		case <-time.After(30 * time.Second):
			t.Fatalf("Slack got %d messages, want %d", have, n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.texts...)
}

// guardWorld is a deployment with stage 03 applied (RETURN_ROUTES on) and
// both appliances healthy.
type guardWorld struct {
	proxy      *mototest.MirrorProxy
	cfg        aws.Config
	calls      *counter
	kv         map[string]string
	ec         *ec2.Client
	d          *fabric.Deployer
	a0, a1     []string // the appliances in us-east-1a and in us-east-1b (two or more each: N+1)
	ba, bb     string   // business subnets in us-east-1a and us-east-1b
	ea, eb     string   // their AZs' GWLB endpoints
	vgw        string
	ingress    string
	lbARN      string
	wantInline map[string][]string
}

// setHealth sets the target health of every appliance in ids (one AZ's):
// an AZ's appliances die or recover together.
func (g *guardWorld) setHealth(ids []string, state, reason, description string) {
	for _, id := range ids {
		g.proxy.SetTargetHealth(id, state, reason, description)
	}
}

func newGuardWorld(t *testing.T) *guardWorld {
	t.Helper()
	proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	g := &guardWorld{proxy: proxy, cfg: cfg, calls: calls, kv: withKV(w.kv, "RETURN_ROUTES", "true"), ec: ec2.NewFromConfig(cfg), vgw: w.kv["VGW_ID"]}
	g.d = shortWait(t, g.kv, cfg, nil, 30*time.Second)
	if err := g.d.Apply(ctx, fabric.StageSecurity, fabric.StageGWLB, fabric.StageRouting); err != nil {
		t.Fatalf("stages 01-03: %v", err)
	}
	apps := instancesByRole(t, g.ec, fabrictest.Project, "appliance")
	for _, a := range apps {
		switch aws.ToString(a.Placement.AvailabilityZone) {
		case "us-east-1a":
			g.a0 = append(g.a0, aws.ToString(a.InstanceId))
		case "us-east-1b":
			g.a1 = append(g.a1, aws.ToString(a.InstanceId))
		}
	}
	subnetOf := func(cidr string) string {
		out, err := g.ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("cidr-block"), Values: []string{cidr}}}})
		if err != nil || len(out.Subnets) != 1 {
			t.Fatalf("subnet %s: %v", cidr, err)
		}
		return aws.ToString(out.Subnets[0].SubnetId)
	}
	g.ba, g.bb = subnetOf("10.0.21.0/24"), subnetOf("10.0.22.0/24")
	endpointOf := func(subnet string) string {
		out, err := g.ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:Name"), Values: []string{fabrictest.Project + "-gwlbe-" + subnet}}}})
		if err != nil || len(out.VpcEndpoints) != 1 {
			t.Fatalf("endpoint of %s: %v", subnet, err)
		}
		return aws.ToString(out.VpcEndpoints[0].VpcEndpointId)
	}
	gw := strings.Fields(g.kv["GWLBE_SUBNETS"])
	g.ea, g.eb = endpointOf(gw[0]), endpointOf(gw[1])
	rts, err := g.ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{fabrictest.Project + "-vgw-ingress"}}}})
	if err != nil || len(rts.RouteTables) != 1 {
		t.Fatalf("ingress route table: %v %v", rts, err)
	}
	g.ingress = aws.ToString(rts.RouteTables[0].RouteTableId)
	lbs, err := elb.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{fabrictest.Project + "-gwlb"}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("GWLB: %v", err)
	}
	g.lbARN = aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn)
	g.wantInline = g.routes(t)
	if diff := cmp.Diff(map[string][]string{
		"ingress": {"10.0.21.0/24 → " + g.ea, "10.0.22.0/24 → " + g.eb},
		"a":       {"172.16.0.0/12 → " + g.ea, "192.168.0.0/16 → " + g.ea},
		"b":       {"172.16.0.0/12 → " + g.eb, "192.168.0.0/16 → " + g.eb},
	}, g.wantInline); diff != "" {
		t.Fatalf("routes after stage 03 (-want +got):\n%s", diff)
	}
	return g
}

// routes lists the ingress table's business routes and both business
// subnets' routes.
func (g *guardWorld) routes(t *testing.T) map[string][]string {
	t.Helper()
	out, err := g.ec.DescribeRouteTables(context.Background(), &ec2.DescribeRouteTablesInput{RouteTableIds: []string{g.ingress}})
	if err != nil || len(out.RouteTables) != 1 {
		t.Fatalf("ingress route table: %v", err)
	}
	var in []string
	for _, r := range out.RouteTables[0].Routes {
		if c := aws.ToString(r.DestinationCidrBlock); c != "10.0.0.0/16" {
			in = append(in, c+" → "+aws.ToString(r.GatewayId))
		}
	}
	sort.Strings(in)
	return map[string][]string{"ingress": in, "a": sortedRoutes(t, g.ec, g.ba), "b": sortedRoutes(t, g.ec, g.bb)}
}

// direct is the routes with AZ az (a or b) bypassed.
func (g *guardWorld) direct(azs ...string) map[string][]string {
	want := map[string][]string{}
	for k, v := range g.wantInline {
		want[k] = append([]string{}, v...)
	}
	for _, az := range azs {
		var in []string
		for _, r := range want["ingress"] {
			if !strings.HasPrefix(r, map[string]string{"a": "10.0.21.0/24", "b": "10.0.22.0/24"}[az]) {
				in = append(in, r)
			}
		}
		want["ingress"] = in
		want[az] = []string{"172.16.0.0/12 → " + g.vgw, "192.168.0.0/16 → " + g.vgw}
	}
	return want
}

func (g *guardWorld) crossZone(t *testing.T, on bool) {
	t.Helper()
	v := "false"
	if on {
		v = "true"
	}
	if _, err := elb.NewFromConfig(g.cfg).ModifyLoadBalancerAttributes(context.Background(), &elb.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String(g.lbARN), Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String(v)}}}); err != nil {
		t.Fatalf("cross-zone %s: %v", v, err)
	}
}

// TestMotoGuard: the guard against moto, with a fake clock and a local
// Slack webhook. Cross-zone on: one AZ's appliance dies and nothing changes
// (served across zones); both die and both AZs go direct in the next tick;
// healthy again, they are restored only after -restore-after. Cross-zone
// off: one AZ's appliance dies and that AZ alone goes direct. The API
// unreachable: nothing changes, one notification however many ticks, one
// more when it is back. A tick interrupted mid-bypass is completed by the
// next. Every bypass and restore reaches Slack.
func TestMotoGuard(t *testing.T) {
	g := newGuardWorld(t)
	ctx := context.Background()
	slack := newSlackServer(t)
	sink, err := alert.NewSlack(slack.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	disp, err := alert.NewDispatcher(alert.DispatcherConfig{}, nil, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	go disp.Run(dctx)

	// The guard's own clients: their HTTP can be cut, and one attempt per
	// call keeps a cut tick short.
	gcfg := g.cfg.Copy()
	sw := &switchableHTTP{next: gcfg.HTTPClient}
	if sw.next == nil {
		sw.next = http.DefaultClient
	}
	gcfg.HTTPClient, gcfg.RetryMaxAttempts = sw, 1
	gcalls := &counter{}
	gcfg.APIOptions = append([]func(*middleware.Stack) error{}, g.cfg.APIOptions...)
	gcalls.install(&gcfg)
	gd := shortWait(t, g.kv, gcfg, nil, time.Second)
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	var notices []fabric.GuardNotice
	guard, err := gd.NewGuard(fabric.GuardConfig{Every: 5 * time.Second, RestoreAfter: 2 * time.Minute, Now: func() time.Time { return now },
		Notify: func(n fabric.GuardNotice) {
			notices = append(notices, n)
			disp.Submit(alert.Message{Kind: alert.Fire, Subject: n.Subject, Body: n.Body})
		}})
	if err != nil {
		t.Fatal(err)
	}
	tick := func(what string, want map[string][]string) fabric.GuardTick {
		t.Helper()
		now = now.Add(5 * time.Second)
		res, err := guard.Tick(ctx)
		if err != nil {
			t.Fatalf("%s: tick: %v", what, err)
		}
		if diff := cmp.Diff(want, g.routes(t)); diff != "" {
			t.Fatalf("%s: routes (-want +got):\n%s\ndecisions %+v", what, diff, res.Decisions)
		}
		return res
	}
	kinds := func() []string {
		var k []string
		for _, n := range notices {
			k = append(k, n.Kind+" "+n.AZ)
		}
		return k
	}

	g.crossZone(t, true)
	g.calls.reset(0, false)
	res := tick("all healthy", g.wantInline)
	if m := g.calls.list(); len(m) != 0 || !res.CrossZone || !res.RoutesRead {
		t.Fatalf("healthy tick made calls %v (cross-zone read %v, routes read %v)", m, res.CrossZone, res.RoutesRead)
	}
	// A quiet tick reads the health alone: two ELB requests, no EC2 one
	// (EC2's per-account throttling is shared with every guard and tool).
	mark := len(gcalls.sequence(0))
	res = tick("all healthy, view kept", g.wantInline)
	if diff := cmp.Diff([]string{"Elastic Load Balancing v2:DescribeLoadBalancerAttributes", "Elastic Load Balancing v2:DescribeTargetHealth"},
		gcalls.sequence(mark)); diff != "" || res.RoutesRead {
		t.Errorf("quiet tick's requests (-want +got), routes read %v:\n%s", res.RoutesRead, diff)
	}
	g.setHealth(g.a0, "unhealthy", "Target.FailedHealthChecks", "Health checks failed")
	tick("cross-zone on, us-east-1a's appliance dead", g.wantInline)
	g.setHealth(g.a1, "unhealthy", "Target.Timeout", "Request timed out")
	if res := tick("cross-zone on, every appliance dead", g.direct("a", "b")); !res.RoutesRead {
		t.Errorf("a tick that bypassed acted on routes it kept, not on routes read in the tick")
	}
	tick("still dead: nothing more to do", g.direct("a", "b"))

	g.setHealth(g.a0, "", "", "")
	g.setHealth(g.a1, "", "", "")
	for i := 0; i < 24; i++ { // 0 s … 115 s of health
		tick("healthy, before -restore-after", g.direct("a", "b"))
	}
	tick("healthy for 2m", g.wantInline)
	if diff := cmp.Diff([]string{"bypass us-east-1a", "bypass us-east-1b", "restore us-east-1a", "restore us-east-1b"}, kinds()); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}

	g.crossZone(t, false)
	g.setHealth(g.a0, "unhealthy", "Target.FailedHealthChecks", "Health checks failed")
	tick("cross-zone off, us-east-1a's appliance dead", g.direct("a"))

	// The API gone: nothing changes, however bad health gets, and one
	// notice says so.
	sw.down.Store(true)
	g.setHealth(g.a1, "unhealthy", "Target.Timeout", "Request timed out")
	g.calls.reset(0, false)
	for i := 0; i < 3; i++ {
		now = now.Add(5 * time.Second)
		if _, err := guard.Tick(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("tick without the API: err = %v", err)
		}
	}
	if m := g.calls.list(); len(m) != 0 {
		t.Errorf("ticks without the API made mutating calls: %v", m)
	}
	if diff := cmp.Diff(g.direct("a"), g.routes(t)); diff != "" {
		t.Errorf("routes changed without the API (-want +got):\n%s", diff)
	}
	sw.down.Store(false)
	tick("API back, every appliance dead", g.direct("a", "b"))

	// Kill-anywhere: a bypass cut after its first write leaves a mixed AZ,
	// which the next tick completes.
	g.setHealth(g.a0, "", "", "")
	g.setHealth(g.a1, "", "", "")
	for i := 0; i < 25; i++ { // 0 s … 120 s of health
		now = now.Add(5 * time.Second)
		if _, err := guard.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(g.wantInline, g.routes(t)); diff != "" {
		t.Fatalf("not restored (-want +got):\n%s", diff)
	}
	g.setHealth(g.a0, "unhealthy", "Target.FailedHealthChecks", "")
	g.setHealth(g.a1, "unhealthy", "Target.FailedHealthChecks", "")
	g.calls.reset(2, false)
	now = now.Add(5 * time.Second)
	if _, err := guard.Tick(ctx); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted tick: err = %v", err)
	}
	g.calls.reset(0, false)
	tick("after an interrupted bypass", g.direct("a", "b"))

	// And a restore cut after its first write: the next tick completes it.
	g.setHealth(g.a0, "", "", "")
	g.setHealth(g.a1, "", "", "")
	for i := 0; i < 24; i++ {
		tick("healthy, before -restore-after", g.direct("a", "b"))
	}
	g.calls.reset(2, false)
	now = now.Add(5 * time.Second)
	if _, err := guard.Tick(ctx); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted restore: err = %v", err)
	}
	g.calls.reset(0, false)
	tick("after an interrupted restore", g.wantInline)

	want := []string{"bypass us-east-1a", "bypass us-east-1b", "restore us-east-1a", "restore us-east-1b",
		"bypass us-east-1a", "api-unreachable ", "bypass us-east-1b", "api-reachable ",
		"restore us-east-1a", "restore us-east-1b"}
	got := kinds()
	if len(got) < len(want) {
		t.Fatalf("notices: %v", got)
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	checkGuardPolicy(t, g, gcalls)
	texts := slack.wait(t, len(notices))
	down := 0
	for _, s := range texts {
		if strings.Contains(s, "cannot reach the AWS API") {
			down++
		}
	}
	if down != 1 {
		t.Errorf("Slack got %d API-unreachable messages, want 1: %q", down, texts)
	}
	if !strings.Contains(texts[0], "us-east-1a bypassed") || !strings.Contains(texts[0], g.ea) {
		t.Errorf("first Slack message does not name the AZ and the endpoint: %q", texts[0])
	}
}

// TestMotoBypassRestore: dxdeploy bypass takes every AZ out of the path in
// one call and holds it there (a guard that sees healthy appliances for
// longer than -restore-after does not restore it); a second bypass changes
// nothing; one interrupted after its first route write is completed by the
// next. Restore refuses while an appliance is unhealthy (the stage 03
// health gate), changing nothing, then puts every route back and releases
// the hold; a second restore changes nothing.
func TestMotoBypassRestore(t *testing.T) {
	g := newGuardWorld(t)
	ctx := context.Background()
	g.calls.reset(3, false) // cut after the tag and the first route
	if _, err := g.d.Bypass(ctx); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted bypass: err = %v", err)
	}
	g.calls.reset(0, false)
	changes, err := g.d.Bypass(ctx)
	if err != nil {
		t.Fatalf("bypass: %v", err)
	}
	// A bypass keeps going past a failed write (every route it takes
	// direct helps), so only the cut one is left.
	if len(changes) != 1 {
		t.Errorf("bypass after an interrupted one changed %d routes, want 1: %v", len(changes), changes)
	}
	if diff := cmp.Diff(g.direct("a", "b"), g.routes(t)); diff != "" {
		t.Fatalf("routes after bypass (-want +got):\n%s", diff)
	}
	g.calls.reset(0, false)
	if changes, err := g.d.Bypass(ctx); err != nil || len(changes) != 0 || len(g.calls.list()) != 0 {
		t.Errorf("second bypass: %v %v, calls %v", changes, err, g.calls.list())
	}

	// Held: a guard does not restore behind the operator's back.
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	guard, err := g.d.NewGuard(fabric.GuardConfig{RestoreAfter: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		res, err := guard.Tick(ctx)
		if err != nil || !res.Held || len(res.Changes) != 0 {
			t.Fatalf("guard on a held bypass: %+v %v", res, err)
		}
		now = now.Add(time.Minute)
	}

	// Restore waits for every appliance to be healthy.
	g.setHealth(g.a1, "unhealthy", "Target.Timeout", "Request timed out")
	g.calls.reset(0, false)
	refusing := shortWait(t, g.kv, g.cfg, nil, 3*time.Second) // long enough for one poll on a loaded machine
	if err := refusing.Restore(ctx); err == nil || !strings.Contains(err.Error(), "not re-routing on-premises traffic") || !strings.Contains(err.Error(), g.a1[0]) {
		t.Fatalf("restore with an unhealthy appliance: %v", err)
	}
	if m := g.calls.list(); len(m) != 0 {
		t.Errorf("refused restore made mutating calls: %v", m)
	}
	g.setHealth(g.a1, "", "", "")
	if err := g.d.Restore(ctx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if diff := cmp.Diff(g.wantInline, g.routes(t)); diff != "" {
		t.Fatalf("routes after restore (-want +got):\n%s", diff)
	}
	if res, err := guard.Tick(ctx); err != nil || res.Held {
		t.Errorf("hold not released by restore: %+v %v", res, err)
	}
	g.calls.reset(0, false)
	if err := g.d.Restore(ctx); err != nil || len(g.calls.list()) != 0 {
		t.Errorf("second restore: %v, calls %v", err, g.calls.list())
	}
	checkOperatorPolicy(t, g.calls)
}

// checkGuardPolicy: every operation the guard made is granted by the
// statements stage 04 gives the probe role (with GUARD_BINARY), and every
// route write there is narrowed to route tables by tag; without
// GUARD_BINARY the probe role cannot change a route.
func checkGuardPolicy(t *testing.T, g *guardWorld, calls *counter) {
	t.Helper()
	d := shortWait(t, withKV(g.kv, "GUARD_BINARY", "dxdeploy"), g.cfg, nil, time.Second)
	granted := map[string]bool{}
	for _, s := range d.ProbePolicy("123456789012").Statement {
		for _, a := range s.Action {
			granted[a] = true
			if strings.HasSuffix(a, "Route") && s.Sid != "GuardRouteTargets" {
				if len(s.Condition["StringEquals"]) != 1 || len(s.Resource) != 1 || !strings.HasSuffix(s.Resource[0], ":route-table/*") {
					t.Errorf("statement %s grants %s without a tag condition on route tables: %+v", s.Sid, a, s)
				}
			}
		}
	}
	for _, s := range shortWait(t, withKV(g.kv, "GUARD_BINARY", ""), g.cfg, nil, time.Second).ProbePolicy("123456789012").Statement {
		for _, a := range s.Action {
			if strings.HasSuffix(a, "Route") {
				t.Errorf("without GUARD_BINARY the probe role still grants %s", a)
			}
		}
	}
	prefix := map[string]string{"EC2": "ec2", "Elastic Load Balancing v2": "elasticloadbalancing"}
	ops := calls.ops()
	if len(ops) < 8 {
		t.Fatalf("the guard made %d operations: %v", len(ops), ops)
	}
	for op := range ops {
		svc, name, _ := strings.Cut(op, ":")
		a := prefix[svc] + ":" + name
		if !granted[a] || !slices.Contains(fabric.GuardActions, a) {
			t.Errorf("the guard called %s (IAM action %s): not in the probe role's policy or not in GuardActions", op, a)
		}
	}
}
