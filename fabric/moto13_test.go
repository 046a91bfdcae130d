package fabric_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
)

// ourSessions returns the project's sessions by ENI, read through the
// emulator as a person would.
func ourSessions(t *testing.T, ec *ec2.Client) map[string]ec2types.TrafficMirrorSession {
	t.Helper()
	var all []ec2types.TrafficMirrorSession
	p := ec2.NewDescribeTrafficMirrorSessionsPaginator(ec, &ec2.DescribeTrafficMirrorSessionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("describe sessions: %v", err)
		}
		all = append(all, page.TrafficMirrorSessions...)
	}
	m := map[string]ec2types.TrafficMirrorSession{}
	for _, s := range all {
		for _, tag := range s.Tags {
			if aws.ToString(tag.Key) == "Project" && aws.ToString(tag.Value) == "dxtest" {
				m[aws.ToString(s.NetworkInterfaceId)] = s
			}
		}
	}
	return m
}

func eventsOf(events []fabric.Event, kind string, a fabric.Action) []fabric.Event {
	var out []fabric.Event
	for _, e := range events {
		if e.Kind == kind && e.Action == a {
			out = append(out, e)
		}
	}
	return out
}

// TestMotoSessionDriftRepaired (issue 13 item 2): a session of ours whose
// filter, VNI and packet length were changed by hand is shown by plan as
// a change, repaired in place by apply with ModifyTrafficMirrorSession
// (no delete, no create), and passes verify again. The proxy answers
// Describe one item a page, so the sessions and filter rules are read
// through the paginators.
func TestMotoSessionDriftRepaired(t *testing.T) {
	proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	var events []fabric.Event
	d := newDeployer(t, w.kv, cfg, &events)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	proxy.SetPageSize(1)
	ec := ec2.NewFromConfig(cfg)
	sessions := ourSessions(t, ec)
	if len(sessions) != 4 { // two appliances in each of two AZs
		t.Fatalf("sessions of ours: %v", sessions)
	}
	enis := make([]string, 0, 2)
	for e := range sessions {
		enis = append(enis, e)
	}
	sort.Strings(enis)
	foreignFilter, err := ec.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{Description: aws.String("someone else's")})
	if err != nil {
		t.Fatal(err)
	}
	// A second target on the same NLB, as another tool might make.
	lbARN := nlbARN(t, d, cfg)
	foreignTarget, err := ec.CreateTrafficMirrorTarget(ctx, &ec2.CreateTrafficMirrorTargetInput{NetworkLoadBalancerArn: aws.String(lbARN)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := sessions[enis[0]], sessions[enis[1]]
	if _, err := ec.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: a.TrafficMirrorSessionId,
		VirtualNetworkId: aws.Int32(999), PacketLength: aws.Int32(8500)}); err != nil {
		t.Fatalf("drift VNI: %v", err)
	}
	if _, err := ec.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: b.TrafficMirrorSessionId,
		TrafficMirrorFilterId: foreignFilter.TrafficMirrorFilter.TrafficMirrorFilterId,
		TrafficMirrorTargetId: foreignTarget.TrafficMirrorTarget.TrafficMirrorTargetId}); err != nil {
		t.Fatalf("drift filter and target: %v", err)
	}

	calls.reset(0, false)
	events = nil
	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	changes := eventsOf(plan, "mirror-session", fabric.Change)
	if len(changes) != 2 || !strings.Contains(changes[0].Detail+changes[1].Detail, "VNI 999 → 12345") ||
		!strings.Contains(changes[0].Detail+changes[1].Detail, "packet length 8500 → 128") ||
		!strings.Contains(changes[0].Detail+changes[1].Detail, "filter "+aws.ToString(foreignFilter.TrafficMirrorFilter.TrafficMirrorFilterId)+" → ") ||
		!strings.Contains(changes[0].Detail+changes[1].Detail, "target "+aws.ToString(foreignTarget.TrafficMirrorTarget.TrafficMirrorTargetId)+" → "+aws.ToString(a.TrafficMirrorTargetId)) {
		t.Fatalf("plan shows the drift as %v, want two session changes naming VNI, packet length, filter and target", changes)
	}
	if s := fabric.Summarize(plan); s.Change != 2 || s.Create != 0 || !strings.HasPrefix(s.PlanLine(), "Plan: 0 to create, 2 to change, ") {
		t.Fatalf("plan summary %+v: %s", s, s.PlanLine())
	}

	calls.reset(0, false)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply repairing drift: %v", err)
	}
	if diff := cmp.Diff([]string{"ModifyTrafficMirrorSession", "ModifyTrafficMirrorSession"}, calls.list()); diff != "" {
		t.Fatalf("repair's mutating calls (-want +got):\n%s", diff)
	}
	after := ourSessions(t, ec)
	for _, e := range enis {
		s := after[e]
		if aws.ToString(s.TrafficMirrorSessionId) != aws.ToString(sessions[e].TrafficMirrorSessionId) {
			t.Fatalf("session of %s replaced (%s → %s), want modified in place", e, aws.ToString(sessions[e].TrafficMirrorSessionId), aws.ToString(s.TrafficMirrorSessionId))
		}
		if aws.ToInt32(s.VirtualNetworkId) != 12345 || aws.ToInt32(s.PacketLength) != fabric.MirrorPacketLength ||
			aws.ToString(s.TrafficMirrorFilterId) != aws.ToString(a.TrafficMirrorFilterId) || aws.ToString(s.TrafficMirrorTargetId) != aws.ToString(a.TrafficMirrorTargetId) {
			t.Fatalf("session of %s after apply: VNI %d, packet length %d, filter %s", e, aws.ToInt32(s.VirtualNetworkId),
				aws.ToInt32(s.PacketLength), aws.ToString(s.TrafficMirrorFilterId))
		}
	}
	checks, err := d.Verify(ctx)
	if err != nil || !checks[2].OK {
		t.Fatalf("verify mirror after repair: %v %v", err, checks)
	}
	calls.reset(0, false)
	if plan, err = d.Plan(ctx); err != nil || fabric.Summarize(plan).Change != 0 || !strings.HasPrefix(fabric.Summarize(plan).PlanLine(), "No changes.") {
		t.Fatalf("plan after repair: %v, %s", err, fabric.Summarize(plan).PlanLine())
	}
}

// TestMotoForeignSessionFirst (issue 13 item 2): another tool's session on
// an appliance ENI with a lower session number is evaluated first by AWS;
// plan warns, verify fails the mirror check naming it, sync fails with
// ErrSessionShadowed and takes nothing from it; once it is gone, sync
// succeeds.
func TestMotoForeignSessionFirst(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := newDeployer(t, w.kv, cfg, nil)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ec := ec2.NewFromConfig(cfg)
	sessions := ourSessions(t, ec)
	var eni string
	for e := range sessions {
		eni = e
	}
	ours := sessions[eni]
	// Ours moves to number 5 (as if it had been made after others), and a
	// foreign session takes number 2 on the same ENI.
	if _, err := ec.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: ours.TrafficMirrorSessionId,
		SessionNumber: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	foreign, err := ec.CreateTrafficMirrorSession(ctx, &ec2.CreateTrafficMirrorSessionInput{NetworkInterfaceId: aws.String(eni),
		TrafficMirrorTargetId: ours.TrafficMirrorTargetId, TrafficMirrorFilterId: ours.TrafficMirrorFilterId, SessionNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	fid := aws.ToString(foreign.TrafficMirrorSession.TrafficMirrorSessionId)

	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	warn := eventsOf(plan, "mirror-session", fabric.Warning)
	if len(warn) != 1 || !strings.Contains(warn[0].Detail, fid+" (session number 2)") || !strings.Contains(warn[0].Detail, "ENI "+eni) {
		t.Fatalf("plan warnings %v, want one naming %s on %s", warn, fid, eni)
	}
	if line := fabric.Summarize(plan).PlanLine(); !strings.Contains(line, "1 warning.") {
		t.Fatalf("plan summary %q does not count the warning", line)
	}
	checks, err := d.Verify(ctx)
	if err != nil || checks[2].OK || !strings.Contains(checks[2].String(), fid) {
		t.Fatalf("verify with a foreign session first: %v\n%v", err, checks)
	}
	calls.reset(0, false)
	_, err = d.SyncENIs(ctx)
	if !errors.Is(err, fabric.ErrSessionShadowed) || !strings.Contains(err.Error(), fid) {
		t.Fatalf("sync with a foreign session first: err = %v, want ErrSessionShadowed naming %s", err, fid)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("sync touched sessions: %v", m)
	}
	if _, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(fid)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SyncENIs(ctx); err != nil {
		t.Fatalf("sync once the foreign session is gone: %v", err)
	}
}

// TestMotoOwnershipByTags (issue 13 item 3): with an emulator that ignores
// tag filters, a filter, a security group and a route table that carry
// fabric's names but not its project tag (or no tags) are never adopted,
// changed or deleted; and destroy, given a configuration that no longer
// lists one GWLBE subnet, still deletes that subnet's endpoint, found by
// its tags.
func TestMotoOwnershipByTags(t *testing.T) {
	proxy, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	ec := ec2.NewFromConfig(cfg)
	vpc := w.kv["VPC_ID"]
	extra, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.13.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatal(err)
	}
	extraID := aws.ToString(extra.Subnet.SubnetId)
	other := func(rt ec2types.ResourceType, name string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: []ec2types.Tag{{Key: aws.String("Project"), Value: aws.String("someone-else")},
			{Key: aws.String("Name"), Value: aws.String(name)}, {Key: aws.String("dxmon:role"), Value: aws.String("mirror")}}}}
	}
	ff, err := ec.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{TagSpecifications: other(ec2types.ResourceTypeTrafficMirrorFilter, "dxtest-mirror-filter")})
	if err != nil {
		t.Fatal(err)
	}
	untagged, err := ec.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{})
	if err != nil {
		t.Fatal(err)
	}
	fsg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("not-ours"), Description: aws.String("x"),
		VpcId: aws.String(vpc), TagSpecifications: other(ec2types.ResourceTypeSecurityGroup, "dxtest-appliance-sg")})
	if err != nil {
		t.Fatal(err)
	}
	frt, err := ec.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpc), TagSpecifications: other(ec2types.ResourceTypeRouteTable, "dxtest-vgw-ingress")})
	if err != nil {
		t.Fatal(err)
	}
	foreignIDs := []string{aws.ToString(ff.TrafficMirrorFilter.TrafficMirrorFilterId), aws.ToString(untagged.TrafficMirrorFilter.TrafficMirrorFilterId),
		aws.ToString(fsg.GroupId), aws.ToString(frt.RouteTable.RouteTableId)}

	proxy.SetIgnoreTagFilters(true)
	kv := map[string]string{}
	for k, v := range w.kv {
		kv[k] = v
	}
	var events []fabric.Event
	if err := newDeployer(t, kv, cfg, &events).Apply(ctx); err != nil {
		t.Fatalf("apply beside foreign look-alikes: %v", err)
	}
	// A later configuration moved us-east-1a's endpoint to extra (one
	// endpoint per AZ each time, as stage 00 requires): the first stays.
	kv["GWLBE_SUBNETS"] = extraID + " " + fabric.SplitList(w.kv["GWLBE_SUBNETS"])[1]
	d := newDeployer(t, kv, cfg, &events)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply with the endpoint moved: %v", err)
	}
	for _, e := range events {
		for _, id := range foreignIDs {
			if e.ID == id {
				t.Fatalf("apply used a resource without the project tag: %v", e)
			}
		}
	}
	for _, id := range foreignIDs[:2] {
		rules, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: aws.String(id)})
		if err != nil || len(rules.TrafficMirrorFilterRules) != 0 {
			t.Fatalf("foreign filter %s got rules: %v %v", id, rules, err)
		}
	}
	g, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(fsg.GroupId)}})
	if err != nil || len(g.SecurityGroups[0].IpPermissions) != 0 {
		t.Fatalf("foreign security group got rules: %v %v", g, err)
	}

	// Destroy with today's configuration, which no longer lists extra.
	kv["GWLBE_SUBNETS"] = w.kv["GWLBE_SUBNETS"]
	events = nil
	if err := newDeployer(t, kv, cfg, &events).Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	deleted := map[string]bool{}
	for _, e := range eventsOf(events, "gwlb-endpoint", fabric.Deleted) {
		deleted[e.Name] = true
	}
	if !deleted["dxtest-gwlbe-"+extraID] || len(deleted) != 3 {
		t.Fatalf("destroy deleted endpoints %v, want the three made, including dxtest-gwlbe-%s", deleted, extraID)
	}
	for _, e := range events {
		for _, id := range foreignIDs {
			if e.ID == id {
				t.Fatalf("destroy touched a resource without the project tag: %v", e)
			}
		}
	}
	fl, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{TrafficMirrorFilterIds: foreignIDs[:2]})
	if err != nil || len(fl.TrafficMirrorFilters) != 2 {
		t.Fatalf("foreign filters after destroy: %v %v", fl, err)
	}
	if _, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(fsg.GroupId)}}); err != nil {
		t.Fatalf("foreign security group after destroy: %v", err)
	}
	if _, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(frt.RouteTable.RouteTableId)}}); err != nil {
		t.Fatalf("foreign route table after destroy: %v", err)
	}
	proxy.SetIgnoreTagFilters(false)
	if left := inventory(t, cfg, "dxtest"); len(left) != 0 {
		t.Fatalf("tagged resources left after destroy: %v", left)
	}
}

// TestMotoClientTokenNoReplay (issue 13 item 3): after a person deletes a
// session of ours by hand, sync creates a new one. With a ClientToken
// derived from the session's specification, AWS (and the proxy, which
// models its idempotency) would answer the repeated token with the deleted
// session and create nothing.
func TestMotoClientTokenNoReplay(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	d := newDeployer(t, makeWorld(t, cfg).kv, cfg, nil)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ec := ec2.NewFromConfig(cfg)
	before := ourSessions(t, ec)
	for eni, s := range before {
		if _, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: s.TrafficMirrorSessionId}); err != nil {
			t.Fatal(err)
		}
		res, err := d.SyncENIs(ctx)
		if err != nil || len(res.Created) != 1 || res.Created[0] != eni {
			t.Fatalf("sync after deleting the session of %s by hand: %+v, %v", eni, res, err)
		}
		now, ok := ourSessions(t, ec)[eni]
		if !ok || aws.ToString(now.TrafficMirrorSessionId) == aws.ToString(s.TrafficMirrorSessionId) {
			t.Fatalf("ENI %s after sync: session %v (deleted one was %s)", eni, now.TrafficMirrorSessionId, aws.ToString(s.TrafficMirrorSessionId))
		}
		break
	}
}

// TestMotoInvalidParameterValueNotRetried (issue 13 item 5): destroy meets
// InvalidParameterValue deleting a security group; it fails at once with
// that error instead of retrying it as "still in use" until WaitTimeout.
func TestMotoInvalidParameterValueNotRetried(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	kv := makeWorld(t, cfg).kv
	if err := newDeployer(t, kv, cfg, nil).Apply(ctx, fabric.StageInit, fabric.StageSecurity); err != nil {
		t.Fatalf("apply 00-01: %v", err)
	}
	attempts := 0
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("invalid-parameter",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if middleware.GetOperationName(ctx) == "DeleteSecurityGroup" {
					attempts++
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "test: bad group"}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	err := newDeployer(t, kv, cfg, nil).Destroy(ctx)
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") || attempts != 1 {
		t.Fatalf("destroy: err = %v after %d DeleteSecurityGroup attempts, want InvalidParameterValue after 1", err, attempts)
	}
}

// TestMotoStageZeroChecks (issue 13 item 5): a business CIDR that is the
// CIDR of no subnet fails stage 00, before any stage plans anything; a VGW
// or VPC that does not exist is named with its key and region, never
// "%!w(<nil>)".
func TestMotoStageZeroChecks(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	base := makeWorld(t, cfg).kv
	with := func(k, v string) map[string]string {
		kv := map[string]string{}
		for k2, v2 := range base {
			kv[k2] = v2
		}
		kv[k] = v
		return kv
	}
	for name, c := range map[string]struct {
		kv   map[string]string
		want string
	}{
		"business CIDR of no subnet": {with("BUSINESS_SUBNET_CIDRS", "10.0.21.0/24,10.0.99.0/24"),
			"stage 00: business-subnet 10.0.99.0/24: BUSINESS_SUBNET_CIDRS: 10.0.99.0/24 is the CIDR of no subnet of VPC_ID " + base["VPC_ID"]},
		"unknown VGW": {with("VGW_ID", "vgw-0123456789abcdef0"), "VGW_ID: vgw-0123456789abcdef0 does not exist in us-east-1"},
		"unknown VPC": {with("VPC_ID", "vpc-0123456789abcdef0"), "VPC_ID: vpc-0123456789abcdef0 does not exist in us-east-1"},
	} {
		t.Run(name, func(t *testing.T) {
			var events []fabric.Event
			_, err := newDeployer(t, c.kv, cfg, &events).Plan(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "%!") {
				t.Fatalf("plan: err = %v, want %q", err, c.want)
			}
			for _, e := range events {
				if e.Stage != fabric.StageInit {
					t.Fatalf("stage %s planned after stage 00 failed: %v", e.Stage, e)
				}
			}
		})
	}
}

// TestMotoPlanReadable (issue 13 item 4): a plan's events come grouped by
// stage in order although stages run in parallel, every resource to
// create says what it will be, the summary counts them, and an apply
// followed by a plan says "No changes.".
func TestMotoPlanReadable(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	d := newDeployer(t, makeWorld(t, cfg).kv, cfg, nil)
	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	rank := map[fabric.Stage]int{}
	for i, s := range fabric.ApplyStages {
		rank[s] = i
	}
	for i := 1; i < len(plan); i++ {
		if rank[plan[i].Stage] < rank[plan[i-1].Stage] {
			t.Fatalf("event %d of stage %s after one of stage %s:\n%v\n%v", i, plan[i].Stage, plan[i-1].Stage, plan[i-1], plan[i])
		}
	}
	want := map[string][]string{
		"appliance-instance":    {"c6g.8xlarge in subnet-", "(us-east-1", "AMI ami-"},
		"probe-instance":        {"c6gn.2xlarge in subnet-"},
		"gwlb-endpoint":         {"subnet subnet-"},
		"mirror-session":        {"VNI 12345", "packet length 128"},
		"target-group":          {"health check"},
		"network-load-balancer": {"internal, subnets subnet-"},
		"mirror-filter-rule":    {"/", "→"},
	}
	for kind, parts := range want {
		creates := eventsOf(plan, kind, fabric.Create)
		if len(creates) == 0 {
			t.Fatalf("plan creates no %s", kind)
		}
		for _, e := range creates {
			for _, p := range parts {
				if !strings.Contains(e.String(), p) {
					t.Errorf("plan line %q does not say %q", e, p)
				}
			}
		}
	}
	s := fabric.Summarize(plan)
	if s.Create < 30 || !strings.HasPrefix(s.PlanLine(), "Plan: ") {
		t.Fatalf("summary %+v: %s", s, s.PlanLine())
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	plan, err = d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan after apply: %v", err)
	}
	if line := fabric.Summarize(plan).PlanLine(); !strings.HasPrefix(line, "No changes. ") {
		t.Fatalf("plan after apply: %q\n%v", line, plan)
	}
}
