package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func (d *Deployer) elbTags(name, role string) []elbtypes.Tag {
	return []elbtypes.Tag{
		{Key: aws.String(TagProject), Value: aws.String(d.cfg.ProjectTag)},
		{Key: aws.String(TagName), Value: aws.String(name)},
		{Key: aws.String(TagRole), Value: aws.String(role)},
	}
}

// checkELBOwner fails when the load balancer or target group arn, found by
// its name, does not carry this project's tag: fabric never adopts another's.
func (d *Deployer) checkELBOwner(ctx context.Context, arn string) error {
	out, err := d.c.ELB.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return err
	}
	for _, td := range out.TagDescriptions {
		for _, t := range td.Tags {
			if aws.ToString(t.Key) == TagProject && aws.ToString(t.Value) == d.cfg.ProjectTag {
				return nil
			}
		}
	}
	return fmt.Errorf("%s exists without tag %s=%s: not adopting it: %w", arn, TagProject, d.cfg.ProjectTag, errNotOurs)
}

// errNotOurs marks a resource found by the name fabric would give it that
// lacks the project tag: fabric neither adopts nor deletes it.
var errNotOurs = errors.New("not this project's")

func (d *Deployer) findTG(name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		out, err := d.c.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})
		if isNotFound(err) {
			return "", nil
		}
		if err != nil || len(out.TargetGroups) == 0 {
			return "", err
		}
		arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
		return arn, d.checkELBOwner(ctx, arn)
	}
}

func (d *Deployer) findLB(ctx context.Context, name string) (*elbtypes.LoadBalancer, error) {
	out, err := d.c.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil || len(out.LoadBalancers) == 0 {
		return nil, err
	}
	lb := out.LoadBalancers[0]
	return &lb, d.checkELBOwner(ctx, aws.ToString(lb.LoadBalancerArn))
}

func (d *Deployer) findLBARN(name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		lb, err := d.findLB(ctx, name)
		if lb == nil || err != nil {
			return "", err
		}
		return aws.ToString(lb.LoadBalancerArn), nil
	}
}

// ensureTargets registers the instances missing from a target group.
func (r *run) ensureTargets(ctx context.Context, tgName, tgARN string, ids []string) error {
	registered := map[string]bool{}
	if !isPlanned(tgARN) {
		h, err := r.d.c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
		if err != nil {
			return r.fail("target-group", tgName, fmt.Errorf("describe targets: %w", err))
		}
		for _, t := range h.TargetHealthDescriptions {
			registered[aws.ToString(t.Target.Id)] = true
		}
	}
	var missing []elbtypes.TargetDescription
	var names []string
	for _, id := range ids {
		if !registered[id] {
			missing = append(missing, elbtypes.TargetDescription{Id: aws.String(id)})
			names = append(names, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return r.change(ctx, "target-group", tgName, tgARN, fmt.Sprintf("register %v", names), func(ctx context.Context) error {
		_, err := r.d.c.ELB.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: missing})
		return err
	})
}

// ensureListener creates the load balancer's listener when it has none.
func (r *run) ensureListener(ctx context.Context, lbName, lbARN, tgARN string, proto elbtypes.ProtocolEnum, port int32) error {
	d := r.d
	_, err := r.ensure(ctx, "listener", lbName, func(ctx context.Context) (string, error) {
		if isPlanned(lbARN) {
			return "", nil
		}
		out, err := d.c.ELB.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
		if err != nil || len(out.Listeners) == 0 {
			return "", err
		}
		return aws.ToString(out.Listeners[0].ListenerArn), nil
	}, func(ctx context.Context) (string, error) {
		in := &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lbARN),
			DefaultActions:  []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}},
			Tags:            d.elbTags(lbName+"-listener", "listener"),
		}
		if proto != "" {
			in.Protocol, in.Port = proto, aws.Int32(port)
		}
		out, err := d.c.ELB.CreateListener(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Listeners[0].ListenerArn), nil
	})
	return err
}

// waitLBActive waits for a load balancer with the SDK's waiter.
func (r *run) waitLBActive(ctx context.Context, name, arn string) error {
	if r.plan || isPlanned(arn) {
		return nil
	}
	min, max := r.d.waitDelays()
	tick := r.ticker("load-balancer", name, "waiting for it to become active")
	w := elb.NewLoadBalancerAvailableWaiter(r.d.c.ELB, func(o *elb.LoadBalancerAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = min, max
		o.Retryable = ticking(o.Retryable, tick)
	})
	if err := w.Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}}, r.d.opt.WaitTimeout); err != nil {
		return r.fail("load-balancer", name, fmt.Errorf("wait active: %w", err))
	}
	return nil
}

// Names of the stage 02 resources.
func (d *Deployer) applianceName(az string) string { return d.name("appliance", az) }
func (d *Deployer) gwlbName() string               { return d.name("gwlb") }
func (d *Deployer) gwlbTGName() string             { return d.name("gwlb-tg") }
func (d *Deployer) serviceName() string            { return d.name("gwlb-service") }
func (d *Deployer) endpointName(subnet string) string {
	return d.name("gwlbe", subnet)
}

func (d *Deployer) findService(ctx context.Context) (*ec2types.ServiceConfiguration, error) {
	out, err := d.c.EC2.DescribeVpcEndpointServiceConfigurations(ctx, &ec2.DescribeVpcEndpointServiceConfigurationsInput{
		Filters: d.byName(d.serviceName())})
	if err != nil {
		return nil, err
	}
	for _, s := range out.ServiceConfigurations {
		if d.owns(s.Tags, d.serviceName()) && !stateIs(string(s.ServiceState), "deleting", "deleted", "failed") {
			return &s, nil
		}
	}
	return nil, nil
}

// findEndpoint returns the live GWLB endpoint of a subnet.
func (d *Deployer) findEndpoint(ctx context.Context, subnet string) (*ec2types.VpcEndpoint, error) {
	out, err := d.c.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: d.byName(d.endpointName(subnet))})
	if err != nil {
		return nil, err
	}
	for _, e := range out.VpcEndpoints {
		if d.owns(e.Tags, d.endpointName(subnet)) && endpointLive(e) {
			return &e, nil
		}
	}
	return nil, nil
}

func endpointLive(e ec2types.VpcEndpoint) bool {
	return !stateIs(string(e.State), "deleting", "deleted", "failed", "rejected", "expired")
}

// endpoints lists every live GWLB endpoint carrying this project's tag,
// whatever subnet GWLBE_SUBNETS names today.
func (d *Deployer) endpoints(ctx context.Context) ([]ec2types.VpcEndpoint, error) {
	var out []ec2types.VpcEndpoint
	p := ec2.NewDescribeVpcEndpointsPaginator(d.c.EC2, &ec2.DescribeVpcEndpointsInput{Filters: d.byRole("gwlbe")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.VpcEndpoints {
			if d.ownsRole(e.Tags, "gwlbe") && endpointLive(e) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// stageGWLB is stage 02.
func (r *run) stageGWLB(ctx context.Context) error {
	d := r.d
	sg, err := r.need(ctx, StageSecurity, "security-group", d.name("appliance-sg"), d.findSGID(d.name("appliance-sg")))
	if err != nil {
		return err
	}
	iamApp := d.applianceIAM(r.env.account)
	if err := r.ensureIAM(ctx, iamApp); err != nil {
		return err
	}
	var ids []string
	for _, w := range r.env.workload {
		for i := 1; i <= r.perAZ("appliance"); i++ {
			id, err := r.ensureInstance(ctx, instanceSpec{role: "appliance", name: d.applianceNameN(w.az, i), subnet: w.subnet, sg: sg,
				instanceType: d.cfg.ApplianceInstanceType, profile: iamApp.profile, userData: ApplianceUserData})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
	}
	if err := r.waitRunning(ctx, "appliance-instance", ids); err != nil {
		return err
	}
	if err := r.ensureProfile(ctx, "appliance-instance", ids, iamApp.profile); err != nil {
		return err
	}

	in := elb.CreateTargetGroupInput{
		Name: aws.String(d.gwlbTGName()), Protocol: elbtypes.ProtocolEnumGeneve, Port: aws.Int32(GenevePort),
	}
	applianceHealthCheck(&in)
	tg, err := r.ensureTargetGroup(ctx, "appliance", fmt.Sprintf("GENEVE %d, health check TCP %d every %s", GenevePort, ApplianceHealthPort, HealthCheckInterval), in)
	if err != nil {
		return err
	}
	if err := r.ensureApplianceTGFailover(ctx, tg); err != nil {
		return err
	}
	if err := r.ensureTargets(ctx, d.gwlbTGName(), tg, ids); err != nil {
		return err
	}

	lb, err := r.ensureLoadBalancer(ctx, "gateway-load-balancer", "gwlb", "gateway", elb.CreateLoadBalancerInput{
		Name: aws.String(d.gwlbName()), Type: elbtypes.LoadBalancerTypeEnumGateway,
	})
	if err != nil {
		return err
	}
	if err := r.ensureListener(ctx, d.gwlbName(), lb, tg, "", 0); err != nil {
		return err
	}
	if err := r.ensureGWLBFailover(ctx, lb); err != nil {
		return err
	}
	if r.plan {
		r.failoverNotice()
	}

	var svcName string
	svcID, err := r.ensure(ctx, "endpoint-service", d.serviceName(), func(ctx context.Context) (string, error) {
		s, err := d.findService(ctx)
		if s == nil || err != nil {
			return "", err
		}
		svcName = aws.ToString(s.ServiceName)
		return aws.ToString(s.ServiceId), nil
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
			GatewayLoadBalancerArns: []string{lb}, AcceptanceRequired: aws.Bool(false),
			ClientToken:       clientToken(),
			TagSpecifications: d.tagSpec(ec2types.ResourceTypeVpcEndpointService, d.serviceName(), "gwlb"),
		})
		if err != nil {
			return "", err
		}
		svcName = aws.ToString(out.ServiceConfiguration.ServiceName)
		return aws.ToString(out.ServiceConfiguration.ServiceId), nil
	})
	if err != nil {
		return err
	}
	if isPlanned(svcID) {
		svcName = svcID
	}

	var created []string
	for _, s := range d.cfg.GWLBESubnets {
		name := d.endpointName(s)
		id, err := r.ensureWith(ctx, "gwlb-endpoint", name, "subnet "+s+" ("+r.env.subnetAZ[s]+")", func(ctx context.Context) (string, error) {
			e, err := d.findEndpoint(ctx, s)
			if e == nil || err != nil {
				return "", err
			}
			return aws.ToString(e.VpcEndpointId), nil
		}, func(ctx context.Context) (string, error) {
			out, err := d.c.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
				VpcEndpointType: ec2types.VpcEndpointTypeGatewayLoadBalancer, VpcId: aws.String(d.cfg.VPCID),
				ServiceName: aws.String(svcName), SubnetIds: []string{s},
				ClientToken:       clientToken(),
				TagSpecifications: d.tagSpec(ec2types.ResourceTypeVpcEndpoint, name, "gwlbe"),
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.VpcEndpoint.VpcEndpointId), nil
		})
		if err != nil {
			return err
		}
		if !isPlanned(id) {
			created = append(created, s)
		}
	}
	if r.plan {
		return r.deployAppliance(ctx)
	}
	for _, s := range created {
		if err := r.poll(ctx, "gwlb-endpoint", d.endpointName(s), "waiting for it to become available", func(ctx context.Context) (bool, error) {
			e, err := d.findEndpoint(ctx, s)
			if err != nil || e == nil {
				return false, err
			}
			return stateIs(string(e.State), "available"), nil
		}); err != nil {
			return r.fail("gwlb-endpoint", d.endpointName(s), err)
		}
	}
	return r.deployAppliance(ctx)
}

// stateIs compares an endpoint state case-insensitively: the SDK's enum
// says "Available", the API answers "available".
func stateIs(state string, any ...string) bool {
	for _, a := range any {
		if strings.EqualFold(state, a) {
			return true
		}
	}
	return false
}
