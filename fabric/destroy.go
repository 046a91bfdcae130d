package fabric

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// remove runs one deletion: NotFound counts as done, anything else fails
// with the resource named.
func (r *run) remove(ctx context.Context, kind, name, id string, del func(context.Context) error) error {
	if id == "" {
		return nil
	}
	if err := del(ctx); err != nil && !isNotFound(err) {
		return r.fail(kind, name, fmt.Errorf("delete %s: %w", id, err))
	}
	r.event(kind, name, id, Deleted, "")
	return nil
}

// retryInUse repeats del while AWS says the resource is still in use (a
// load balancer or instance releasing it), up to WaitTimeout.
func (d *Deployer) retryInUse(what string, del func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		return d.poll(ctx, what+" to be released", func(ctx context.Context) (bool, error) {
			err := del(ctx)
			// Only the codes that mean "in use": InvalidParameterValue is a
			// bad request and waiting would not change it.
			switch errorCode(err) {
			case "ResourceInUse", "DependencyViolation":
				return false, nil
			}
			return err == nil || isNotFound(err), err
		})
	}
}

// byProject filters on the project tag alone.
func (d *Deployer) byProject() []ec2types.Filter {
	return []ec2types.Filter{{Name: aws.String("tag:" + TagProject), Values: []string{d.cfg.ProjectTag}}}
}

// destroy is stage 99: every resource carrying the project tag, in reverse
// order of creation. EC2 resources are listed by the project tag (and
// their role), never by the names today's configuration would give them,
// so that what an older configuration made (an endpoint in a subnet since
// dropped from GWLBE_SUBNETS) goes too; the tags are checked again on what
// Describe returns. Load balancers, target groups and IAM names depend
// only on PROJECT_TAG: they are found by name and deleted only when they
// carry the tag.
func (r *run) destroy(ctx context.Context) error {
	d := r.d
	ec := d.c.EC2
	if err := r.destroyFleet(ctx); err != nil {
		return err
	}

	sessions, err := d.ourSessions(ctx)
	if err != nil {
		return r.fail("mirror-session", "*", err)
	}
	for _, s := range sessions {
		id := aws.ToString(s.TrafficMirrorSessionId)
		if err := r.remove(ctx, "mirror-session", tagValue(s.Tags, TagName), id, func(ctx context.Context) error {
			_, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	filters, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{Filters: d.byProject()})
	if err != nil {
		return r.fail("mirror-filter", "*", err)
	}
	for _, f := range filters.TrafficMirrorFilters {
		if !d.owns(f.Tags, "") {
			continue
		}
		id := aws.ToString(f.TrafficMirrorFilterId)
		if err := r.remove(ctx, "mirror-filter", tagValue(f.Tags, TagName), id, func(ctx context.Context) error {
			_, err := ec.DeleteTrafficMirrorFilter(ctx, &ec2.DeleteTrafficMirrorFilterInput{TrafficMirrorFilterId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	targets, err := ec.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{Filters: d.byProject()})
	if err != nil {
		return r.fail("mirror-target", "*", err)
	}
	for _, t := range targets.TrafficMirrorTargets {
		if !d.owns(t.Tags, "") {
			continue
		}
		id := aws.ToString(t.TrafficMirrorTargetId)
		if err := r.remove(ctx, "mirror-target", tagValue(t.Tags, TagName), id, func(ctx context.Context) error {
			_, err := ec.DeleteTrafficMirrorTarget(ctx, &ec2.DeleteTrafficMirrorTargetInput{TrafficMirrorTargetId: aws.String(id)})
			return err
		}); err != nil {
			return err
		}
	}
	if err := r.destroyLB(ctx, d.nlbName(), d.probeTGName()); err != nil {
		return err
	}
	if err := r.terminate(ctx, "probe"); err != nil {
		return err
	}
	if err := r.destroyIAM(ctx); err != nil {
		return err
	}
	if err := r.destroyBucket(ctx); err != nil {
		return err
	}

	if err := r.destroyReturnRoutes(ctx); err != nil {
		return err
	}
	tables, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: d.byRole("vgw-ingress")})
	if err != nil {
		return r.fail("route-table", "*", err)
	}
	for _, rt := range tables.RouteTables {
		if !d.ownsRole(rt.Tags, "vgw-ingress") {
			continue
		}
		name := tagValue(rt.Tags, TagName)
		for _, a := range rt.Associations {
			aid := aws.ToString(a.RouteTableAssociationId)
			if err := r.remove(ctx, "edge-association", name, aid, func(ctx context.Context) error {
				_, err := ec.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: aws.String(aid)})
				return err
			}); err != nil {
				return err
			}
		}
		rid := aws.ToString(rt.RouteTableId)
		if err := r.remove(ctx, "route-table", name, rid, func(ctx context.Context) error {
			_, err := ec.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(rid)})
			return err
		}); err != nil {
			return err
		}
	}

	eps, err := d.endpoints(ctx)
	if err != nil {
		return r.fail("gwlb-endpoint", "*", err)
	}
	var gone []string
	for _, e := range eps {
		eid := aws.ToString(e.VpcEndpointId)
		if err := r.remove(ctx, "gwlb-endpoint", tagValue(e.Tags, TagName), eid, func(ctx context.Context) error {
			out, err := ec.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{eid}})
			if err == nil {
				err = unsuccessful(out.Unsuccessful) // destroywait.go
			}
			return err
		}); err != nil {
			return err
		}
		gone = append(gone, eid)
	}
	// Endpoints this run deleted, and those an interrupted destroy left
	// "deleting": the endpoint service cannot go before they are gone.
	if err := r.waitEndpointsGone(ctx, "gwlbe", "gwlb-endpoint", len(gone)); err != nil {
		return err
	}
	svcs, err := ec.DescribeVpcEndpointServiceConfigurations(ctx, &ec2.DescribeVpcEndpointServiceConfigurationsInput{Filters: d.byRole("gwlb")})
	if err != nil {
		return r.fail("endpoint-service", "*", err)
	}
	for _, svc := range svcs.ServiceConfigurations {
		if !d.ownsRole(svc.Tags, "gwlb") || stateIs(string(svc.ServiceState), "deleting", "deleted", "failed") {
			continue
		}
		sid := aws.ToString(svc.ServiceId)
		if err := r.remove(ctx, "endpoint-service", tagValue(svc.Tags, TagName), sid, func(ctx context.Context) error {
			out, err := ec.DeleteVpcEndpointServiceConfigurations(ctx, &ec2.DeleteVpcEndpointServiceConfigurationsInput{ServiceIds: []string{sid}})
			if err == nil {
				err = unsuccessful(out.Unsuccessful) // destroywait.go
			}
			return err
		}); err != nil {
			return err
		}
	}
	if err := r.destroyLB(ctx, d.gwlbName(), d.gwlbTGName()); err != nil {
		return err
	}
	if err := r.terminate(ctx, "appliance"); err != nil {
		return err
	}
	if err := r.destroyRole(ctx, d.applianceIAM("")); err != nil {
		return err
	}
	sgs, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: d.byProject()})
	if err != nil {
		return r.fail("security-group", "*", err)
	}
	for _, g := range sgs.SecurityGroups {
		if !d.owns(g.Tags, "") {
			continue
		}
		name, sg := tagValue(g.Tags, TagName), aws.ToString(g.GroupId)
		if err := r.remove(ctx, "security-group", name, sg, d.retryInUse("security group "+name, func(ctx context.Context) error {
			_, err := ec.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sg)})
			return err
		})); err != nil {
			return err
		}
	}
	return nil
}

// destroyLB deletes a load balancer (its listeners go with it), waits until
// it is gone, then deletes its target group.
func (r *run) destroyLB(ctx context.Context, lbName, tgName string) error {
	d := r.d
	arn, err := d.findLBARN(lbName)(ctx)
	if errors.Is(err, errNotOurs) {
		r.event("load-balancer", lbName, "", Warning, "exists without tag "+TagProject+"="+d.cfg.ProjectTag+": left alone")
		arn, err = "", nil
	}
	if err != nil {
		return r.fail("load-balancer", lbName, err)
	}
	if err := r.remove(ctx, "load-balancer", lbName, arn, func(ctx context.Context) error {
		if _, err := d.c.ELB.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}); err != nil {
			return err
		}
		min, max := d.waitDelays()
		tick := r.ticker("load-balancer", lbName, "waiting for it to be deleted")
		w := elb.NewLoadBalancersDeletedWaiter(d.c.ELB, func(o *elb.LoadBalancersDeletedWaiterOptions) {
			o.MinDelay, o.MaxDelay = min, max
			o.Retryable = ticking(o.Retryable, tick)
		})
		return w.Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}}, d.opt.WaitTimeout)
	}); err != nil {
		return err
	}
	tg, err := d.findTG(tgName)(ctx)
	if errors.Is(err, errNotOurs) {
		r.event("target-group", tgName, "", Warning, "exists without tag "+TagProject+"="+d.cfg.ProjectTag+": left alone")
		return nil
	}
	if err != nil {
		return r.fail("target-group", tgName, err)
	}
	return r.remove(ctx, "target-group", tgName, tg, d.retryInUse("target group "+tgName, func(ctx context.Context) error {
		_, err := d.c.ELB.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tg)})
		return err
	}))
}

func (r *run) destroyIAM(ctx context.Context) error {
	return r.destroyRole(ctx, r.d.probeIAM(""))
}

// destroyRole deletes an instance role made by ensureIAM, when it carries
// the project's tag.
func (r *run) destroyRole(ctx context.Context, spec iamSpec) error {
	d := r.d
	role, pol, prof := spec.role, spec.policy, spec.profile
	p, err := d.c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(prof)})
	switch {
	case isNotFound(err):
	case err != nil:
		return r.fail("instance-profile", prof, err)
	case !ownedIAM(p.InstanceProfile.Tags, d.cfg.ProjectTag):
		r.event("instance-profile", prof, "", Warning, "exists without tag "+TagProject+"="+d.cfg.ProjectTag+": left alone")
	default:
		for _, ro := range p.InstanceProfile.Roles {
			if _, err := d.c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
				InstanceProfileName: aws.String(prof), RoleName: ro.RoleName}); err != nil && !isNotFound(err) {
				return r.fail("instance-profile", prof, fmt.Errorf("remove role: %w", err))
			}
		}
		if err := r.remove(ctx, "instance-profile", prof, aws.ToString(p.InstanceProfile.Arn), func(ctx context.Context) error {
			_, err := d.c.IAM.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(prof)})
			return err
		}); err != nil {
			return err
		}
	}
	ro, err := d.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return r.fail("iam-role", role, err)
	case !ownedIAM(ro.Role.Tags, d.cfg.ProjectTag):
		r.event("iam-role", role, "", Warning, "exists without tag "+TagProject+"="+d.cfg.ProjectTag+": left alone")
		return nil
	}
	if _, err := d.c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(pol)}); err != nil && !isNotFound(err) {
		return r.fail("iam-policy", pol, err)
	}
	return r.remove(ctx, "iam-role", role, aws.ToString(ro.Role.Arn), func(ctx context.Context) error {
		_, err := d.c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(role)})
		return err
	})
}

// destroyBucket empties and deletes the artifact bucket when it carries the
// project's tag.
func (r *run) destroyBucket(ctx context.Context) error {
	d := r.d
	id, err := d.c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return r.fail("credentials", "sts", err)
	}
	bucket := d.bucket(aws.ToString(id.Account))
	tags, err := d.c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		if isNotFound(err) || errorCode(err) == "NoSuchTagSet" {
			return nil
		}
		return r.fail("s3-bucket", bucket, err)
	}
	if !ownedS3(tags.TagSet, d.cfg.ProjectTag) {
		return nil
	}
	for _, prefix := range []string{artifactPrefix, applianceArtifactPrefix} {
		p := s3.NewListObjectsV2Paginator(d.c.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return r.fail("s3-bucket", bucket, err)
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if err := r.remove(ctx, "s3-object", "s3://"+bucket+"/"+key, key, func(ctx context.Context) error {
					_, err := d.c.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
					return err
				}); err != nil {
					return err
				}
			}
		}
	}
	return r.remove(ctx, "s3-bucket", bucket, bucket, func(ctx context.Context) error {
		_, err := d.c.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		return err
	})
}
