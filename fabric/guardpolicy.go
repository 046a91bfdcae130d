package fabric

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The guard's permissions. The guard runs on the probe instances (see
// "Failing open" in the README), so when GUARD_BINARY is set (stage 08
// installs it) stage 04 adds these statements to the probe role's inline
// policy; without it the probes cannot change any route. Route writes are allowed only in the route
// tables dxmon owns or writes to, by tag:
//
//   - ec2:CreateRoute, ec2:ReplaceRoute and ec2:DeleteRoute take the route
//     table as their resource, with the condition key
//     ec2:ResourceTag/${TagKey} ("Actions, resources, and condition keys
//     for Amazon EC2", Service Authorization Reference: resource type
//     route-table*, condition keys aws:ResourceTag/${TagKey},
//     ec2:ResourceTag/${TagKey}); the EC2 User Guide's "Supported
//     resource-level permissions for Amazon EC2 API actions" lists the same;
//   - the VGW's ingress route table carries Project=PROJECT_TAG (stage 03
//     creates it); each business subnet's own route table, the customer's,
//     gets TagReturnRoutes=PROJECT_TAG from stage 03 when it writes return
//     routes there (and loses it on destroy), a key of its own so that
//     destroy, which deletes what carries Project, never deletes it;
//   - where AWS also authorizes the route's target (the GWLB endpoint, the
//     VGW), a third statement names them; on its own it grants nothing,
//     since the route table must be allowed too.
//
// The guard cannot tag anything (no ec2:CreateTags), so it cannot widen
// its own grant. IAM cannot narrow a route write to a destination CIDR:
// the guard may change any route of those tables, which is why it runs
// only dxdeploy's own code, as a hardened unit.

// TagReturnRoutes marks a business subnet's route table in which stage 03
// wrote return routes; its value is the project tag.
const TagReturnRoutes = "dxmon:return-routes"

// GuardActions are the API actions the guard calls.
var GuardActions = []string{
	"ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints", "ec2:DescribeInstances",
	"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
	"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
	"ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute",
}

var guardRouteActions = []string{"ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute"}

// GuardStatements are the statements the guard needs in account.
func (d *Deployer) GuardStatements(account string) []PolicyStatement {
	arn := func(res string) string { return fmt.Sprintf("arn:aws:ec2:%s:%s:%s", d.cfg.Region, account, res) }
	tagged := func(key string) map[string]map[string]string {
		return map[string]map[string]string{"StringEquals": {"ec2:ResourceTag/" + key: d.cfg.ProjectTag}}
	}
	s := []PolicyStatement{
		{Sid: "GuardRead", Effect: "Allow", Action: []string{"ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints",
			"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
			"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags"},
			Resource: []string{"*"}},
		{Sid: "GuardIngressRoutes", Effect: "Allow", Action: guardRouteActions, Resource: []string{arn("route-table/*")}, Condition: tagged(TagProject)},
		{Sid: "GuardRouteTargets", Effect: "Allow", Action: guardRouteActions,
			Resource: []string{arn("vpn-gateway/" + d.cfg.VGWID), arn("vpc-endpoint/*")}},
	}
	{
		s = append(s, PolicyStatement{Sid: "GuardArtifacts", Effect: "Allow", Action: []string{"s3:GetObject"},
			Resource: []string{"arn:aws:s3:::" + d.bucket(account) + "/" + guardArtifactPrefix + "*"}})
	}
	if d.cfg.ReturnRoutes {
		s = append(s, PolicyStatement{Sid: "GuardReturnRoutes", Effect: "Allow", Action: guardRouteActions,
			Resource: []string{arn("route-table/*")}, Condition: tagged(TagReturnRoutes)})
	}
	return s
}

// tagReturnTable gives a business subnet's route table TagReturnRoutes, so
// that the guard may change its routes (stage 03).
func (r *run) tagReturnTable(ctx context.Context, t ec2types.RouteTable) error {
	if tagValue(t.Tags, TagReturnRoutes) == r.d.cfg.ProjectTag {
		return nil
	}
	tid := aws.ToString(t.RouteTableId)
	return r.change(ctx, "return-route-tag", tid, tid, "tag "+TagReturnRoutes+"="+r.d.cfg.ProjectTag+" (the guard may change its routes)", func(ctx context.Context) error {
		_, err := r.d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tid},
			Tags: []ec2types.Tag{{Key: aws.String(TagReturnRoutes), Value: aws.String(r.d.cfg.ProjectTag)}}})
		return err
	})
}

// untagReturnTable removes TagReturnRoutes (destroy).
func (r *run) untagReturnTable(ctx context.Context, t ec2types.RouteTable) error {
	if tagValue(t.Tags, TagReturnRoutes) != r.d.cfg.ProjectTag {
		return nil
	}
	tid := aws.ToString(t.RouteTableId)
	return r.remove(ctx, "return-route-tag", tid, tid, func(ctx context.Context) error {
		_, err := r.d.c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{tid}, Tags: []ec2types.Tag{{Key: aws.String(TagReturnRoutes)}}})
		return err
	})
}
