package fabric_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
)

// TestMotoHealthGatesRouting: stage 03 changes nothing while an appliance
// is not a healthy GWLB target — with nothing installed (the proxy, like
// AWS, reports unhealthy Target.FailedHealthChecks), or initial/unhealthy
// with other reason codes — and says which targets and why; verify reports
// the same; plan says in plain words what stage 03 changes; once every
// appliance is healthy stage 03 runs.
func TestMotoHealthGatesRouting(t *testing.T) {
	proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	noApp := withKV(w.kv, "APPLIANCE_BINARY", "")
	var events []fabric.Event
	d := shortWait(t, noApp, cfg, &events, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageGWLB); err != nil {
		t.Fatalf("stages 01-02: %v", err)
	}
	apps := instancesByRole(t, ec2.NewFromConfig(cfg), fabrictest.Project, "appliance")
	a0, a1 := aws.ToString(apps[0].InstanceId), aws.ToString(apps[1].InstanceId)

	events = nil
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	notice := false
	for _, e := range events {
		notice = notice || (e.Stage == fabric.StageRouting && e.Kind == "traffic-path" && e.Action == fabric.Change &&
			strings.Contains(e.Detail, "changes the production path of on-premises traffic"))
	}
	if !notice {
		t.Errorf("plan does not say that stage 03 changes the production path: %v", events)
	}

	refused := func(wantReasons ...string) {
		t.Helper()
		events = nil
		d := shortWait(t, noApp, cfg, &events, 200*time.Millisecond)
		calls.reset(0, false)
		err := d.Apply(ctx, fabric.StageRouting)
		if err == nil || !strings.Contains(err.Error(), "not re-routing on-premises traffic") {
			t.Fatalf("stage 03 with unhealthy appliances: err = %v", err)
		}
		for _, s := range append([]string{a0, a1}, wantReasons...) {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
		if m := calls.list(); len(m) != 0 {
			t.Errorf("stage 03 refused but made mutating calls: %v", m)
		}
		waiting := false
		for _, e := range events {
			waiting = waiting || (e.Action == fabric.Waiting && e.Kind == "appliance-health")
		}
		if !waiting {
			t.Errorf("no progress event while waiting: %v", events)
		}
	}
	// Nothing answers the health check: AWS's unhealthy, FailedHealthChecks.
	refused("unhealthy (Target.FailedHealthChecks")
	checks, err := d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if checks[0].OK || !strings.Contains(checks[0].String(), "appliance target "+a0+" unhealthy (Target.FailedHealthChecks") {
		t.Errorf("verify with unhealthy appliances: %v", checks[0])
	}

	// dxappliance installed (stage 02 again, with the binary), but the
	// GWLB still checking one and timing out on the other.
	d = shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageGWLB); err != nil {
		t.Fatalf("stage 02 with APPLIANCE_BINARY: %v", err)
	}
	proxy.SetTargetHealth(a0, "initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
	proxy.SetTargetHealth(a1, "unhealthy", "Target.Timeout", "Request timed out")
	refused("initial (Elb.InitialHealthChecking", "unhealthy (Target.Timeout")
	checks, err = d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := checks[0].String(); checks[0].OK || !strings.Contains(s, a0+" initial (Elb.InitialHealthChecking") || !strings.Contains(s, a1+" unhealthy (Target.Timeout") {
		t.Errorf("verify: %v", checks[0])
	}

	// Healthy: stage 03 runs.
	proxy.SetTargetHealth(a0, "", "", "")
	proxy.SetTargetHealth(a1, "healthy", "", "")
	d = shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageRouting); err != nil {
		t.Fatalf("stage 03 with healthy appliances: %v", err)
	}
	checks, err = d.Verify(ctx)
	if err != nil || !checks[1].OK || strings.Contains(checks[0].String(), "appliance target") {
		t.Errorf("verify after stage 03: %v %v", err, checks)
	}
	// Converged routing is not re-gated: an unhealthy appliance later does
	// not make a re-run of stage 03 fail (verify reports it).
	proxy.SetTargetHealth(a1, "unhealthy", "Target.Timeout", "")
	if err := shortWait(t, w.kv, cfg, nil, 200*time.Millisecond).Apply(ctx, fabric.StageRouting); err != nil {
		t.Errorf("stage 03 again, converged: %v", err)
	}
}

// TestMotoReturnRoutes: with RETURN_ROUTES each business subnet's table
// sends every on-prem CIDR to the GWLB endpoint of its own AZ (replacing a
// static route to the VGW, adding the others); plan shows it, verify checks
// it, a second apply changes nothing, destroy points them back at the VGW.
// With RETURN_ROUTES=false the business tables are untouched and plan says
// so; the default is on.
func TestMotoReturnRoutes(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	ec := ec2.NewFromConfig(cfg)
	subnetOf := func(cidr string) string {
		out, err := ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("cidr-block"), Values: []string{cidr}}}})
		if err != nil || len(out.Subnets) != 1 {
			t.Fatalf("subnet %s: %v", cidr, err)
		}
		return aws.ToString(out.Subnets[0].SubnetId)
	}
	ba, bb := subnetOf("10.0.21.0/24"), subnetOf("10.0.22.0/24")
	vgw := w.kv["VGW_ID"]
	before := map[string][]string{ba: sortedRoutes(t, ec, ba), bb: sortedRoutes(t, ec, bb)}
	if diff := cmp.Diff([]string{"172.16.0.0/12 → " + vgw}, before[ba]); diff != "" {
		t.Fatalf("world's business route table (-want +got):\n%s", diff)
	}

	// Off: untouched, and plan says why.
	var events []fabric.Event
	d := shortWait(t, withKV(w.kv, "RETURN_ROUTES", "false"), cfg, &events, 30*time.Second)
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	skipped := false
	for _, e := range events {
		skipped = skipped || (e.Kind == "return-route" && e.Action == fabric.Skipped && strings.Contains(e.Detail, "RETURN_ROUTES off"))
	}
	if !skipped {
		t.Errorf("plan without RETURN_ROUTES does not say it leaves the return path alone: %v", events)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	for s, want := range before {
		if diff := cmp.Diff(want, sortedRoutes(t, ec, s)); diff != "" {
			t.Errorf("RETURN_ROUTES off changed %s (-want +got):\n%s", s, diff)
		}
	}

	// On (the default): plan, apply, verify, idempotence.
	on := w.kv
	events = nil
	d = shortWait(t, on, cfg, &events, 30*time.Second)
	calls.reset(0, false)
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	var planned []string
	for _, e := range events {
		if e.Kind == "return-route" {
			planned = append(planned, string(e.Action)+" "+e.Name[strings.Index(e.Name, " ")+1:])
		}
	}
	wantPlan := []string{
		"change 172.16.0.0/12 (from 10.0.21.0/24)", "create 192.168.0.0/16 (from 10.0.21.0/24)",
		"create 172.16.0.0/12 (from 10.0.22.0/24)", "create 192.168.0.0/16 (from 10.0.22.0/24)",
	}
	if diff := cmp.Diff(wantPlan, planned); diff != "" {
		t.Errorf("plan of return routes (-want +got):\n%s", diff)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply with RETURN_ROUTES: %v", err)
	}
	endpointOf := func(subnet string) string {
		out, err := ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:Name"), Values: []string{fabrictest.Project + "-gwlbe-" + subnet}}}})
		if err != nil || len(out.VpcEndpoints) != 1 {
			t.Fatalf("endpoint of %s: %v", subnet, err)
		}
		return aws.ToString(out.VpcEndpoints[0].VpcEndpointId)
	}
	gw := strings.Fields(w.kv["GWLBE_SUBNETS"])
	ea, eb := endpointOf(gw[0]), endpointOf(gw[1]) // us-east-1a, us-east-1b
	if diff := cmp.Diff([]string{"172.16.0.0/12 → " + ea, "192.168.0.0/16 → " + ea}, sortedRoutes(t, ec, ba)); diff != "" {
		t.Errorf("business subnet in us-east-1a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"172.16.0.0/12 → " + eb, "192.168.0.0/16 → " + eb}, sortedRoutes(t, ec, bb)); diff != "" {
		t.Errorf("business subnet in us-east-1b (-want +got):\n%s", diff)
	}
	checks, err := d.Verify(ctx)
	if err != nil || !checks[1].OK || !strings.Contains(checks[1].Detail, "return routes") {
		t.Errorf("verify routing with return routes: %v %v", err, checks[1])
	}
	calls.reset(0, false)
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Errorf("second apply with RETURN_ROUTES made mutating calls: %v", m)
	}

	// Destroy: every route to our endpoints goes back to the VGW (the
	// tables do not propagate the VGW's routes).
	if err := d.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	for _, s := range []string{ba, bb} {
		if diff := cmp.Diff([]string{"172.16.0.0/12 → " + vgw, "192.168.0.0/16 → " + vgw}, sortedRoutes(t, ec, s)); diff != "" {
			t.Errorf("%s after destroy (-want +got):\n%s", s, diff)
		}
	}
	if left := inventory(t, cfg, fabrictest.Project); len(left) != 0 {
		t.Errorf("left after destroy: %v", left)
	}
}
