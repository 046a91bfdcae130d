package fabric

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
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
			switch errorCode(err) {
			case "ResourceInUse", "DependencyViolation", "InvalidParameterValue":
				return false, nil
			}
			return err == nil || isNotFound(err), err
		})
	}
}

// destroy is stage 99: every tagged resource, in reverse order of creation.
func (r *run) destroy(ctx context.Context) error {
	d := r.d
	ec := d.c.EC2

	sessions, err := d.sessions(ctx, d.byRole("session"))
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
	id, err := d.findFilter(ctx)
	if err != nil {
		return r.fail("mirror-filter", d.filterName(), err)
	}
	if err := r.remove(ctx, "mirror-filter", d.filterName(), id, func(ctx context.Context) error {
		_, err := ec.DeleteTrafficMirrorFilter(ctx, &ec2.DeleteTrafficMirrorFilterInput{TrafficMirrorFilterId: aws.String(id)})
		return err
	}); err != nil {
		return err
	}
	if id, err = d.findMirrorTarget(ctx); err != nil {
		return r.fail("mirror-target", d.mirrorTargetName(), err)
	}
	if err := r.remove(ctx, "mirror-target", d.mirrorTargetName(), id, func(ctx context.Context) error {
		_, err := ec.DeleteTrafficMirrorTarget(ctx, &ec2.DeleteTrafficMirrorTargetInput{TrafficMirrorTargetId: aws.String(id)})
		return err
	}); err != nil {
		return err
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
	rt, err := d.findRouteTable(ctx)
	if err != nil {
		return r.fail("route-table", d.routeTableName(), err)
	}
	if rt != nil {
		for _, a := range rt.Associations {
			aid := aws.ToString(a.RouteTableAssociationId)
			if err := r.remove(ctx, "edge-association", d.routeTableName(), aid, func(ctx context.Context) error {
				_, err := ec.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: aws.String(aid)})
				return err
			}); err != nil {
				return err
			}
		}
		rid := aws.ToString(rt.RouteTableId)
		if err := r.remove(ctx, "route-table", d.routeTableName(), rid, func(ctx context.Context) error {
			_, err := ec.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(rid)})
			return err
		}); err != nil {
			return err
		}
	}

	var gone []string
	for _, s := range d.cfg.GWLBESubnets {
		e, err := d.findEndpoint(ctx, s)
		if err != nil {
			return r.fail("gwlb-endpoint", d.endpointName(s), err)
		}
		if e == nil {
			continue
		}
		eid := aws.ToString(e.VpcEndpointId)
		if err := r.remove(ctx, "gwlb-endpoint", d.endpointName(s), eid, func(ctx context.Context) error {
			_, err := ec.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{eid}})
			return err
		}); err != nil {
			return err
		}
		gone = append(gone, s)
	}
	for _, s := range gone {
		if err := d.poll(ctx, "gwlb endpoint "+d.endpointName(s)+" deleted", func(ctx context.Context) (bool, error) {
			e, err := d.findEndpoint(ctx, s)
			return e == nil, err
		}); err != nil {
			return r.fail("gwlb-endpoint", d.endpointName(s), err)
		}
	}
	svc, err := d.findService(ctx)
	if err != nil {
		return r.fail("endpoint-service", d.serviceName(), err)
	}
	if svc != nil {
		sid := aws.ToString(svc.ServiceId)
		if err := r.remove(ctx, "endpoint-service", d.serviceName(), sid, func(ctx context.Context) error {
			_, err := ec.DeleteVpcEndpointServiceConfigurations(ctx, &ec2.DeleteVpcEndpointServiceConfigurationsInput{ServiceIds: []string{sid}})
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
	for _, spec := range d.SecurityGroups() {
		sg, err := d.findSGID(spec.Name)(ctx)
		if err != nil {
			return r.fail("security-group", spec.Name, err)
		}
		if err := r.remove(ctx, "security-group", spec.Name, sg, d.retryInUse("security group "+spec.Name, func(ctx context.Context) error {
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
	if err != nil {
		return r.fail("load-balancer", lbName, err)
	}
	if err := r.remove(ctx, "load-balancer", lbName, arn, func(ctx context.Context) error {
		if _, err := d.c.ELB.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}); err != nil {
			return err
		}
		min, max := d.waitDelays()
		w := elb.NewLoadBalancersDeletedWaiter(d.c.ELB, func(o *elb.LoadBalancersDeletedWaiterOptions) { o.MinDelay, o.MaxDelay = min, max })
		return w.Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}}, d.opt.WaitTimeout)
	}); err != nil {
		return err
	}
	tg, err := d.findTG(tgName)(ctx)
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
	case ownedIAM(p.InstanceProfile.Tags, d.cfg.ProjectTag):
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
