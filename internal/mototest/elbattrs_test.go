package mototest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestProxyRefusesWhatAWSRefuses: moto alone takes a lone
// target_failover attribute and a 10-second TCP idle timeout; through the
// proxy both fail with ValidationError, as on AWS, while valid settings
// still reach moto.
func TestProxyRefusesWhatAWSRefuses(t *testing.T) {
	t.Parallel()
	s := mototest.Launch(t)
	p := mototest.StartMirrorProxy(t, s)
	ctx := context.Background()
	setup := func(c *elb.Client, ec *ec2.Client, name string) (tg, listener string) {
		vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.9.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: elbtypes.ProtocolEnumGeneve,
			Port: aws.Int32(6081), VpcId: vpc.Vpc.VpcId, TargetType: elbtypes.TargetTypeEnumInstance})
		if err != nil {
			t.Fatal(err)
		}
		lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(name), Type: elbtypes.LoadBalancerTypeEnumGateway,
			Subnets: []string{aws.ToString(sub.Subnet.SubnetId)}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: g.TargetGroups[0].TargetGroupArn}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(g.TargetGroups[0].TargetGroupArn), aws.ToString(l.Listeners[0].ListenerArn)
	}
	attr := func(kv ...string) []elbtypes.TargetGroupAttribute {
		var out []elbtypes.TargetGroupAttribute
		for i := 0; i < len(kv); i += 2 {
			out = append(out, elbtypes.TargetGroupAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return out
	}
	bad := [][]elbtypes.TargetGroupAttribute{
		attr("target_failover.on_deregistration", "rebalance"),
		attr("target_failover.on_deregistration", "rebalance", "target_failover.on_unhealthy", "no_rebalance"),
		attr("target_failover.on_deregistration", "sometimes", "target_failover.on_unhealthy", "sometimes"),
	}
	idle := func(v string) []elbtypes.ListenerAttribute {
		return []elbtypes.ListenerAttribute{{Key: aws.String("tcp.idle_timeout.seconds"), Value: aws.String(v)}}
	}

	// moto alone: lenient, which is why the proxy exists.
	direct := s.Config(t)
	mc := elb.NewFromConfig(direct)
	tg, l := setup(mc, ec2.NewFromConfig(direct), "direct")
	if _, err := mc.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tg), Attributes: bad[0]}); err != nil {
		t.Logf("moto now refuses a lone target_failover attribute (%v): the proxy's rule is a spare", err)
	}
	if _, err := mc.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: aws.String(l), Attributes: idle("10")}); err != nil {
		t.Logf("moto now refuses tcp.idle_timeout.seconds 10 (%v)", err)
	}

	cfg := p.Config(t)
	c := elb.NewFromConfig(cfg)
	tg, l = setup(c, ec2.NewFromConfig(cfg), "proxied")
	for _, a := range bad {
		_, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tg), Attributes: a})
		if err == nil || !strings.Contains(err.Error(), "ValidationError") || !strings.Contains(err.Error(), "target_failover") {
			t.Errorf("%v: err = %v, want a ValidationError naming target_failover", a, err)
		}
	}
	for _, v := range []string{"59", "6001", "x"} {
		if _, err := c.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: aws.String(l), Attributes: idle(v)}); err == nil || !strings.Contains(err.Error(), "ValidationError") {
			t.Errorf("tcp.idle_timeout.seconds %s: err = %v, want ValidationError", v, err)
		}
	}
	if _, err := c.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: aws.String(tg), HealthCheckIntervalSeconds: aws.Int32(5),
		HealthCheckTimeoutSeconds: aws.Int32(6)}); err == nil || !strings.Contains(err.Error(), "ValidationError") {
		t.Errorf("interval below timeout: err = %v, want ValidationError", err)
	}
	// What fabric sends passes and is stored by moto.
	if _, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tg),
		Attributes: attr("target_failover.on_deregistration", "rebalance", "target_failover.on_unhealthy", "rebalance", "deregistration_delay.timeout_seconds", "30")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyListenerAttributes(ctx, &elb.ModifyListenerAttributesInput{ListenerArn: aws.String(l), Attributes: idle("350")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range got.Attributes {
		if strings.HasPrefix(aws.ToString(a.Key), "target_failover.") && aws.ToString(a.Value) == "rebalance" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("target_failover attributes after a valid change: %v", got.Attributes)
	}
}
