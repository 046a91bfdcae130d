package fabric

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The fake's target group and listener attributes, health check settings
// and deregistration, for failover.go and rollout.go.

func (f *fakeCloud) attrsOf(arn string) map[string]string {
	if f.attrs == nil {
		f.attrs = map[string]map[string]string{}
	}
	if f.attrs[arn] == nil {
		f.attrs[arn] = map[string]string{}
	}
	return f.attrs[arn]
}

func (e fakeELB) ModifyTargetGroup(_ context.Context, in *elb.ModifyTargetGroupInput, _ ...func(*elb.Options)) (*elb.ModifyTargetGroupOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("ModifyTargetGroup"); err != nil {
		return nil, err
	}
	g := e.f.tgs[aws.ToString(in.TargetGroupArn)]
	if g == nil {
		return nil, notFound("TargetGroupNotFound")
	}
	g.HealthCheckProtocol, g.HealthCheckPort = in.HealthCheckProtocol, in.HealthCheckPort
	g.HealthCheckIntervalSeconds, g.HealthCheckTimeoutSeconds = in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds
	g.HealthyThresholdCount, g.UnhealthyThresholdCount = in.HealthyThresholdCount, in.UnhealthyThresholdCount
	return &elb.ModifyTargetGroupOutput{TargetGroups: []elbtypes.TargetGroup{*g}}, e.f.end()
}

func (e fakeELB) DescribeTargetGroupAttributes(_ context.Context, in *elb.DescribeTargetGroupAttributesInput, _ ...func(*elb.Options)) (*elb.DescribeTargetGroupAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.TargetGroupAttribute
	for k, v := range e.f.attrsOf(aws.ToString(in.TargetGroupArn)) {
		out = append(out, elbtypes.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(v)})
	}
	return &elb.DescribeTargetGroupAttributesOutput{Attributes: out}, nil
}

func (e fakeELB) ModifyTargetGroupAttributes(_ context.Context, in *elb.ModifyTargetGroupAttributesInput, _ ...func(*elb.Options)) (*elb.ModifyTargetGroupAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("ModifyTargetGroupAttributes"); err != nil {
		return nil, err
	}
	m := e.f.attrsOf(aws.ToString(in.TargetGroupArn))
	for _, a := range in.Attributes {
		m[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return &elb.ModifyTargetGroupAttributesOutput{Attributes: in.Attributes}, e.f.end()
}

func (e fakeELB) DescribeListenerAttributes(_ context.Context, in *elb.DescribeListenerAttributesInput, _ ...func(*elb.Options)) (*elb.DescribeListenerAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	out := []elbtypes.ListenerAttribute{{Key: aws.String("tcp.idle_timeout.seconds"), Value: aws.String("350")}}
	if v, ok := e.f.attrsOf(aws.ToString(in.ListenerArn))["tcp.idle_timeout.seconds"]; ok {
		out[0].Value = aws.String(v)
	}
	return &elb.DescribeListenerAttributesOutput{Attributes: out}, nil
}

func (e fakeELB) ModifyListenerAttributes(_ context.Context, in *elb.ModifyListenerAttributesInput, _ ...func(*elb.Options)) (*elb.ModifyListenerAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("ModifyListenerAttributes"); err != nil {
		return nil, err
	}
	m := e.f.attrsOf(aws.ToString(in.ListenerArn))
	for _, a := range in.Attributes {
		m[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return &elb.ModifyListenerAttributesOutput{Attributes: in.Attributes}, e.f.end()
}

func (e fakeELB) DeregisterTargets(_ context.Context, in *elb.DeregisterTargetsInput, _ ...func(*elb.Options)) (*elb.DeregisterTargetsOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("DeregisterTargets"); err != nil {
		return nil, err
	}
	arn := aws.ToString(in.TargetGroupArn)
	for _, t := range in.Targets {
		kept := e.f.members[arn][:0]
		for _, id := range e.f.members[arn] {
			if id != aws.ToString(t.Id) {
				kept = append(kept, id)
			}
		}
		e.f.members[arn] = kept
	}
	return &elb.DeregisterTargetsOutput{}, e.f.end()
}
