package fabric_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/dxmon/dxmon/fabric"
)

// gwlbARNs finds the appliances' target group, the GWLB and its listener.
func gwlbARNs(t *testing.T, c *elb.Client) (tg, lb, listener string) {
	t.Helper()
	ctx := context.Background()
	g, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"dxtest-gwlb-tg"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"dxtest-gwlb"}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := c.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: l.LoadBalancers[0].LoadBalancerArn})
	if err != nil || len(ls.Listeners) == 0 {
		t.Fatalf("listeners: %v", err)
	}
	return aws.ToString(g.TargetGroups[0].TargetGroupArn), aws.ToString(l.LoadBalancers[0].LoadBalancerArn), aws.ToString(ls.Listeners[0].ListenerArn)
}

// failoverState reads the settings failover.go makes.
func failoverState(t *testing.T, c *elb.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	tg, lb, listener := gwlbARNs(t, c)
	out := map[string]string{}
	ta, err := c.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ta.Attributes {
		out["tg "+aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	la, err := c.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range la.Attributes {
		out["lb "+aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	li, err := c.DescribeListenerAttributes(ctx, &elb.DescribeListenerAttributesInput{ListenerArn: aws.String(listener)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range li.Attributes {
		out["listener "+aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	g, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{tg}})
	if err != nil {
		t.Fatal(err)
	}
	hc := g.TargetGroups[0]
	out["hc"] = strings.Join([]string{string(hc.HealthCheckProtocol), aws.ToString(hc.HealthCheckPort),
		itoa32(hc.HealthCheckIntervalSeconds), itoa32(hc.HealthCheckTimeoutSeconds), itoa32(hc.HealthyThresholdCount), itoa32(hc.UnhealthyThresholdCount)}, " ")
	return out
}

func itoa32(p *int32) string { return strconv.Itoa(int(aws.ToInt32(p))) }

// TestMotoFailoverSettings (issue 17 item 2): stage 02 turns cross-zone
// load balancing on, sets target failover to rebalance on deregistration
// and on unhealthy targets, a 30 s deregistration delay, the health check
// and the listener's TCP idle timeout (GWLB_TCP_IDLE_TIMEOUT); each drifted
// by hand is a Change in the plan and repaired by apply. The proxy refuses
// what AWS refuses (a lone target_failover attribute, an idle timeout
// outside 60-6000 s), so a fabric that sent those would fail here.
func TestMotoFailoverSettings(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	kv := withKV(w.kv, "GWLB_TCP_IDLE_TIMEOUT", "900")
	var events []fabric.Event
	d := shortWait(t, kv, cfg, &events, 30e9)
	if err := d.Apply(ctx, buildStages...); err != nil {
		t.Fatalf("apply: %v", err)
	}
	c := elb.NewFromConfig(cfg)
	want := map[string]string{
		"tg target_failover.on_deregistration":    "rebalance",
		"tg target_failover.on_unhealthy":         "rebalance",
		"tg deregistration_delay.timeout_seconds": "30",
		"lb load_balancing.cross_zone.enabled":    "true",
		"listener tcp.idle_timeout.seconds":       "900",
		"hc":                                      "TCP 80 5 3 3 2",
	}
	check := func(when string) {
		got := failoverState(t, c)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", when, k, got[k], v)
			}
		}
	}
	check("after apply")
	for _, e := range events {
		if e.Kind == "failover" {
			t.Errorf("apply printed the plan's notice: %v", e)
		}
	}

	// Drift every setting by hand.
	tg, lb, listener := gwlbARNs(t, c)
	if _, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tg), Attributes: []elbtypes.TargetGroupAttribute{
		{Key: aws.String("target_failover.on_deregistration"), Value: aws.String("no_rebalance")},
		{Key: aws.String("target_failover.on_unhealthy"), Value: aws.String("no_rebalance")},
		{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("300")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb), Attributes: []elbtypes.LoadBalancerAttribute{
		{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String("false")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: aws.String(listener), Attributes: []elbtypes.ListenerAttribute{
		{Key: aws.String("tcp.idle_timeout.seconds"), Value: aws.String("350")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: aws.String(tg), HealthCheckIntervalSeconds: aws.Int32(30),
		UnhealthyThresholdCount: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	cs, err := d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(cs[0].Problems, "; "); !strings.Contains(p, "GWLB failover setting drifted: load_balancing.cross_zone.enabled false → true") ||
		!strings.Contains(p, "target_failover.on_unhealthy no_rebalance → rebalance") {
		t.Errorf("verify infrastructure problems: %s", p)
	}
	events = nil
	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	changes := map[string]string{}
	var notice, warning bool
	for _, e := range plan {
		if e.Action == fabric.Change && e.Stage == fabric.StageGWLB {
			changes[e.Kind] += e.Detail
		}
		notice = notice || (e.Kind == "failover" && strings.Contains(e.Detail, "within 13s"))
		warning = warning || (e.Action == fabric.Warning && strings.Contains(e.Detail, "15m0s (GWLB_TCP_IDLE_TIMEOUT"))
	}
	for kind, part := range map[string]string{
		"target-group-attributes":  "target_failover.on_deregistration no_rebalance → rebalance",
		"load-balancer-attributes": "load_balancing.cross_zone.enabled false → true",
		"listener-attributes":      "tcp.idle_timeout.seconds 350 → 900",
		"target-group":             "interval 30 → 5",
	} {
		if !strings.Contains(changes[kind], part) {
			t.Errorf("plan change %s = %q, want it to say %q", kind, changes[kind], part)
		}
	}
	if !notice {
		t.Error("plan does not state the failover bound")
	}
	if !warning { // stage 03 has not routed through the GWLB yet: the plan would
		t.Error("plan does not warn that idle TCP sessions longer than GWLB_TCP_IDLE_TIMEOUT break when stage 03 runs")
	}
	if err := d.Apply(ctx, fabric.StageGWLB); err != nil {
		t.Fatalf("repair: %v", err)
	}
	check("after repair")
	cs, err = d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(cs[0].Problems, "; "); strings.Contains(p, "drifted") {
		t.Errorf("verify after repair: %s", p)
	}
}

// opRecorder records, in order, the calls that touch appliances one by
// one: op and the instance IDs it names.
type opRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (o *opRecorder) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("dxmon-test-order",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				var ids []string
				switch p := in.Parameters.(type) {
				case *elb.DeregisterTargetsInput:
					for _, t := range p.Targets {
						ids = append(ids, aws.ToString(t.Id))
					}
				case *elb.RegisterTargetsInput:
					for _, t := range p.Targets {
						ids = append(ids, aws.ToString(t.Id))
					}
				case *ssm.SendCommandInput:
					ids = p.InstanceIds
				default:
					return next.HandleInitialize(ctx, in)
				}
				o.mu.Lock()
				o.ops = append(o.ops, middleware.GetOperationName(ctx)+" "+strings.Join(ids, ","))
				o.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// TestMotoApplianceRollout (issue 17 item 2): a new dxappliance is
// installed on one appliance at a time: deregister it, wait for the drain,
// restart it by Run Command, register it, wait until healthy, and only
// then the next; never two appliances out at once, never one Run Command
// for several.
func TestMotoApplianceRollout(t *testing.T) {
	_, cfg, _ := emulator(t)
	rec := &opRecorder{}
	rec.install(&cfg)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := shortWait(t, w.kv, cfg, nil, 30e9)
	if err := d.Apply(ctx, buildStages...); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ec := ec2.NewFromConfig(cfg)
	apps := instancesByRole(t, ec, "dxtest", "appliance")
	if len(apps) != 4 {
		t.Fatalf("%d appliances, want 2 in each of 2 AZs", len(apps))
	}
	// A new build of dxappliance.
	bin := w.kv["APPLIANCE_BINARY"]
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, append(b, "v2"...), 0o755); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.ops = nil
	rec.mu.Unlock()
	if err := shortWait(t, w.kv, cfg, nil, 30e9).Apply(ctx, fabric.StageGWLB); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	rec.mu.Lock()
	ops := append([]string{}, rec.ops...)
	rec.mu.Unlock()
	t.Logf("upgrade calls: %v", ops)
	var want []string
	var ids []string
	for _, a := range apps {
		ids = append(ids, aws.ToString(a.InstanceId))
	}
	slices.Sort(ids)
	for _, id := range ids {
		want = append(want, "DeregisterTargets "+id, "SendCommand "+id, "RegisterTargets "+id)
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("upgrade order:\n got %v\nwant %v", ops, want)
	}
	// Every appliance healthy again, on the new version.
	v := ""
	for _, a := range instancesByRole(t, ec, "dxtest", "appliance") {
		got := tagValueOf(a.Tags, fabric.TagApplianceVersion)
		if v != "" && got != v || got == "" {
			t.Errorf("appliance %s version %q (others %q)", aws.ToString(a.InstanceId), got, v)
		}
		v = got
	}
	cs, err := d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		for _, p := range c.Problems {
			if strings.Contains(p, "appliance target") {
				t.Errorf("after the rollout: %s", p)
			}
		}
	}
}

// TestMotoSizingAtStageZero (issue 17 item 1): stage 00 reads the types
// from DescribeInstanceTypes (moto serves AWS's baseline bandwidths and
// vCPUs), prints the table, refuses a count below the link's need, an
// appliance type Traffic Mirroring cannot use as a source, and a type of
// another architecture than the AMI, before any write; a raised count is
// launched.
func TestMotoSizingAtStageZero(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	base := makeWorld(t, cfg).kv
	for name, c := range map[string]struct {
		set  []string
		want string
	}{
		"count below need": {[]string{"LINK_BPS", "10G", "APPLIANCES_PER_AZ", "3"},
			"stage 00: sizing link: APPLIANCES_PER_AZ=3 cannot carry LINK_BPS=10 Gbps each way at LINK_MEAN_PACKET_BYTES=340: APPLIANCE_INSTANCE_TYPE c6g.8xlarge needs 4 per AZ (in 24 Gbps, out 33.65 Gbps, 7.35 Mpps; each 12 Gbps baseline"},
		// moto's c6g.large: 0.75 Gbps baseline, 2 vCPUs, as AWS documents.
		"baseline not peak": {[]string{"LINK_BPS", "10G", "APPLIANCE_INSTANCE_TYPE", "c6g.large"},
			"APPLIANCE_INSTANCE_TYPE c6g.large cannot carry LINK_BPS=10 Gbps each way at LINK_MEAN_PACKET_BYTES=340 with at most 16 appliances per AZ: in 24 Gbps, out 33.65 Gbps, 7.35 Mpps; each 750 Mbps baseline"},
		"not a mirror source": {[]string{"APPLIANCE_INSTANCE_TYPE", "c6gn.16xlarge"},
			"APPLIANCE_INSTANCE_TYPE: c6gn.16xlarge: AWS does not support C6gn instances as a traffic mirror source"},
		"other architecture": {[]string{"APPLIANCE_INSTANCE_TYPE", "c5n.9xlarge"},
			"APPLIANCE_INSTANCE_TYPE: c5n.9xlarge runs x86_64, not arm64, the architecture of the AMI"},
	} {
		t.Run(name, func(t *testing.T) {
			calls.reset(0, false)
			var events []fabric.Event
			err := newDeployer(t, withKV(base, c.set...), cfg, &events).Apply(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("apply: err = %v\nwant one line containing %q", err, c.want)
			}
			if m := calls.list(); len(m) != 0 {
				t.Errorf("mutating calls before the refusal: %v", m)
			}
		})
	}

	var events []fabric.Event
	plan, err := newDeployer(t, withKV(base, "PROBES_PER_AZ", "3"), cfg, &events).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	probes := 0
	for _, e := range plan {
		if e.Kind == "sizing" {
			table = append(table, e.Name)
		}
		if e.Kind == "probe-instance" && e.Action == fabric.Create {
			probes++
		}
	}
	if len(table) != 4 || !strings.Contains(table[2], "appliance | c6g.8xlarge") || !strings.Contains(table[3], "PROBES_PER_AZ=3 → 3") {
		t.Errorf("sizing table:\n%s", strings.Join(table, "\n"))
	}
	if probes != 6 {
		t.Errorf("plan creates %d probes, want 3 in each of 2 AZs", probes)
	}
}

// TestMotoExampleConfigPlan: `plan` on config/dx-monitor.conf (its IDs
// replaced by the emulator's) shows the sizing table for its 10 Gbps link,
// the failover settings with their bound, and the idle-timeout warning.
func TestMotoExampleConfigPlan(t *testing.T) {
	_, cfg, _ := emulator(t)
	f, err := os.Open("../config/dx-monitor.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv, err := fabric.ReadKeyValues(f)
	if err != nil {
		t.Fatal(err)
	}
	w := makeWorld(t, cfg).kv
	for _, k := range []string{"VPC_ID", "VGW_ID", "WORKLOAD_SUBNETS", "GWLBE_SUBNETS", "PROBE_BINARY", "PROBE_UNIT", "APPLIANCE_BINARY", "APPLIANCE_UNIT", "PROJECT_TAG"} {
		kv[k] = w[k]
	}
	plan, err := newDeployer(t, kv, cfg, nil).Plan(context.Background())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var lines []string
	for _, e := range plan {
		if e.Kind == "sizing" || e.Kind == "failover" || e.Action == fabric.Warning {
			lines = append(lines, e.String())
		}
	}
	text := strings.Join(lines, "\n")
	t.Logf("plan of the example configuration:\n%s", text)
	for _, want := range []string{
		"10 Gbps each way = 3.68 Mpps each way",
		"appliance | c6g.8xlarge  | in 408 B, out 572 B | in 24 Gbps, out 33.65 Gbps, 7.35 Mpps",
		"max(3 bw, 2 pps)+1 = 4 → 4",
		"probe     | c6gn.2xlarge | in 164 B",
		"max(1 bw, 4 pps)+1 = 5 → 5",
		"4 per AZ, any one may be lost; cross-zone load balancing on; a dead appliance stops getting new flows within 13s",
		"a TCP session idle for more than 5m50s (GWLB_TCP_IDLE_TIMEOUT",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan does not say %q", want)
		}
	}
}
