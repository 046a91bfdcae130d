package mototest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/dxmon/dxmon/internal/mototest"
)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestMirrorProxy(t *testing.T) {
	t.Parallel()
	s := mototest.Launch(t) // a server of its own: the proxy answers as moto's default account
	p := mototest.StartMirrorProxy(t, s)
	ctx := context.Background()
	cfg := p.Config(t)
	ec := ec2.NewFromConfig(cfg)

	// Passed to moto: VPC, subnet, ENI, NLB, filter and target creation.
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("CreateVpc through the proxy: %v", err)
	}
	sub, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eni, err := ec.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: sub.Subnet.SubnetId})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := elb.NewFromConfig(cfg).CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("n"),
		Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: []string{aws.ToString(sub.Subnet.SubnetId)}})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := ec.CreateTrafficMirrorTarget(ctx, &ec2.CreateTrafficMirrorTargetInput{NetworkLoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	flt, err := ec.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{TagSpecifications: []ec2types.TagSpecification{{
		ResourceType: ec2types.ResourceTypeTrafficMirrorFilter, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("f")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fid, tid := flt.TrafficMirrorFilter.TrafficMirrorFilterId, tgt.TrafficMirrorTarget.TrafficMirrorTargetId

	// Served: rules, with no protocol unless given.
	rule, err := ec.CreateTrafficMirrorFilterRule(ctx, &ec2.CreateTrafficMirrorFilterRuleInput{TrafficMirrorFilterId: fid,
		TrafficDirection: ec2types.TrafficDirectionIngress, RuleNumber: aws.Int32(100), RuleAction: ec2types.TrafficMirrorRuleActionAccept,
		SourceCidrBlock: aws.String("172.16.0.0/12"), DestinationCidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("CreateTrafficMirrorFilterRule: %v", err)
	}
	rules, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: fid})
	if err != nil || len(rules.TrafficMirrorFilterRules) != 1 || rules.TrafficMirrorFilterRules[0].Protocol != nil ||
		aws.ToString(rules.TrafficMirrorFilterRules[0].SourceCidrBlock) != "172.16.0.0/12" || aws.ToInt32(rules.TrafficMirrorFilterRules[0].RuleNumber) != 100 {
		t.Fatalf("DescribeTrafficMirrorFilterRules: %+v, %v", rules, err)
	}

	// Sessions: numbers unique per ENI, at most 3 per ENI, ClientToken idempotent.
	newSession := func(n int32, token string) (*ec2.CreateTrafficMirrorSessionOutput, error) {
		in := &ec2.CreateTrafficMirrorSessionInput{NetworkInterfaceId: eni.NetworkInterface.NetworkInterfaceId, TrafficMirrorTargetId: tid,
			TrafficMirrorFilterId: fid, SessionNumber: aws.Int32(n), VirtualNetworkId: aws.Int32(12345), PacketLength: aws.Int32(128),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeTrafficMirrorSession,
				Tags: []ec2types.Tag{{Key: aws.String("Project"), Value: aws.String("p")}}}}}
		if token != "" {
			in.ClientToken = aws.String(token)
		}
		return ec.CreateTrafficMirrorSession(ctx, in)
	}
	first, err := newSession(1, "tok")
	if err != nil {
		t.Fatalf("CreateTrafficMirrorSession: %v", err)
	}
	again, err := newSession(1, "tok")
	if err != nil || aws.ToString(again.TrafficMirrorSession.TrafficMirrorSessionId) != aws.ToString(first.TrafficMirrorSession.TrafficMirrorSessionId) {
		t.Fatalf("same ClientToken gave %v, %v; want the first session", again, err)
	}
	if _, err := newSession(1, ""); code(err) != "InvalidParameterValue" {
		t.Fatalf("session number 1 twice on one ENI: %v", err)
	}
	for n := int32(2); n <= 3; n++ {
		if _, err := newSession(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newSession(4, ""); code(err) != "TrafficMirrorSessionsPerInterfaceLimitExceeded" {
		t.Fatalf("fourth session on one ENI: %v", err)
	}
	got, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Project"), Values: []string{"p"}},
		{Name: aws.String("network-interface-id"), Values: []string{aws.ToString(eni.NetworkInterface.NetworkInterfaceId)}}}})
	if err != nil || len(got.TrafficMirrorSessions) != 3 || aws.ToInt32(got.TrafficMirrorSessions[0].VirtualNetworkId) != 12345 {
		t.Fatalf("DescribeTrafficMirrorSessions: %+v, %v", got, err)
	}

	// Paging: at most PageSize a page, all of them through the paginator.
	p.SetPageSize(2)
	onePage, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{})
	if err != nil || len(onePage.TrafficMirrorSessions) != 2 || onePage.NextToken == nil {
		t.Fatalf("first page of 2: %+v, %v", onePage, err)
	}
	pages, n := ec2.NewDescribeTrafficMirrorSessionsPaginator(ec, &ec2.DescribeTrafficMirrorSessionsInput{}), 0
	for pages.HasMorePages() {
		pg, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(pg.TrafficMirrorSessions)
	}
	p.SetPageSize(0)
	if n != 3 {
		t.Fatalf("paginator read %d sessions, want 3", n)
	}

	// Tag filters: honoured, or ignored as by a lenient emulator.
	other := []ec2types.Filter{{Name: aws.String("tag:Project"), Values: []string{"someone-else"}}}
	if none, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{Filters: other}); err != nil || len(none.TrafficMirrorSessions) != 0 {
		t.Fatalf("sessions of another project: %+v, %v", none, err)
	}
	p.SetIgnoreTagFilters(true)
	if all, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{Filters: other}); err != nil || len(all.TrafficMirrorSessions) != 3 {
		t.Fatalf("tag filters ignored: %+v, %v", all, err)
	}
	p.SetIgnoreTagFilters(false)

	// Modify changes a session in place; RemoveField puts packet length
	// back to its default (the whole packet).
	sid := first.TrafficMirrorSession.TrafficMirrorSessionId
	if _, err := ec.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: sid, VirtualNetworkId: aws.Int32(7),
		RemoveFields: []ec2types.TrafficMirrorSessionField{ec2types.TrafficMirrorSessionFieldPacketLength}}); err != nil {
		t.Fatalf("ModifyTrafficMirrorSession: %v", err)
	}
	mod, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{TrafficMirrorSessionIds: []string{aws.ToString(sid)}})
	if err != nil || len(mod.TrafficMirrorSessions) != 1 || aws.ToInt32(mod.TrafficMirrorSessions[0].VirtualNetworkId) != 7 || mod.TrafficMirrorSessions[0].PacketLength != nil {
		t.Fatalf("session after modify: %+v, %v", mod, err)
	}
	if _, err := ec.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: sid, SessionNumber: aws.Int32(2)}); code(err) != "InvalidParameterValue" {
		t.Fatalf("modify to a session number in use: %v", err)
	}

	// A filter or target in use cannot be deleted; once free, it is gone
	// from moto's answers too.
	if _, err := ec.DeleteTrafficMirrorFilter(ctx, &ec2.DeleteTrafficMirrorFilterInput{TrafficMirrorFilterId: fid}); code(err) != "DependencyViolation" {
		t.Fatalf("delete filter in use: %v", err)
	}
	for _, s := range got.TrafficMirrorSessions {
		if _, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: s.TrafficMirrorSessionId}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: got.TrafficMirrorSessions[0].TrafficMirrorSessionId}); code(err) != "InvalidTrafficMirrorSessionId.NotFound" {
		t.Fatalf("delete a deleted session: %v", err)
	}
	// AWS answers a token it has seen with the first call's result, even
	// once that session is deleted, and creates nothing; the same token
	// with other parameters is a mismatch.
	replay, err := newSession(1, "tok")
	if err != nil || aws.ToString(replay.TrafficMirrorSession.TrafficMirrorSessionId) != aws.ToString(first.TrafficMirrorSession.TrafficMirrorSessionId) {
		t.Fatalf("token of a deleted session: %v, %v; want the deleted session back", replay, err)
	}
	if left, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{}); err != nil || len(left.TrafficMirrorSessions) != 0 {
		t.Fatalf("a replayed token created a session: %+v, %v", left, err)
	}
	if _, err := newSession(2, "tok"); code(err) != "IdempotentParameterMismatch" {
		t.Fatalf("token reused with other parameters: %v", err)
	}
	if _, err := ec.DeleteTrafficMirrorFilter(ctx, &ec2.DeleteTrafficMirrorFilterInput{TrafficMirrorFilterId: fid}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.DeleteTrafficMirrorTarget(ctx, &ec2.DeleteTrafficMirrorTargetInput{TrafficMirrorTargetId: tid}); err != nil {
		t.Fatal(err)
	}
	fl, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{})
	if err != nil || len(fl.TrafficMirrorFilters) != 0 {
		t.Fatalf("filters after delete: %+v, %v", fl.TrafficMirrorFilters, err)
	}
	tg, err := ec.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{})
	if err != nil || len(tg.TrafficMirrorTargets) != 0 {
		t.Fatalf("targets after delete: %+v, %v", tg.TrafficMirrorTargets, err)
	}
	if r, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterRuleIds: []string{aws.ToString(rule.TrafficMirrorFilterRule.TrafficMirrorFilterRuleId)}}); err != nil || len(r.TrafficMirrorFilterRules) != 0 {
		t.Fatalf("rules of a deleted filter: %+v, %v", r, err)
	}

	// Edge associations keep their gateway.
	vgw, err := ec.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ec.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId, GatewayId: vgw.VpnGateway.VpnGatewayId}); err != nil {
		t.Fatal(err)
	}
	rts, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(rt.RouteTable.RouteTableId)}})
	if err != nil || len(rts.RouteTables[0].Associations) != 1 || aws.ToString(rts.RouteTables[0].Associations[0].GatewayId) != aws.ToString(vgw.VpnGateway.VpnGatewayId) {
		t.Fatalf("edge association: %+v, %v", rts, err)
	}

	// CloudWatch: what is put is summed back over the window.
	cw := cloudwatch.NewFromConfig(cfg)
	now := time.Now()
	dims := []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-1")}}
	for _, v := range []float64{3, 4} {
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/EC2"), MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String("NetworkPacketsSkipMirrorIn"), Dimensions: dims, Value: aws.Float64(v), Timestamp: aws.Time(now)}}}); err != nil {
			t.Fatalf("PutMetricData: %v", err)
		}
	}
	q := func(id, instance string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(60), Stat: aws.String("Sum"),
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("NetworkPacketsSkipMirrorIn"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(instance)}}}}}
	}
	md, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{q("a", "i-1"), q("b", "i-2")}})
	if err != nil || len(md.MetricDataResults) != 2 || len(md.MetricDataResults[0].Values) != 1 || md.MetricDataResults[0].Values[0] != 7 ||
		len(md.MetricDataResults[1].Values) != 0 {
		t.Fatalf("GetMetricData: %+v, %v", md, err)
	}

	hits := p.Hits()
	for _, a := range []string{"CreateTrafficMirrorSession", "DescribeTrafficMirrorFilterRules", "DeleteTrafficMirrorFilter", "CloudWatch.GetMetricData"} {
		if hits[a] == 0 {
			t.Errorf("proxy did not serve %s: %v", a, hits)
		}
	}
	if hits["CreateTrafficMirrorFilter"] != 0 {
		t.Errorf("proxy served CreateTrafficMirrorFilter, which moto serves: %v", hits)
	}
}
