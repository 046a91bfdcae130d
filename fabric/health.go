package fabric

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The appliances' health, as the GWLB's target group sees it, gates stage
// 03: the VGW's ingress routes send on-premises traffic through the GWLB
// endpoints, and an appliance that does not answer the health check does
// not return that traffic.
//
// States and reason codes are AWS's (Elastic Load Balancing API reference,
// "TargetHealth"; Gateway Load Balancer guide, "Health checks for Gateway
// Load Balancer target groups"): healthy (no reason); initial with
// Elb.RegistrationInProgress or Elb.InitialHealthChecking; unhealthy with
// Target.ResponseCodeMismatch, Target.Timeout or Target.FailedHealthChecks;
// unused with Target.NotRegistered, Target.NotInUse, Target.InvalidState;
// draining with Target.DeregistrationInProgress. Only healthy lets stage 03
// run.

// TargetState is one target's health as DescribeTargetHealth reports it.
type TargetState struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
}

// String renders the state as "i-0abc unhealthy (Target.FailedHealthChecks: Health checks failed)".
func (t TargetState) String() string {
	s := t.ID + " " + t.State
	switch {
	case t.Reason != "" && t.Description != "":
		s += " (" + t.Reason + ": " + t.Description + ")"
	case t.Reason != "":
		s += " (" + t.Reason + ")"
	}
	return s
}

// UnhealthyTargets returns, for the instances that must be healthy (want),
// one line per instance that is not registered or not healthy, sorted.
func UnhealthyTargets(want []string, have []TargetState) []string {
	by := map[string]TargetState{}
	for _, t := range have {
		by[t.ID] = t
	}
	var out []string
	for _, id := range want {
		t, ok := by[id]
		switch {
		case !ok:
			out = append(out, id+" not registered")
		case t.State != string(elbtypes.TargetHealthStateEnumHealthy):
			out = append(out, t.String())
		}
	}
	sort.Strings(out)
	return out
}

// targetStates reads a target group's health.
func (d *Deployer) targetStates(ctx context.Context, tgARN string) ([]TargetState, error) {
	out, err := d.c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return nil, err
	}
	var ts []TargetState
	for _, h := range out.TargetHealthDescriptions {
		t := TargetState{}
		if h.Target != nil {
			t.ID = aws.ToString(h.Target.Id)
		}
		if h.TargetHealth != nil {
			t.State, t.Reason, t.Description = string(h.TargetHealth.State), string(h.TargetHealth.Reason), aws.ToString(h.TargetHealth.Description)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// applianceHealth returns the problems that keep the appliances from
// carrying traffic: none running, the GWLB target group missing, or
// targets not registered or not healthy.
func (r *run) applianceHealth(ctx context.Context) ([]string, error) {
	d := r.d
	apps, err := d.findInstances(ctx, "appliance", "")
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		return []string{"no appliance instance"}, nil
	}
	tg, err := d.findTG(d.gwlbTGName())(ctx)
	if err != nil {
		return nil, err
	}
	if tg == "" {
		return []string{"target group " + d.gwlbTGName() + " missing"}, nil
	}
	states, err := d.targetStates(ctx, tg)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range apps {
		ids = append(ids, aws.ToString(a.InstanceId))
	}
	return UnhealthyTargets(ids, states), nil
}

// waitAppliancesHealthy waits, at most WaitTimeout, until every appliance
// is a healthy target of the GWLB, reporting each change of the unhealthy
// set as a Waiting event; then it fails naming the unhealthy targets and
// their reason codes.
func (r *run) waitAppliancesHealthy(ctx context.Context) error {
	var last []string
	seen := ""
	err := r.d.poll(ctx, "healthy appliances", func(ctx context.Context) (bool, error) {
		p, err := r.applianceHealth(ctx)
		if err != nil {
			return false, err
		}
		last = p
		if now := strings.Join(p, "; "); len(p) > 0 && now != seen {
			seen = now
			r.event("appliance-health", r.d.gwlbTGName(), "", Waiting, now)
		}
		return len(p) == 0, nil
	})
	if err == nil {
		r.event("appliance-health", r.d.gwlbTGName(), "", Exists, "every appliance healthy")
		return nil
	}
	if len(last) > 0 && ctx.Err() == nil {
		return fmt.Errorf("stage %s: not re-routing on-premises traffic: appliances not healthy after %s: %s",
			r.stage, r.d.opt.WaitTimeout, strings.Join(last, "; "))
	}
	return fmt.Errorf("stage %s: appliance health: %w", r.stage, err)
}

// trafficPathNotice is the plan's plain statement of what stage 03 does.
func (r *run) trafficPathNotice() {
	detail := "stage 03 changes the production path of on-premises traffic: the VGW will send traffic for the business subnets " +
		"through the GWLB appliances; apply first waits for every appliance to be healthy"
	if r.d.cfg.ReturnRoutes {
		detail += ", and RETURN_ROUTES sends the replies from the business subnets through them too"
	}
	r.event("traffic-path", "on-premises → business subnets", "", Change, detail)
	r.idleTimeoutWarning()
}

// gateRouting runs before stage 03 changes anything: when the routing is
// not already in place, a plan says in plain words that it would change
// the production path, and an apply waits for healthy appliances.
func (r *run) gateRouting(ctx context.Context) error {
	if c := r.checkRouting(ctx); c.OK {
		return nil
	}
	if r.plan {
		r.trafficPathNotice()
		return nil
	}
	return r.waitAppliancesHealthy(ctx)
}

// checkAppliances adds verify's problems with the appliances: GWLB targets
// not registered or not healthy (with their reason codes), and, when
// APPLIANCE_BINARY is set, appliances without that dxappliance version.
func (r *run) checkAppliances(ctx context.Context, c *checker) {
	d := r.d
	p, err := r.applianceHealth(ctx)
	if err != nil {
		c.problem("appliance target health: %v", err)
	}
	for _, s := range p {
		c.problem("appliance target %s", s)
	}
	if d.cfg.ApplianceBinary == "" {
		return
	}
	a, err := d.applianceComponent().read()
	if err != nil {
		c.problem("%v", err)
		return
	}
	apps, err := d.findInstances(ctx, "appliance", "")
	if err != nil {
		c.problem("appliances: %v", err)
		return
	}
	for _, i := range apps {
		if v := tagValue(i.Tags, TagApplianceVersion); v != a.version {
			c.problem("appliance %s runs dxappliance %q, not %s (run stage 02)", aws.ToString(i.InstanceId), v, a.version)
		}
	}
}
