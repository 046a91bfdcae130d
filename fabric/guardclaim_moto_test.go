package fabric_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fleet"
)

// TestMotoGuardNoticeOnce: the guards of two probes act on the same loss of
// every appliance. Probe B read the routes before probe A's writes landed
// (the test puts the routes back in line to stand for that), so both
// bypass both AZs; with the fleet table's claims only A's notices go out,
// and B logs that another guard sent them. Once the hold has passed, the
// same change seen again is a new one and B notifies it. A guard whose
// table is missing still notifies.
func TestMotoGuardNoticeOnce(t *testing.T) {
	g := newGuardWorld(t)
	ctx := context.Background()
	if err := fleet.CreateTestTable(ctx, dynamodb.NewFromConfig(g.cfg), g.d.FleetTable()); err != nil {
		t.Fatal(err)
	}
	claims, err := fleet.NewStore(dynamodb.NewFromConfig(g.cfg), g.d.FleetTable())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	type probe struct {
		guard   *fabric.Guard
		notices []string
		log     bytes.Buffer
	}
	newProbe := func(name string, claims *fleet.Store) *probe {
		p := &probe{}
		var err error
		p.guard, err = g.d.NewGuard(fabric.GuardConfig{Now: func() time.Time { return now }, Claims: claims, Name: name,
			Log:    slog.New(slog.NewTextHandler(&p.log, nil)),
			Notify: func(n fabric.GuardNotice) { p.notices = append(p.notices, n.Kind+" "+n.AZ) }})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := newProbe("probe-a", claims), newProbe("probe-b", claims)
	tick := func(p *probe, what string) {
		t.Helper()
		res, err := p.guard.Tick(ctx)
		if err != nil {
			t.Fatalf("%s: tick: %v", what, err)
		}
		if diff := cmp.Diff(g.direct("a", "b"), g.routes(t)); diff != "" || len(res.Changes) == 0 {
			t.Fatalf("%s: %d route changes; routes (-want +got):\n%s", what, len(res.Changes), diff)
		}
		p.guard.WaitNotices()
	}

	g.crossZone(t, true)
	g.setHealth(g.a0, "unhealthy", "Target.FailedHealthChecks", "Health checks failed")
	g.setHealth(g.a1, "unhealthy", "Target.Timeout", "Request timed out")
	tick(a, "probe A, every appliance dead")
	g.putInline(t)
	now = now.Add(2 * time.Second)
	tick(b, "probe B, on routes read before A's writes")
	if diff := cmp.Diff([]string{"bypass us-east-1a", "bypass us-east-1b"}, a.notices); diff != "" {
		t.Errorf("probe A's notices (-want +got):\n%s", diff)
	}
	if len(b.notices) != 0 {
		t.Errorf("probe B notified %v: the same change as probe A's", b.notices)
	}
	if got := strings.Count(b.log.String(), "another probe's guard sent the notice of this bypass"); got != 2 {
		t.Errorf("probe B's log says %d times that another guard sent the notice, want 2:\n%s", got, b.log.String())
	}

	g.putInline(t)
	now = now.Add(fabric.GuardBound(fabric.DefaultGuardEvery, fabric.DefaultGuardTickTimeout))
	tick(b, "probe B, after the hold")
	if diff := cmp.Diff([]string{"bypass us-east-1a", "bypass us-east-1b"}, b.notices); diff != "" {
		t.Errorf("probe B's notices after the hold (-want +got):\n%s", diff)
	}

	// A table that is not there: the claim fails, the notice goes out.
	missing, err := fleet.NewStore(dynamodb.NewFromConfig(g.cfg), g.d.FleetTable()+"-missing")
	if err != nil {
		t.Fatal(err)
	}
	c := newProbe("probe-c", missing)
	g.putInline(t)
	now = now.Add(time.Second)
	tick(c, "probe C, its table missing")
	if diff := cmp.Diff([]string{"bypass us-east-1a", "bypass us-east-1b"}, c.notices); diff != "" {
		t.Errorf("probe C's notices (-want +got):\n%s", diff)
	}
	if !strings.Contains(c.log.String(), "could not claim the notice; sending it") {
		t.Errorf("probe C's log does not say its claim failed:\n%s", c.log.String())
	}

	// A table that does not answer: the tick writes its routes and
	// returns while its claims wait; the notices go out once they end.
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer hung.Close()
	slow, err := fleet.NewStore(dynamodb.NewFromConfig(g.cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint, o.RetryMaxAttempts = aws.String(hung.URL), 1
	}), g.d.FleetTable())
	if err != nil {
		t.Fatal(err)
	}
	d := newProbe("probe-d", slow)
	g.putInline(t)
	now = now.Add(time.Second)
	if res, err := d.guard.Tick(ctx); err != nil || len(res.Changes) == 0 {
		t.Fatalf("probe D's tick: %d route changes, %v", len(res.Changes), err)
	}
	<-arrived // its first claim is waiting on the table now
	if len(d.notices) != 0 || strings.Contains(d.log.String(), "could not claim") {
		t.Fatalf("probe D's tick returned after its claims ended (notices %v): a slow table delays the guard", d.notices)
	}
	close(release)
	d.guard.WaitNotices()
	if diff := cmp.Diff([]string{"bypass us-east-1a", "bypass us-east-1b"}, d.notices); diff != "" {
		t.Errorf("probe D's notices (-want +got):\n%s", diff)
	}

	// The guard runs with the probe role, which may update the fleet table.
	granted := false
	for _, s := range g.d.ProbePolicy("123456789012").Statement {
		if slices.Contains(s.Action, "dynamodb:UpdateItem") && slices.Equal(s.Resource, []string{g.d.FleetTableARN("123456789012")}) {
			granted = true
		}
	}
	if !granted {
		t.Errorf("the probe role does not grant dynamodb:UpdateItem on %s: the guards' claims would fail", g.d.FleetTableARN("123456789012"))
	}
}

// putInline puts both AZs' routes back through the appliances (stage 03's
// routes: the ingress routes to the business subnets via each AZ's
// endpoint, the business subnets' on-premises routes too).
func (g *guardWorld) putInline(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, az := range []struct{ cidr, subnet, endpoint string }{{"10.0.21.0/24", g.ba, g.ea}, {"10.0.22.0/24", g.bb, g.eb}} {
		if _, err := g.ec.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(g.ingress),
			DestinationCidrBlock: aws.String(az.cidr), VpcEndpointId: aws.String(az.endpoint)}); err != nil {
			t.Fatalf("ingress route to %s: %v", az.cidr, err)
		}
		out, err := g.ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
			{Name: aws.String("association.subnet-id"), Values: []string{az.subnet}}}})
		if err != nil || len(out.RouteTables) != 1 {
			t.Fatalf("route table of %s: %v", az.subnet, err)
		}
		for _, dst := range []string{"172.16.0.0/12", "192.168.0.0/16"} {
			if _, err := g.ec.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: out.RouteTables[0].RouteTableId,
				DestinationCidrBlock: aws.String(dst), VpcEndpointId: aws.String(az.endpoint)}); err != nil {
				t.Fatalf("route %s of %s: %v", dst, az.subnet, err)
			}
		}
	}
	if diff := cmp.Diff(g.wantInline, g.routes(t)); diff != "" {
		t.Fatalf("routes put back in line (-want +got):\n%s", diff)
	}
}
