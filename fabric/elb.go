package fabric

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The load balancers fabric creates, the GWLB of stage 02 and the NLB of
// stage 05, are made the same way: an instance target group in the VPC,
// then the load balancer in the workload subnets, both found by name and
// tagged with the project, the name and a role.

// ensureTargetGroup finds the target group named by in.Name, or creates
// it from in as an instance target group in the VPC, tagged with role;
// detail says what it is in events.
func (r *run) ensureTargetGroup(ctx context.Context, role, detail string, in elb.CreateTargetGroupInput) (string, error) {
	d := r.d
	name := aws.ToString(in.Name)
	in.VpcId, in.TargetType, in.Tags = aws.String(d.cfg.VPCID), elbtypes.TargetTypeEnumInstance, d.elbTags(name, role)
	return r.ensureWith(ctx, "target-group", name, detail, d.findTG(name), func(ctx context.Context) (string, error) {
		out, err := d.c.ELB.CreateTargetGroup(ctx, &in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
	})
}

// ensureLoadBalancer finds the load balancer named by in.Name, or creates
// it from in in the workload subnets, tagged with role, and waits until it
// is active; kind names it in events, and detail, followed by the subnets,
// says what it is.
func (r *run) ensureLoadBalancer(ctx context.Context, kind, role, detail string, in elb.CreateLoadBalancerInput) (string, error) {
	d := r.d
	name := aws.ToString(in.Name)
	in.Subnets, in.Tags = r.env.workloadSubnets(), d.elbTags(name, role)
	arn, err := r.ensureWith(ctx, kind, name, detail+", subnets "+strings.Join(in.Subnets, ","), d.findLBARN(name), func(ctx context.Context) (string, error) {
		out, err := d.c.ELB.CreateLoadBalancer(ctx, &in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.LoadBalancers[0].LoadBalancerArn), nil
	})
	if err != nil {
		return "", err
	}
	return arn, r.waitLBActive(ctx, name, arn)
}
