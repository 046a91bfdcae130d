package fabric

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Surviving the loss of an appliance (stage 02).
//
// At least two appliances per AZ (sizing.go), and the GWLB set so that one
// that dies, or that a deployment replaces, stops getting traffic within a
// stated bound while the others carry it:
//
//   - Cross-zone load balancing on (load balancer attribute
//     load_balancing.cross_zone.enabled): without it "each load balancer
//     node distributes traffic across the registered targets in its
//     Availability Zone only", so an AZ whose appliances are all down
//     drops its traffic ("Gateway Load Balancers", Cross-zone load
//     balancing).
//   - Target failover: target group attributes
//     target_failover.on_deregistration and target_failover.on_unhealthy =
//     rebalance. By default (no_rebalance) "the Gateway Load Balancer
//     continues to send existing flows to failed or drained targets. If the
//     Gateway Load Balancer cannot reach the target, the traffic is
//     dropped" ("Edit target group attributes for your Gateway Load
//     Balancer", Target failover). AWS requires the two together: "The two
//     attributes (target_failover.on_deregistration and
//     target_failover.on_unhealthy) can't be set independently. The value
//     you set for both attributes must be the same" (Elastic Load Balancing
//     API Reference, TargetGroupAttribute), so fabric always sends both in
//     one ModifyTargetGroupAttributes.
//   - Health check: TCP ApplianceHealthPort every HealthCheckInterval,
//     unhealthy after UnhealthyThreshold failures of HealthCheckTimeout
//     each, healthy again after HealthyThreshold successes. AWS's ranges
//     ("Health checks for Gateway Load Balancer target groups"): interval
//     5-300 s (at least the timeout), timeout 2-120 s, thresholds 2-10. "For
//     unhealthy targets, the minimum time to failover will depend on the
//     target group health check configuration (interval times threshold)"
//     (Target failover, above): FailoverBound.
//   - Deregistration delay (deregistration_delay.timeout_seconds, 0-3600,
//     default 300) of DeregistrationDelay: a deployment deregisters an
//     appliance and waits for it to drain before restarting it. dxappliance
//     itself, on SIGTERM, stops answering the health check first and keeps
//     returning packets for ApplianceDrainDelay, longer than the
//     deregistration delay (APPLIANCE_DRAIN_DELAY in its environment file).
//   - TCP idle timeout: the GWLB listener attribute tcp.idle_timeout.seconds
//     (GWLB_TCP_IDLE_TIMEOUT, 60-6000 s, default 350; "Listeners for your
//     Gateway Load Balancers"). GWLB tracks every TCP flow it carries; one
//     idle for longer is forgotten, and its next packet is not delivered.
//     Flows that exist when stage 03 first routes traffic through the
//     appliances are not in GWLB's table at all: plan says so.
//
// Drift of any of these is a Change in a plan and repaired by apply.

// Failover settings of the appliances' target group.
const (
	HealthCheckInterval = 5 * time.Second
	HealthCheckTimeout  = 3 * time.Second
	UnhealthyThreshold  = 2
	HealthyThreshold    = 3
	DeregistrationDelay = 30 * time.Second
	// ApplianceDrainDelay is how long dxappliance keeps returning packets
	// after SIGTERM (APPLIANCE_DRAIN_DELAY): past the deregistration delay.
	ApplianceDrainDelay = 35 * time.Second
	// FailoverBound is how long a dead appliance may still be sent new
	// flows: UnhealthyThreshold checks, each up to the interval apart, the
	// last one timing out.
	FailoverBound = UnhealthyThreshold*HealthCheckInterval + HealthCheckTimeout
)

// Attribute keys fabric sets.
const (
	attrCrossZone       = "load_balancing.cross_zone.enabled"
	attrOnDeregister    = "target_failover.on_deregistration"
	attrOnUnhealthy     = "target_failover.on_unhealthy"
	attrDeregistration  = "deregistration_delay.timeout_seconds"
	attrTCPIdleTimeout  = "tcp.idle_timeout.seconds"
	targetFailoverValue = "rebalance"
)

// applianceHealthCheck is the target group's health check, in
// CreateTargetGroup's fields.
func applianceHealthCheck(in *elb.CreateTargetGroupInput) {
	in.HealthCheckProtocol = elbtypes.ProtocolEnumTcp
	in.HealthCheckPort = aws.String(fmt.Sprint(ApplianceHealthPort))
	in.HealthCheckIntervalSeconds = aws.Int32(int32(HealthCheckInterval / time.Second))
	in.HealthCheckTimeoutSeconds = aws.Int32(int32(HealthCheckTimeout / time.Second))
	in.HealthyThresholdCount = aws.Int32(HealthyThreshold)
	in.UnhealthyThresholdCount = aws.Int32(UnhealthyThreshold)
}

// healthCheckDrift lists how an existing target group's health check
// differs from applianceHealthCheck.
func healthCheckDrift(g elbtypes.TargetGroup) []string {
	var d []string
	for _, c := range []struct {
		name       string
		have, want int32
	}{
		{"interval", aws.ToInt32(g.HealthCheckIntervalSeconds), int32(HealthCheckInterval / time.Second)},
		{"timeout", aws.ToInt32(g.HealthCheckTimeoutSeconds), int32(HealthCheckTimeout / time.Second)},
		{"healthy threshold", aws.ToInt32(g.HealthyThresholdCount), HealthyThreshold},
		{"unhealthy threshold", aws.ToInt32(g.UnhealthyThresholdCount), UnhealthyThreshold},
	} {
		if c.have != c.want {
			d = append(d, fmt.Sprintf("%s %d → %d", c.name, c.have, c.want))
		}
	}
	if g.HealthCheckProtocol != elbtypes.ProtocolEnumTcp || aws.ToString(g.HealthCheckPort) != fmt.Sprint(ApplianceHealthPort) {
		d = append(d, fmt.Sprintf("check %s %s → TCP %d", g.HealthCheckProtocol, aws.ToString(g.HealthCheckPort), ApplianceHealthPort))
	}
	return d
}

// wantTGAttributes are the appliances' target group attributes.
func wantTGAttributes() map[string]string {
	return map[string]string{
		attrOnDeregister:   targetFailoverValue,
		attrOnUnhealthy:    targetFailoverValue,
		attrDeregistration: fmt.Sprint(int(DeregistrationDelay / time.Second)),
	}
}

// attrDrift compares attributes read from AWS with the wanted ones; a key
// AWS did not return counts as its default, which is never fabric's value.
func attrDrift(have map[string]string, want map[string]string) []string {
	var d []string
	for k, v := range want {
		if have[k] != v {
			got := have[k]
			if got == "" {
				got = "(default)"
			}
			d = append(d, fmt.Sprintf("%s %s → %s", k, got, v))
		}
	}
	sort.Strings(d)
	return d
}

// ensureApplianceTGFailover repairs the health check and the failover
// attributes of the appliances' target group.
func (r *run) ensureApplianceTGFailover(ctx context.Context, tg string) error {
	d := r.d
	name := d.gwlbTGName()
	if isPlanned(tg) {
		// Set by a change right after the creation, as apply reports it.
		r.event("target-group-attributes", name, "", Change, strings.Join(attrDrift(nil, wantTGAttributes()), ", "))
		return nil
	}
	out, err := d.c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{tg}})
	if err != nil || len(out.TargetGroups) == 0 {
		return r.fail("target-group", name, fmt.Errorf("describe: %v", err))
	}
	if drift := healthCheckDrift(out.TargetGroups[0]); len(drift) > 0 {
		if err := r.change(ctx, "target-group", name, tg, "health check: "+strings.Join(drift, ", "), func(ctx context.Context) error {
			in := &elb.CreateTargetGroupInput{}
			applianceHealthCheck(in)
			_, err := d.c.ELB.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: aws.String(tg),
				HealthCheckProtocol: in.HealthCheckProtocol, HealthCheckPort: in.HealthCheckPort,
				HealthCheckIntervalSeconds: in.HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds: in.HealthCheckTimeoutSeconds,
				HealthyThresholdCount: in.HealthyThresholdCount, UnhealthyThresholdCount: in.UnhealthyThresholdCount})
			return err
		}); err != nil {
			return err
		}
	}
	attrs, err := d.c.ELB.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		return r.fail("target-group-attributes", name, err)
	}
	have := map[string]string{}
	for _, a := range attrs.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	drift := attrDrift(have, wantTGAttributes())
	if len(drift) == 0 {
		r.event("target-group-attributes", name, tg, Exists, "")
		return nil
	}
	return r.change(ctx, "target-group-attributes", name, tg, strings.Join(drift, ", "), func(ctx context.Context) error {
		// Both target_failover attributes in one call, always: AWS
		// refuses one without the other.
		var in []elbtypes.TargetGroupAttribute
		for _, k := range []string{attrOnDeregister, attrOnUnhealthy, attrDeregistration} {
			in = append(in, elbtypes.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(wantTGAttributes()[k])})
		}
		_, err := d.c.ELB.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tg), Attributes: in})
		return err
	})
}

// ensureGWLBFailover turns cross-zone load balancing on and sets the
// listener's TCP idle timeout.
func (r *run) ensureGWLBFailover(ctx context.Context, lb string) error {
	d := r.d
	name := d.gwlbName()
	idle := fmt.Sprint(int(d.cfg.GWLBTCPIdleTimeout / time.Second))
	if isPlanned(lb) {
		r.event("load-balancer-attributes", name, "", Change, attrCrossZone+" (default) → true")
		if d.cfg.GWLBTCPIdleTimeout != DefaultGWLBTCPIdleTimeout { // AWS's default needs no change
			r.event("listener-attributes", name, "", Change, attrTCPIdleTimeout+" 350 → "+idle)
		}
		return nil
	}
	attrs, err := d.c.ELB.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb)})
	if err != nil {
		return r.fail("load-balancer-attributes", name, err)
	}
	have := map[string]string{}
	for _, a := range attrs.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	if drift := attrDrift(have, map[string]string{attrCrossZone: "true"}); len(drift) > 0 {
		if err := r.change(ctx, "load-balancer-attributes", name, lb, strings.Join(drift, ", "), func(ctx context.Context) error {
			_, err := d.c.ELB.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb),
				Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String(attrCrossZone), Value: aws.String("true")}}})
			return err
		}); err != nil {
			return err
		}
	} else {
		r.event("load-balancer-attributes", name, lb, Exists, attrCrossZone+" true")
	}
	ls, err := d.c.ELB.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lb)})
	if err != nil || len(ls.Listeners) == 0 {
		return r.fail("listener", name, fmt.Errorf("describe: %v", err))
	}
	listener := aws.ToString(ls.Listeners[0].ListenerArn)
	la, err := d.c.ELB.DescribeListenerAttributes(ctx, &elb.DescribeListenerAttributesInput{ListenerArn: aws.String(listener)})
	if err != nil {
		return r.fail("listener-attributes", name, err)
	}
	have = map[string]string{}
	for _, a := range la.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	drift := attrDrift(have, map[string]string{attrTCPIdleTimeout: idle})
	if len(drift) == 0 {
		r.event("listener-attributes", name, listener, Exists, attrTCPIdleTimeout+" "+idle)
		return nil
	}
	return r.change(ctx, "listener-attributes", name, listener, strings.Join(drift, ", "), func(ctx context.Context) error {
		_, err := d.c.ELB.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: aws.String(listener),
			Attributes: []elbtypes.ListenerAttribute{{Key: aws.String(attrTCPIdleTimeout), Value: aws.String(idle)}}})
		return err
	})
}

// failoverNotice is the plan's plain statement of the failover settings.
func (r *run) failoverNotice() {
	s := r.env.sizing.Appliance
	r.event("failover", "appliances", "", Info, fmt.Sprintf(
		"%d per AZ, any one may be lost; cross-zone load balancing on; a dead appliance stops getting new flows within %s "+
			"(TCP %d checked every %s, unhealthy after %d failures, %s timeout) and its flows are rebalanced to healthy ones "+
			"(AWS may add propagation time); deployments replace one appliance at a time: deregister, drain %s, restart, healthy again, next; "+
			"dxappliance keeps returning packets %s after SIGTERM",
		max(s.PerAZ, MinPerAZ), FailoverBound, ApplianceHealthPort, HealthCheckInterval, UnhealthyThreshold, HealthCheckTimeout,
		DeregistrationDelay, ApplianceDrainDelay))
}

// idleTimeoutWarning is the plan's warning about the TCP sessions stage
// 03 breaks.
func (r *run) idleTimeoutWarning() {
	r.event("traffic-path", "GWLB_TCP_IDLE_TIMEOUT", "", Warning, fmt.Sprintf(
		"once stage 03 routes on-premises traffic through the GWLB, a TCP session idle for more than %s (GWLB_TCP_IDLE_TIMEOUT, "+
			"the listener's tcp.idle_timeout.seconds) is forgotten by GWLB and breaks: long-lived idle sessions (database pools, "+
			"SSH, message queues) need keepalives shorter than that, and sessions open while stage 03 switches the path may have to reconnect",
		r.d.cfg.GWLBTCPIdleTimeout))
}

// checkFailover adds verify's problems with the failover settings: any
// drift of the health check, the target group's or load balancer's
// attributes or the listener's idle timeout (stage 02 repairs them).
func (r *run) checkFailover(ctx context.Context, c *checker) {
	d := r.d
	tg, err := d.findTG(d.gwlbTGName())(ctx)
	if err != nil || tg == "" {
		return // checkAppliances reports a missing target group
	}
	var drift []string
	if out, err := d.c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{tg}}); err == nil && len(out.TargetGroups) > 0 {
		drift = append(drift, healthCheckDrift(out.TargetGroups[0])...)
	}
	if attrs, err := d.c.ELB.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tg)}); err == nil {
		have := map[string]string{}
		for _, a := range attrs.Attributes {
			have[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
		drift = append(drift, attrDrift(have, wantTGAttributes())...)
	} else {
		c.problem("target group %s attributes: %v", d.gwlbTGName(), err)
	}
	if lb, err := d.findLBARN(d.gwlbName())(ctx); err == nil && lb != "" {
		if attrs, err := d.c.ELB.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb)}); err == nil {
			have := map[string]string{}
			for _, a := range attrs.Attributes {
				have[aws.ToString(a.Key)] = aws.ToString(a.Value)
			}
			drift = append(drift, attrDrift(have, map[string]string{attrCrossZone: "true"})...)
		}
	}
	for _, s := range drift {
		c.problem("GWLB failover setting drifted: %s (run stage 02)", s)
	}
}
