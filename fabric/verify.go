package fabric

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Check is one of verify's checks.
type Check struct {
	Name     string   `json:"name"` // infrastructure, routing, mirror, probe, traffic, fleet, allowance
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	// Pages are the probes' page addresses (the probe check only).
	Pages []string `json:"pages,omitempty"`
}

// String renders the check as one pass/fail line.
func (c Check) String() string {
	s := "PASS"
	if !c.OK {
		s = "FAIL"
	}
	line := fmt.Sprintf("%s %-14s", s, c.Name)
	if c.Detail != "" {
		line += " " + c.Detail
	}
	if len(c.Pages) > 0 {
		line += "; pages " + strings.Join(c.Pages, " ")
	}
	if len(c.Problems) > 0 {
		line += " — " + strings.Join(c.Problems, "; ")
	}
	return line
}

// Checks is verify's result.
type Checks []Check

// OK reports whether every check passed.
func (cs Checks) OK() bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return len(cs) > 0
}

// VerifyWindow is how far back verify reads CloudWatch.
const VerifyWindow = 15 * time.Minute

type checker struct{ Check }

func (c *checker) problem(format string, a ...any) {
	c.Problems = append(c.Problems, fmt.Sprintf(format, a...))
}

// found records a problem when id is empty or err is set.
func (c *checker) found(what, id string, err error) bool {
	switch {
	case err != nil:
		c.problem("%s: %v", what, err)
	case id == "":
		c.problem("%s missing", what)
	default:
		return true
	}
	return false
}

func (c *checker) done() Check { c.OK = len(c.Problems) == 0; return c.Check }

// CheckNames returns verify's checks, in the order Verify runs and lists
// them: a copy of its own, which the caller may change.
func CheckNames() []string { return slices.Clone(checkNames) }

// checkNames are the checks in order; only CheckNames hands them out.
var checkNames = []string{"infrastructure", "routing", "mirror", "probe", "traffic", "fleet", "allowance"}

// checkFuncs are the checks by name; each reads what it needs itself.
var checkFuncs = map[string]func(*run, context.Context) Check{
	"infrastructure": (*run).checkInfra,
	"routing": func(r *run, ctx context.Context) Check {
		c := r.checkRouting(ctx)
		r.checkFailOpen(ctx, &c) // failopen.go
		return c
	},
	"mirror":    (*run).checkMirror,
	"probe":     (*run).checkProbe,
	"traffic":   (*run).checkTraffic,
	"fleet":     (*run).checkFleet,
	"allowance": (*run).checkAllowance,
}

// verify runs the checks named in only (every check when it is empty), in
// CheckNames' order (the last, allowance, rewrites a tag).
func (r *run) verify(ctx context.Context, only map[string]bool) Checks {
	var out Checks
	for _, name := range checkNames {
		if len(only) == 0 || only[name] {
			out = append(out, checkFuncs[name](r, ctx))
		}
	}
	return out
}

// ValidateChecks refuses a name that is not one of CheckNames, or is
// given twice, as Verify would: for a command line that names checks.
func ValidateChecks(names []string) error {
	_, err := checkSet(names)
	return err
}

// checkSet turns check names into a set, refusing an unknown or repeated
// name.
func checkSet(names []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, n := range names {
		switch {
		case checkFuncs[n] == nil:
			return nil, fmt.Errorf("verify: unknown check %q (the checks: %s)", n, strings.Join(checkNames, ", "))
		case set[n]:
			return nil, fmt.Errorf("verify: check %q named twice", n)
		}
		set[n] = true
	}
	return set, nil
}

func (r *run) checkInfra(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "infrastructure"}}
	for _, sg := range d.SecurityGroups() {
		id, err := d.findSGID(sg.Name)(ctx)
		c.found("security group "+sg.Name, id, err)
	}
	for _, role := range []string{"appliance", "probe"} {
		for _, w := range r.env.workload {
			for i := 1; i <= r.perAZ(role); i++ {
				name := d.applianceNameN(w.az, i)
				if role == "probe" {
					name = d.probeNameN(w.az, i)
				}
				in, err := d.findInstances(ctx, role, name)
				if err != nil || len(in) == 0 {
					c.found("instance "+name, "", err)
					continue
				}
				if in[0].State == nil || in[0].State.Name != ec2types.InstanceStateNameRunning {
					c.problem("instance %s %s is not running", name, aws.ToString(in[0].InstanceId))
				}
			}
		}
	}
	for _, name := range []string{d.gwlbName(), d.nlbName()} {
		lb, err := d.findLB(ctx, name)
		if err != nil || lb == nil {
			c.found("load balancer "+name, "", err)
			continue
		}
		if lb.State == nil || lb.State.Code != elbtypes.LoadBalancerStateEnumActive {
			c.problem("load balancer %s is not active", name)
		}
	}
	for _, name := range []string{d.gwlbTGName(), d.probeTGName()} {
		id, err := d.findTG(name)(ctx)
		c.found("target group "+name, id, err)
	}
	if svc, err := d.findService(ctx); err != nil || svc == nil {
		c.found("endpoint service "+d.serviceName(), "", err)
	}
	for _, s := range d.cfg.GWLBESubnets {
		e, err := d.findEndpoint(ctx, s)
		if err != nil || e == nil {
			c.found("gwlb endpoint "+d.endpointName(s), "", err)
		} else if !stateIs(string(e.State), "available") {
			c.problem("gwlb endpoint %s is %s", d.endpointName(s), e.State)
		}
	}
	id, err := d.findMirrorTarget(ctx)
	c.found("mirror target "+d.mirrorTargetName(), id, err)
	id, err = d.findFilter(ctx)
	c.found("mirror filter "+d.filterName(), id, err)
	r.checkAppliances(ctx, c)
	r.checkFailover(ctx, c) // failover.go
	return c.done()
}

func (r *run) checkRouting(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "routing"}}
	rt, err := d.findRouteTable(ctx)
	if err != nil || rt == nil {
		c.found("route table "+d.routeTableName(), "", err)
		return c.done()
	}
	assoc := false
	for _, a := range rt.Associations {
		assoc = assoc || aws.ToString(a.GatewayId) == d.cfg.VGWID
	}
	if !assoc {
		c.problem("route table %s is not edge-associated with %s", d.routeTableName(), d.cfg.VGWID)
	}
	routes, err := r.businessRoutes(ctx)
	if err != nil {
		c.problem("%v", err)
		return c.done()
	}
	for cidr, subnet := range routes {
		e, err := d.findEndpoint(ctx, subnet)
		if err != nil || e == nil {
			c.found("gwlb endpoint "+d.endpointName(subnet), "", err)
			continue
		}
		ok := false
		for _, rte := range rt.Routes {
			if aws.ToString(rte.DestinationCidrBlock) == cidr {
				ok = aws.ToString(rte.GatewayId) == aws.ToString(e.VpcEndpointId) && rte.State != ec2types.RouteStateBlackhole
			}
		}
		if !ok {
			c.problem("no active route %s → %s", cidr, aws.ToString(e.VpcEndpointId))
		}
	}
	c.Detail = fmt.Sprintf("%d business routes", len(routes))
	if d.cfg.ReturnRoutes {
		r.checkReturnRoutes(ctx, c, routes)
		c.Detail += fmt.Sprintf(", return routes for %d on-prem CIDRs", len(d.cfg.OnPremCIDRs))
	}
	return c.done()
}

func (r *run) checkMirror(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "mirror"}}
	target, err := d.findMirrorTarget(ctx)
	c.found("mirror target", target, err)
	filter, err := d.findFilter(ctx)
	if c.found("mirror filter", filter, err) {
		have, err := d.filterRules(ctx, filter)
		if err != nil {
			c.problem("filter rules: %v", err)
		} else if create, del := diffFilter(d.FilterRules(), have); len(create)+len(del) > 0 {
			c.problem("filter rules differ: %d missing, %d extra or with a protocol", len(create), len(del))
		}
	}
	enis, err := d.applianceENIs(ctx)
	if err != nil {
		c.problem("appliance ENIs: %v", err)
	}
	if len(enis) == 0 {
		c.problem("no appliance ENI")
	}
	ours, err := d.ourSessions(ctx)
	if err != nil {
		c.problem("sessions: %v", err)
	}
	byENI := map[string]ec2types.TrafficMirrorSession{}
	for _, s := range ours {
		byENI[aws.ToString(s.NetworkInterfaceId)] = s
	}
	for _, e := range enis {
		s, ok := byENI[e]
		switch {
		case !ok:
			c.problem("ENI %s has no session", e)
		default:
			if drift := SessionDrift(s, target, filter, d.cfg.MirrorVNI); len(drift) > 0 {
				c.problem("session %s of %s has drifted (%s): run apply or sync-enis", aws.ToString(s.TrafficMirrorSessionId), e, strings.Join(drift, ", "))
			}
			onENI, err := d.sessions(ctx, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: []string{e}}})
			if err != nil {
				c.problem("sessions of %s: %v", e, err)
			} else if by := Shadowing(s, onENI); len(by) > 0 {
				c.problem("%s", shadowText(s, by))
			}
		}
	}
	// Packets that matched the filter but AWS did not mirror: mirror traffic
	// is the first to go when the source instance is busy.
	apps, err := d.findInstances(ctx, "appliance", "")
	if err != nil {
		c.problem("appliances: %v", err)
	}
	var ids []string
	for _, a := range apps {
		ids = append(ids, aws.ToString(a.InstanceId))
	}
	skipped, err := r.metricSums(ctx, "AWS/EC2", "InstanceId", ids, []string{"NetworkPacketsSkipMirrorIn", "NetworkPacketsSkipMirrorOut"})
	if err != nil {
		c.problem("CloudWatch: %v", err)
	}
	var total float64
	for _, v := range skipped {
		total += v
	}
	for k, v := range skipped {
		if v > 0 {
			c.problem("%s skipped %.0f mirror packets in %s", k, v, VerifyWindow)
		}
	}
	c.Detail = fmt.Sprintf("%d ENIs, %d sessions, %.0f packets not mirrored", len(enis), len(ours), total)
	return c.done()
}

func (r *run) checkProbe(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "probe"}}
	probes, err := d.findInstances(ctx, "probe", "")
	if err != nil || len(probes) == 0 {
		c.found("probe instances", "", err)
		return c.done()
	}
	c.Pages = d.probePages(probes)
	a, aerr := d.readArtifacts()
	for _, p := range probes {
		v := tagValue(p.Tags, TagProbeVersion)
		switch {
		case v == "":
			c.problem("probe %s has no dxprobe deployed (run stage 08)", aws.ToString(p.InstanceId))
		case aerr == nil && v != a.version:
			c.problem("probe %s runs dxprobe %s, not %s", aws.ToString(p.InstanceId), v, a.version)
		}
	}
	tg, err := d.findTG(d.probeTGName())(ctx)
	if c.found("target group "+d.probeTGName(), tg, err) {
		h, err := d.c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			c.problem("target health: %v", err)
		} else {
			healthy := 0
			for _, t := range h.TargetHealthDescriptions {
				if t.TargetHealth != nil && t.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
					healthy++
				} else {
					c.problem("probe target %s is not healthy", aws.ToString(t.Target.Id))
				}
			}
			c.Detail = fmt.Sprintf("%d/%d probes healthy", healthy, len(probes))
			if len(h.TargetHealthDescriptions) < len(probes) {
				c.problem("%d probes, %d registered", len(probes), len(h.TargetHealthDescriptions))
			}
		}
	}
	return c.done()
}

// checkTraffic reads the probe NLB's processed packets: VXLAN reaches the
// probes when it is not zero.
func (r *run) checkTraffic(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "traffic"}}
	lb, err := d.findLB(ctx, d.nlbName())
	if err != nil || lb == nil {
		c.found("load balancer "+d.nlbName(), "", err)
		return c.done()
	}
	dim := NLBDimension(aws.ToString(lb.LoadBalancerArn))
	sums, err := r.metricSums(ctx, "AWS/NetworkELB", "LoadBalancer", []string{dim}, []string{"ProcessedPackets"})
	if err != nil {
		c.problem("CloudWatch: %v", err)
		return c.done()
	}
	n := sums[dim+" ProcessedPackets"]
	c.Detail = fmt.Sprintf("%.0f VXLAN packets through %s in %s", n, d.nlbName(), VerifyWindow)
	if n == 0 {
		c.problem("no mirrored packets reached the probe NLB")
	}
	return c.done()
}

// NLBDimension is CloudWatch's LoadBalancer dimension of a load balancer
// ARN: the part after "loadbalancer/".
func NLBDimension(arn string) string {
	_, after, _ := strings.Cut(arn, ":loadbalancer/")
	return after
}

// metricSums returns, for each value of the dimension and each metric, the
// sum over VerifyWindow, keyed "value metric".
func (r *run) metricSums(ctx context.Context, ns, dim string, values, metrics []string) (map[string]float64, error) {
	out := map[string]float64{}
	if len(values) == 0 {
		return out, nil
	}
	var q []cwtypes.MetricDataQuery
	keys := map[string]string{}
	for i, v := range values {
		for j, m := range metrics {
			id := fmt.Sprintf("m%d_%d", i, j)
			keys[id] = v + " " + m
			q = append(q, cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(m),
					Dimensions: []cwtypes.Dimension{{Name: aws.String(dim), Value: aws.String(v)}}},
				Period: aws.Int32(60), Stat: aws.String("Sum")}})
		}
	}
	end := r.d.opt.Now()
	p := cloudwatch.NewGetMetricDataPaginator(r.d.c.CloudWatch, &cloudwatch.GetMetricDataInput{MetricDataQueries: q,
		StartTime: aws.Time(end.Add(-VerifyWindow)), EndTime: aws.Time(end)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, res := range page.MetricDataResults {
			for _, v := range res.Values {
				out[keys[aws.ToString(res.Id)]] += v
			}
		}
	}
	return out, nil
}
