package mototest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestProxyHealthAndSSM: a registered target is unhealthy
// (Target.FailedHealthChecks) until a Run Command restarted a service on it,
// then healthy; SetTargetHealth overrides with AWS's states and reasons;
// SendCommand answers InvalidInstanceId while the instance is unregistered;
// a failing command reports Failed with its stderr; ReplaceRoute to a VPC
// endpoint changes the route's target; mirror rules keep their ports.
func TestProxyHealthAndSSM(t *testing.T) {
	t.Parallel()
	s := mototest.Launch(t) // a server of its own: the proxy answers as moto's default account
	p := mototest.StartMirrorProxy(t, s)
	ctx := context.Background()
	cfg := p.Config(t)
	ec, lb, sm := ec2.NewFromConfig(cfg), elb.NewFromConfig(cfg), ssm.NewFromConfig(cfg)

	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	run, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2), SubnetId: sub.Subnet.SubnetId})
	if err != nil {
		t.Fatal(err)
	}
	i0, i1 := aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)
	tg, err := lb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("g"), Protocol: elbtypes.ProtocolEnumGeneve, Port: aws.Int32(6081),
		VpcId: vpc.Vpc.VpcId, HealthCheckProtocol: elbtypes.ProtocolEnumTcp, HealthCheckPort: aws.String("80")})
	if err != nil {
		t.Fatal(err)
	}
	arn := tg.TargetGroups[0].TargetGroupArn
	if _, err := lb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: []elbtypes.TargetDescription{{Id: aws.String(i0)}, {Id: aws.String(i1)}}}); err != nil {
		t.Fatal(err)
	}
	health := func() map[string]string {
		t.Helper()
		out, err := lb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, h := range out.TargetHealthDescriptions {
			m[aws.ToString(h.Target.Id)] = string(h.TargetHealth.State) + " " + string(h.TargetHealth.Reason)
		}
		return m
	}
	if diff := cmp.Diff(map[string]string{i0: "unhealthy Target.FailedHealthChecks", i1: "unhealthy Target.FailedHealthChecks"}, health()); diff != "" {
		t.Errorf("nothing running (-want +got):\n%s", diff)
	}

	send := func(ids ...string) (string, error) {
		out, err := sm.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
			Parameters: map[string][]string{"commands": {"systemctl restart dxappliance"}}})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Command.CommandId), nil
	}
	p.SSMUnregistered(i0, 1)
	if _, err := send(i0); code(err) != "InvalidInstanceId" {
		t.Fatalf("unregistered: err = %v, want InvalidInstanceId", err)
	}
	p.FailCommands(i1, "dxappliance: exec format error")
	cmd, err := send(i0, i1)
	if err != nil {
		t.Fatalf("registered: %v", err)
	}
	inv, err := sm.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmd), InstanceId: aws.String(i1)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 1 || aws.ToString(inv.StandardErrorContent) != "dxappliance: exec format error" {
		t.Errorf("failed invocation: %+v, %v", inv, err)
	}
	w := ssm.NewCommandExecutedWaiter(sm, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	})
	if err := w.Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmd), InstanceId: aws.String(i1)}, 5*time.Second); err == nil {
		t.Errorf("the SDK's waiter accepted a failed command")
	}
	if diff := cmp.Diff(map[string]string{i0: "healthy ", i1: "unhealthy Target.FailedHealthChecks"}, health()); diff != "" {
		t.Errorf("after the service started on %s only (-want +got):\n%s", i0, diff)
	}
	p.SetTargetHealth(i0, "initial", "Elb.InitialHealthChecking", "")
	p.SetTargetHealth(i1, "draining", "Target.DeregistrationInProgress", "")
	if diff := cmp.Diff(map[string]string{i0: "initial Elb.InitialHealthChecking", i1: "draining Target.DeregistrationInProgress"}, health()); diff != "" {
		t.Errorf("overrides (-want +got):\n%s", diff)
	}
	p.SetTargetHealth(i0, "", "", "")
	if got := health()[i0]; got != "healthy " {
		t.Errorf("override cleared: %q", got)
	}

	// ReplaceRoute to a VPC endpoint.
	rt, err := ec.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	igw, err := ec.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: vpc.Vpc.VpcId}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTable.RouteTableId, DestinationCidrBlock: aws.String("192.0.2.0/24"),
		GatewayId: igw.InternetGateway.InternetGatewayId}); err != nil {
		t.Fatal(err)
	}
	gwlb, err := lb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("gw"), Type: elbtypes.LoadBalancerTypeEnumGateway,
		Subnets: []string{aws.ToString(sub.Subnet.SubnetId)}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ec.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		GatewayLoadBalancerArns: []string{aws.ToString(gwlb.LoadBalancers[0].LoadBalancerArn)}})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ec.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: vpc.Vpc.VpcId, ServiceName: svc.ServiceConfiguration.ServiceName,
		VpcEndpointType: ec2types.VpcEndpointTypeGatewayLoadBalancer, SubnetIds: []string{aws.ToString(sub.Subnet.SubnetId)}})
	if err != nil {
		t.Fatal(err)
	}
	vpce := aws.ToString(ep.VpcEndpoint.VpcEndpointId)
	if _, err := ec.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: rt.RouteTable.RouteTableId, DestinationCidrBlock: aws.String("192.0.2.0/24"),
		VpcEndpointId: aws.String(vpce)}); err != nil {
		t.Fatalf("ReplaceRoute to %s: %v", vpce, err)
	}
	rts, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(rt.RouteTable.RouteTableId)}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rts.RouteTables[0].Routes {
		if aws.ToString(r.DestinationCidrBlock) == "192.0.2.0/24" {
			found = aws.ToString(r.GatewayId) == vpce
		}
	}
	if !found {
		t.Errorf("route after ReplaceRoute: %+v", rts.RouteTables[0].Routes)
	}

	// Mirror rule ports round-trip.
	flt, err := ec.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.CreateTrafficMirrorFilterRule(ctx, &ec2.CreateTrafficMirrorFilterRuleInput{TrafficMirrorFilterId: flt.TrafficMirrorFilter.TrafficMirrorFilterId,
		TrafficDirection: ec2types.TrafficDirectionIngress, RuleNumber: aws.Int32(100), RuleAction: ec2types.TrafficMirrorRuleActionAccept,
		SourceCidrBlock: aws.String("10.0.0.0/16"), DestinationCidrBlock: aws.String("10.0.0.0/16"), Protocol: aws.Int32(17),
		DestinationPortRange: &ec2types.TrafficMirrorPortRangeRequest{FromPort: aws.Int32(6081), ToPort: aws.Int32(6081)}}); err != nil {
		t.Fatal(err)
	}
	rules, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: flt.TrafficMirrorFilter.TrafficMirrorFilterId})
	if err != nil || len(rules.TrafficMirrorFilterRules) != 1 {
		t.Fatalf("rules: %v %v", rules, err)
	}
	r := rules.TrafficMirrorFilterRules[0]
	if aws.ToInt32(r.Protocol) != 17 || r.DestinationPortRange == nil || aws.ToInt32(r.DestinationPortRange.FromPort) != 6081 ||
		aws.ToInt32(r.DestinationPortRange.ToPort) != 6081 || r.SourcePortRange != nil {
		t.Errorf("rule: protocol %v, ports %+v %+v", r.Protocol, r.DestinationPortRange, r.SourcePortRange)
	}
	if h := p.Hits(); h["SSM.SendCommand.InvalidInstanceId"] != 1 || h["ReplaceRoute.VpcEndpointId"] != 1 || !strings.Contains(strings.Join(mototest.MirrorActions, ","), "FilterRule") {
		t.Errorf("hits: %v", h)
	}
}
