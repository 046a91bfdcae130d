package fabric

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func (d *Deployer) nlbName() string          { return d.name("nlb") }
func (d *Deployer) probeTGName() string      { return d.name("probe-tg") }
func (d *Deployer) mirrorTargetName() string { return d.name("mirror-target") }

func (d *Deployer) findMirrorTarget(ctx context.Context) (string, error) {
	out, err := d.c.EC2.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{Filters: d.byName(d.mirrorTargetName())})
	if err != nil {
		return "", err
	}
	for _, t := range out.TrafficMirrorTargets {
		if d.owns(t.Tags, d.mirrorTargetName()) {
			return aws.ToString(t.TrafficMirrorTargetId), nil
		}
	}
	return "", nil
}

// stageNLB is stage 05: the probes' UDP/4789 target group, the internal
// cross-zone NLB in front of them, and the mirror target naming it.
func (r *run) stageNLB(ctx context.Context) error {
	d := r.d
	var probes []string
	for _, w := range r.env.workload {
		for i := 1; i <= r.perAZ("probe"); i++ {
			name := d.probeNameN(w.az, i)
			id, err := r.need(ctx, StageProbes, "probe-instance", name, d.findInstanceID("probe", name))
			if err != nil {
				return err
			}
			probes = append(probes, id)
		}
	}
	tg, err := r.ensureTargetGroup(ctx, "probe", fmt.Sprintf("UDP %d, health check HTTP :%d/healthz", VXLANPort, d.cfg.ProbeHealthPort), elb.CreateTargetGroupInput{
		Name: aws.String(d.probeTGName()), Protocol: elbtypes.ProtocolEnumUdp, Port: aws.Int32(VXLANPort),
		HealthCheckProtocol: elbtypes.ProtocolEnumHttp, HealthCheckPort: aws.String(fmt.Sprint(d.cfg.ProbeHealthPort)),
		HealthCheckPath: aws.String("/healthz"),
	})
	if err != nil {
		return err
	}
	var real []string
	for _, p := range probes {
		if !isPlanned(p) {
			real = append(real, p)
		}
	}
	if err := r.ensureTargets(ctx, d.probeTGName(), tg, real); err != nil {
		return err
	}

	lb, err := r.ensureLoadBalancer(ctx, "network-load-balancer", "nlb", "internal", elb.CreateLoadBalancerInput{
		Name: aws.String(d.nlbName()), Type: elbtypes.LoadBalancerTypeEnumNetwork, Scheme: elbtypes.LoadBalancerSchemeEnumInternal,
	})
	if err != nil {
		return err
	}
	crossZone := false
	if !isPlanned(lb) {
		attrs, err := d.c.ELB.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb)})
		if err != nil {
			return r.fail("network-load-balancer", d.nlbName(), err)
		}
		for _, a := range attrs.Attributes {
			crossZone = crossZone || (aws.ToString(a.Key) == "load_balancing.cross_zone.enabled" && aws.ToString(a.Value) == "true")
		}
	}
	if !crossZone {
		if err := r.change(ctx, "network-load-balancer", d.nlbName(), lb, "enable cross-zone", func(ctx context.Context) error {
			_, err := d.c.ELB.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb),
				Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String("true")}}})
			return err
		}); err != nil {
			return err
		}
	}
	if err := r.ensureListener(ctx, d.nlbName(), lb, tg, elbtypes.ProtocolEnumUdp, VXLANPort); err != nil {
		return err
	}
	_, err = r.ensureWith(ctx, "mirror-target", d.mirrorTargetName(), "NLB "+d.nlbName(), d.findMirrorTarget, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateTrafficMirrorTarget(ctx, &ec2.CreateTrafficMirrorTargetInput{
			NetworkLoadBalancerArn: aws.String(lb), Description: aws.String("dxmon probes' NLB"),
			TagSpecifications: d.tagSpec(ec2types.ResourceTypeTrafficMirrorTarget, d.mirrorTargetName(), "mirror"),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TrafficMirrorTarget.TrafficMirrorTargetId), nil
	})
	return err
}
