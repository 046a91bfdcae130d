package fabric

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// fakeCloud is an in-memory AWS holding what fabric builds, implementing
// every narrow client interface. It records mutating calls and can fail
// the n-th one, before or after doing it, to model an interrupted apply.
type fakeCloud struct {
	mu        sync.Mutex
	seq       int
	mutations []string
	failAt    int
	after     bool
	cur       int

	subnets   map[string][2]string // ID → CIDR, AZ
	sgs       map[string]*ec2types.SecurityGroup
	instances map[string]*ec2types.Instance
	enis      map[string]string // ENI → instance
	services  map[string]*ec2types.ServiceConfiguration
	endpoints map[string]*ec2types.VpcEndpoint
	rts       map[string]*ec2types.RouteTable
	targets   map[string]*ec2types.TrafficMirrorTarget
	filters   map[string]*ec2types.TrafficMirrorFilter
	rules     map[string]*ec2types.TrafficMirrorFilterRule
	sessions  map[string]*ec2types.TrafficMirrorSession
	tgs       map[string]*elbtypes.TargetGroup
	members   map[string][]string
	lbs       map[string]*elbtypes.LoadBalancer
	listeners map[string][]string
	elbTags   map[string][]elbtypes.Tag
	roles     map[string]*iamtypes.Role
	policies  map[string]string
	profiles  map[string]*iamtypes.InstanceProfile
	buckets   map[string][]s3types.Tag
	objects   map[string]bool
	attrs     map[string]map[string]string // target group or listener ARN → attributes (fakefailover_test.go)
	tables    map[string]*fakeTable        // fakefleet_test.go
}

var errFakeInterrupted = errors.New("fake: interrupted")

func newFakeCloud() *fakeCloud {
	return &fakeCloud{
		subnets: map[string][2]string{
			"subnet-a1": {"10.0.1.0/24", "us-east-1a"}, "subnet-b1": {"10.0.2.0/24", "us-east-1b"},
			"subnet-a2": {"10.0.11.0/24", "us-east-1a"}, "subnet-b2": {"10.0.12.0/24", "us-east-1b"},
			"subnet-a3": {"10.0.21.0/24", "us-east-1a"}, "subnet-b3": {"10.0.22.0/24", "us-east-1b"},
		},
		sgs: map[string]*ec2types.SecurityGroup{}, instances: map[string]*ec2types.Instance{}, enis: map[string]string{},
		services: map[string]*ec2types.ServiceConfiguration{}, endpoints: map[string]*ec2types.VpcEndpoint{},
		rts: map[string]*ec2types.RouteTable{}, targets: map[string]*ec2types.TrafficMirrorTarget{},
		filters: map[string]*ec2types.TrafficMirrorFilter{}, rules: map[string]*ec2types.TrafficMirrorFilterRule{},
		sessions: map[string]*ec2types.TrafficMirrorSession{}, tgs: map[string]*elbtypes.TargetGroup{}, members: map[string][]string{},
		lbs: map[string]*elbtypes.LoadBalancer{}, listeners: map[string][]string{}, elbTags: map[string][]elbtypes.Tag{},
		roles: map[string]*iamtypes.Role{}, policies: map[string]string{}, profiles: map[string]*iamtypes.InstanceProfile{},
		buckets: map[string][]s3types.Tag{}, objects: map[string]bool{}, tables: map[string]*fakeTable{},
	}
}

func (f *fakeCloud) clients() Clients {
	return Clients{EC2: f, ELB: fakeELB{f}, IAM: fakeIAM{f}, S3: fakeS3{f}, SSM: fakeSSM{f}, STS: f, CloudWatch: f, DynamoDB: fakeDynamo{f}}
}

// begin records a mutating call (the lock is held) and fails it when it is
// the chosen one and the failure comes before the call.
func (f *fakeCloud) begin(op string) error {
	f.mutations = append(f.mutations, op)
	f.cur = len(f.mutations)
	if f.cur == f.failAt && !f.after {
		return errFakeInterrupted
	}
	return nil
}

// end fails the chosen call after it took effect: the answer was lost.
func (f *fakeCloud) end() error {
	if f.cur == f.failAt && f.after {
		return errFakeInterrupted
	}
	return nil
}

func (f *fakeCloud) id(prefix string) string { f.seq++; return fmt.Sprintf("%s-%d", prefix, f.seq) }

func notFound(code string) error { return &smithy.GenericAPIError{Code: code, Message: "not found"} }

func tagsOf(specs []ec2types.TagSpecification) []ec2types.Tag {
	var out []ec2types.Tag
	for _, s := range specs {
		out = append(out, s.Tags...)
	}
	return out
}

// match applies EC2 filters: tag:K and the named fields given.
func match(flt []ec2types.Filter, tags []ec2types.Tag, fields map[string]string) bool {
	for _, fl := range flt {
		name := aws.ToString(fl.Name)
		var have string
		if k, ok := strings.CutPrefix(name, "tag:"); ok {
			have = tagValue(tags, k)
		} else if v, ok := fields[name]; ok {
			have = v
		} else {
			panic("fake: filter " + name)
		}
		hit := false
		for _, v := range fl.Values {
			hit = hit || v == have
		}
		if !hit {
			return false
		}
	}
	return true
}

// EC2 ----------------------------------------------------------------------

func (f *fakeCloud) DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	return &ec2.DescribeVpcsOutput{Vpcs: []ec2types.Vpc{{VpcId: aws.String("vpc-1"), CidrBlock: aws.String("10.0.0.0/16")}}}, nil
}

func (f *fakeCloud) DescribeVpnGateways(context.Context, *ec2.DescribeVpnGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeVpnGatewaysOutput, error) {
	return &ec2.DescribeVpnGatewaysOutput{VpnGateways: []ec2types.VpnGateway{{VpnGatewayId: aws.String("vgw-1"),
		VpcAttachments: []ec2types.VpcAttachment{{VpcId: aws.String("vpc-1"), State: "attached"}}}}}, nil
}

func (f *fakeCloud) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	var out []ec2types.Subnet
	for id, s := range f.subnets {
		if (len(in.SubnetIds) > 0 && !contains(in.SubnetIds, id)) || !match(in.Filters, nil, map[string]string{"vpc-id": "vpc-1", "cidr-block": s[0]}) {
			continue
		}
		out = append(out, ec2types.Subnet{SubnetId: aws.String(id), CidrBlock: aws.String(s[0]), AvailabilityZone: aws.String(s[1]), VpcId: aws.String("vpc-1")})
	}
	return &ec2.DescribeSubnetsOutput{Subnets: out}, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (f *fakeCloud) DescribeSecurityGroups(_ context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.SecurityGroup
	for _, g := range f.sgs {
		if match(in.Filters, g.Tags, map[string]string{"vpc-id": "vpc-1"}) {
			out = append(out, *g)
		}
	}
	return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: out}, nil
}

func (f *fakeCloud) CreateSecurityGroup(_ context.Context, in *ec2.CreateSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateSecurityGroup"); err != nil {
		return nil, err
	}
	for _, g := range f.sgs {
		if aws.ToString(g.GroupName) == aws.ToString(in.GroupName) {
			return nil, &smithy.GenericAPIError{Code: "InvalidGroup.Duplicate"}
		}
	}
	id := f.id("sg")
	f.sgs[id] = &ec2types.SecurityGroup{GroupId: aws.String(id), GroupName: in.GroupName, Tags: tagsOf(in.TagSpecifications),
		IpPermissionsEgress: toPerms([]Rule{{"-1", 0, 0, "0.0.0.0/0"}})}
	return &ec2.CreateSecurityGroupOutput{GroupId: aws.String(id)}, f.end()
}

func (f *fakeCloud) editRules(op, id string, perms []ec2types.IpPermission, egress, add bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(op); err != nil {
		return err
	}
	g, ok := f.sgs[id]
	if !ok {
		return notFound("InvalidGroup.NotFound")
	}
	list := &g.IpPermissions
	if egress {
		list = &g.IpPermissionsEgress
	}
	have := flatten(*list)
	change := flatten(perms)
	if add {
		have = append(have, change...)
	} else {
		_, have = diffRules(change, have)
	}
	*list = toPerms(have)
	return f.end()
}

func (f *fakeCloud) AuthorizeSecurityGroupIngress(_ context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return &ec2.AuthorizeSecurityGroupIngressOutput{}, f.editRules("AuthorizeSecurityGroupIngress", aws.ToString(in.GroupId), in.IpPermissions, false, true)
}

func (f *fakeCloud) AuthorizeSecurityGroupEgress(_ context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error) {
	return &ec2.AuthorizeSecurityGroupEgressOutput{}, f.editRules("AuthorizeSecurityGroupEgress", aws.ToString(in.GroupId), in.IpPermissions, true, true)
}

func (f *fakeCloud) RevokeSecurityGroupIngress(_ context.Context, in *ec2.RevokeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return &ec2.RevokeSecurityGroupIngressOutput{}, f.editRules("RevokeSecurityGroupIngress", aws.ToString(in.GroupId), in.IpPermissions, false, false)
}

func (f *fakeCloud) RevokeSecurityGroupEgress(_ context.Context, in *ec2.RevokeSecurityGroupEgressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error) {
	return &ec2.RevokeSecurityGroupEgressOutput{}, f.editRules("RevokeSecurityGroupEgress", aws.ToString(in.GroupId), in.IpPermissions, true, false)
}

func (f *fakeCloud) DeleteSecurityGroup(_ context.Context, in *ec2.DeleteSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteSecurityGroup"); err != nil {
		return nil, err
	}
	delete(f.sgs, aws.ToString(in.GroupId))
	return &ec2.DeleteSecurityGroupOutput{}, f.end()
}

func (f *fakeCloud) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.Instance
	for id, i := range f.instances {
		if (len(in.InstanceIds) > 0 && !contains(in.InstanceIds, id)) || !match(in.Filters, i.Tags, map[string]string{"instance-state-name": string(i.State.Name)}) {
			continue
		}
		out = append(out, *i)
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: out}}}, nil
}

func (f *fakeCloud) RunInstances(_ context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RunInstances"); err != nil {
		return nil, err
	}
	id, eni := f.id("i"), f.id("eni")
	i := &ec2types.Instance{InstanceId: aws.String(id), SubnetId: in.SubnetId, State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning},
		Placement: &ec2types.Placement{AvailabilityZone: aws.String(f.subnets[aws.ToString(in.SubnetId)][1])}}
	for _, s := range in.TagSpecifications {
		if s.ResourceType == ec2types.ResourceTypeInstance {
			i.Tags = append(i.Tags, s.Tags...)
		}
	}
	if in.IamInstanceProfile != nil {
		i.IamInstanceProfile = &ec2types.IamInstanceProfile{Arn: in.IamInstanceProfile.Name}
	}
	f.instances[id] = i
	f.enis[eni] = id
	return &ec2.RunInstancesOutput{Instances: []ec2types.Instance{*i}}, f.end()
}

func (f *fakeCloud) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("TerminateInstances"); err != nil {
		return nil, err
	}
	for _, id := range in.InstanceIds {
		if i, ok := f.instances[id]; ok {
			i.State = &ec2types.InstanceState{Name: ec2types.InstanceStateNameTerminated}
		}
		for e, owner := range f.enis {
			if owner == id {
				delete(f.enis, e)
			}
		}
	}
	return &ec2.TerminateInstancesOutput{}, f.end()
}

func (f *fakeCloud) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateTags"); err != nil {
		return nil, err
	}
	for _, id := range in.Resources {
		if i, ok := f.instances[id]; ok {
			for _, t := range in.Tags {
				var kept []ec2types.Tag
				for _, o := range i.Tags {
					if aws.ToString(o.Key) != aws.ToString(t.Key) {
						kept = append(kept, o)
					}
				}
				i.Tags = append(kept, t)
			}
		}
	}
	return &ec2.CreateTagsOutput{}, f.end()
}

func (f *fakeCloud) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.NetworkInterface
	for e, i := range f.enis {
		if match(in.Filters, nil, map[string]string{"attachment.instance-id": i}) {
			out = append(out, ec2types.NetworkInterface{NetworkInterfaceId: aws.String(e)})
		}
	}
	return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: out}, nil
}

func (f *fakeCloud) DescribeVpcEndpointServiceConfigurations(_ context.Context, in *ec2.DescribeVpcEndpointServiceConfigurationsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointServiceConfigurationsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.ServiceConfiguration
	for _, s := range f.services {
		if match(in.Filters, s.Tags, nil) {
			out = append(out, *s)
		}
	}
	return &ec2.DescribeVpcEndpointServiceConfigurationsOutput{ServiceConfigurations: out}, nil
}

func (f *fakeCloud) CreateVpcEndpointServiceConfiguration(_ context.Context, in *ec2.CreateVpcEndpointServiceConfigurationInput, _ ...func(*ec2.Options)) (*ec2.CreateVpcEndpointServiceConfigurationOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateVpcEndpointServiceConfiguration"); err != nil {
		return nil, err
	}
	id := f.id("vpce-svc")
	s := &ec2types.ServiceConfiguration{ServiceId: aws.String(id), ServiceName: aws.String("com.amazonaws.vpce." + id),
		ServiceState: ec2types.ServiceStateAvailable, Tags: tagsOf(in.TagSpecifications)}
	f.services[id] = s
	return &ec2.CreateVpcEndpointServiceConfigurationOutput{ServiceConfiguration: s}, f.end()
}

func (f *fakeCloud) DeleteVpcEndpointServiceConfigurations(_ context.Context, in *ec2.DeleteVpcEndpointServiceConfigurationsInput, _ ...func(*ec2.Options)) (*ec2.DeleteVpcEndpointServiceConfigurationsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteVpcEndpointServiceConfigurations"); err != nil {
		return nil, err
	}
	for _, id := range in.ServiceIds {
		delete(f.services, id)
	}
	return &ec2.DeleteVpcEndpointServiceConfigurationsOutput{}, f.end()
}

func (f *fakeCloud) DescribeVpcEndpoints(_ context.Context, in *ec2.DescribeVpcEndpointsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.VpcEndpoint
	for _, e := range f.endpoints {
		if match(in.Filters, e.Tags, nil) {
			out = append(out, *e)
		}
	}
	return &ec2.DescribeVpcEndpointsOutput{VpcEndpoints: out}, nil
}

func (f *fakeCloud) CreateVpcEndpoint(_ context.Context, in *ec2.CreateVpcEndpointInput, _ ...func(*ec2.Options)) (*ec2.CreateVpcEndpointOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateVpcEndpoint"); err != nil {
		return nil, err
	}
	id := f.id("vpce")
	e := &ec2types.VpcEndpoint{VpcEndpointId: aws.String(id), State: "available", SubnetIds: in.SubnetIds,
		RouteTableIds: in.RouteTableIds, Tags: tagsOf(in.TagSpecifications)}
	f.endpoints[id] = e
	return &ec2.CreateVpcEndpointOutput{VpcEndpoint: e}, f.end()
}

func (f *fakeCloud) DeleteVpcEndpoints(_ context.Context, in *ec2.DeleteVpcEndpointsInput, _ ...func(*ec2.Options)) (*ec2.DeleteVpcEndpointsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteVpcEndpoints"); err != nil {
		return nil, err
	}
	for _, id := range in.VpcEndpointIds {
		delete(f.endpoints, id)
	}
	return &ec2.DeleteVpcEndpointsOutput{}, f.end()
}

func (f *fakeCloud) DescribeRouteTables(_ context.Context, in *ec2.DescribeRouteTablesInput, _ ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.RouteTable
	for _, t := range f.rts {
		if match(in.Filters, t.Tags, map[string]string{"vpc-id": "vpc-1"}) {
			c := *t
			c.Routes = append([]ec2types.Route{}, t.Routes...)
			c.Associations = append([]ec2types.RouteTableAssociation{}, t.Associations...)
			out = append(out, c)
		}
	}
	return &ec2.DescribeRouteTablesOutput{RouteTables: out}, nil
}

func (f *fakeCloud) CreateRouteTable(_ context.Context, in *ec2.CreateRouteTableInput, _ ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateRouteTable"); err != nil {
		return nil, err
	}
	id := f.id("rtb")
	t := &ec2types.RouteTable{RouteTableId: aws.String(id), Tags: tagsOf(in.TagSpecifications)}
	f.rts[id] = t
	c := *t
	return &ec2.CreateRouteTableOutput{RouteTable: &c}, f.end()
}

func (f *fakeCloud) AssociateRouteTable(_ context.Context, in *ec2.AssociateRouteTableInput, _ ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("AssociateRouteTable"); err != nil {
		return nil, err
	}
	for _, t := range f.rts {
		for _, a := range t.Associations {
			if aws.ToString(a.GatewayId) == aws.ToString(in.GatewayId) {
				return nil, &smithy.GenericAPIError{Code: "Resource.AlreadyAssociated"}
			}
		}
	}
	id := f.id("rtbassoc")
	t := f.rts[aws.ToString(in.RouteTableId)]
	t.Associations = append(t.Associations, ec2types.RouteTableAssociation{RouteTableAssociationId: aws.String(id), GatewayId: in.GatewayId})
	return &ec2.AssociateRouteTableOutput{AssociationId: aws.String(id)}, f.end()
}

func (f *fakeCloud) DisassociateRouteTable(_ context.Context, in *ec2.DisassociateRouteTableInput, _ ...func(*ec2.Options)) (*ec2.DisassociateRouteTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DisassociateRouteTable"); err != nil {
		return nil, err
	}
	for _, t := range f.rts {
		var kept []ec2types.RouteTableAssociation
		for _, a := range t.Associations {
			if aws.ToString(a.RouteTableAssociationId) != aws.ToString(in.AssociationId) {
				kept = append(kept, a)
			}
		}
		t.Associations = kept
	}
	return &ec2.DisassociateRouteTableOutput{}, f.end()
}

func (f *fakeCloud) setRoute(op string, table, cidr, target string, replace bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(op); err != nil {
		return err
	}
	t := f.rts[table]
	for i, r := range t.Routes {
		if aws.ToString(r.DestinationCidrBlock) == cidr {
			if !replace {
				return &smithy.GenericAPIError{Code: "RouteAlreadyExists"}
			}
			t.Routes[i].GatewayId = aws.String(target)
			return f.end()
		}
	}
	t.Routes = append(t.Routes, ec2types.Route{DestinationCidrBlock: aws.String(cidr), GatewayId: aws.String(target), State: ec2types.RouteStateActive})
	return f.end()
}

func (f *fakeCloud) CreateRoute(_ context.Context, in *ec2.CreateRouteInput, _ ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error) {
	return &ec2.CreateRouteOutput{}, f.setRoute("CreateRoute", aws.ToString(in.RouteTableId), aws.ToString(in.DestinationCidrBlock), aws.ToString(in.VpcEndpointId), false)
}

func (f *fakeCloud) ReplaceRoute(_ context.Context, in *ec2.ReplaceRouteInput, _ ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error) {
	return &ec2.ReplaceRouteOutput{}, f.setRoute("ReplaceRoute", aws.ToString(in.RouteTableId), aws.ToString(in.DestinationCidrBlock), aws.ToString(in.VpcEndpointId), true)
}

func (f *fakeCloud) DeleteRouteTable(_ context.Context, in *ec2.DeleteRouteTableInput, _ ...func(*ec2.Options)) (*ec2.DeleteRouteTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteRouteTable"); err != nil {
		return nil, err
	}
	delete(f.rts, aws.ToString(in.RouteTableId))
	return &ec2.DeleteRouteTableOutput{}, f.end()
}

func (f *fakeCloud) DescribeTrafficMirrorTargets(_ context.Context, in *ec2.DescribeTrafficMirrorTargetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorTargetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.TrafficMirrorTarget
	for _, t := range f.targets {
		if match(in.Filters, t.Tags, nil) {
			out = append(out, *t)
		}
	}
	return &ec2.DescribeTrafficMirrorTargetsOutput{TrafficMirrorTargets: out}, nil
}

func (f *fakeCloud) CreateTrafficMirrorTarget(_ context.Context, in *ec2.CreateTrafficMirrorTargetInput, _ ...func(*ec2.Options)) (*ec2.CreateTrafficMirrorTargetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateTrafficMirrorTarget"); err != nil {
		return nil, err
	}
	id := f.id("tmt")
	t := &ec2types.TrafficMirrorTarget{TrafficMirrorTargetId: aws.String(id), NetworkLoadBalancerArn: in.NetworkLoadBalancerArn, Tags: tagsOf(in.TagSpecifications)}
	f.targets[id] = t
	return &ec2.CreateTrafficMirrorTargetOutput{TrafficMirrorTarget: t}, f.end()
}

func (f *fakeCloud) DeleteTrafficMirrorTarget(_ context.Context, in *ec2.DeleteTrafficMirrorTargetInput, _ ...func(*ec2.Options)) (*ec2.DeleteTrafficMirrorTargetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTrafficMirrorTarget"); err != nil {
		return nil, err
	}
	delete(f.targets, aws.ToString(in.TrafficMirrorTargetId))
	return &ec2.DeleteTrafficMirrorTargetOutput{}, f.end()
}

func (f *fakeCloud) DescribeTrafficMirrorFilters(_ context.Context, in *ec2.DescribeTrafficMirrorFiltersInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorFiltersOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.TrafficMirrorFilter
	for _, t := range f.filters {
		if match(in.Filters, t.Tags, nil) {
			out = append(out, *t)
		}
	}
	return &ec2.DescribeTrafficMirrorFiltersOutput{TrafficMirrorFilters: out}, nil
}

func (f *fakeCloud) CreateTrafficMirrorFilter(_ context.Context, in *ec2.CreateTrafficMirrorFilterInput, _ ...func(*ec2.Options)) (*ec2.CreateTrafficMirrorFilterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateTrafficMirrorFilter"); err != nil {
		return nil, err
	}
	id := f.id("tmf")
	t := &ec2types.TrafficMirrorFilter{TrafficMirrorFilterId: aws.String(id), Tags: tagsOf(in.TagSpecifications)}
	f.filters[id] = t
	return &ec2.CreateTrafficMirrorFilterOutput{TrafficMirrorFilter: t}, f.end()
}

func (f *fakeCloud) DeleteTrafficMirrorFilter(_ context.Context, in *ec2.DeleteTrafficMirrorFilterInput, _ ...func(*ec2.Options)) (*ec2.DeleteTrafficMirrorFilterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTrafficMirrorFilter"); err != nil {
		return nil, err
	}
	id := aws.ToString(in.TrafficMirrorFilterId)
	delete(f.filters, id)
	for rid, r := range f.rules {
		if aws.ToString(r.TrafficMirrorFilterId) == id {
			delete(f.rules, rid)
		}
	}
	return &ec2.DeleteTrafficMirrorFilterOutput{}, f.end()
}

func (f *fakeCloud) DescribeTrafficMirrorFilterRules(_ context.Context, in *ec2.DescribeTrafficMirrorFilterRulesInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorFilterRulesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.TrafficMirrorFilterRule
	for _, r := range f.rules {
		if aws.ToString(r.TrafficMirrorFilterId) == aws.ToString(in.TrafficMirrorFilterId) {
			out = append(out, *r)
		}
	}
	return &ec2.DescribeTrafficMirrorFilterRulesOutput{TrafficMirrorFilterRules: out}, nil
}

func (f *fakeCloud) CreateTrafficMirrorFilterRule(_ context.Context, in *ec2.CreateTrafficMirrorFilterRuleInput, _ ...func(*ec2.Options)) (*ec2.CreateTrafficMirrorFilterRuleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateTrafficMirrorFilterRule"); err != nil {
		return nil, err
	}
	n := 0
	for _, r := range f.rules {
		if aws.ToString(r.TrafficMirrorFilterId) == aws.ToString(in.TrafficMirrorFilterId) {
			n++
			if r.TrafficDirection == in.TrafficDirection && aws.ToInt32(r.RuleNumber) == aws.ToInt32(in.RuleNumber) {
				return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "rule number in use"}
			}
		}
	}
	if n >= MaxRulesPerFilter {
		return nil, &smithy.GenericAPIError{Code: "TrafficMirrorFilterRuleLimitExceeded"}
	}
	id := f.id("tmfr")
	r := &ec2types.TrafficMirrorFilterRule{TrafficMirrorFilterRuleId: aws.String(id), TrafficMirrorFilterId: in.TrafficMirrorFilterId,
		TrafficDirection: in.TrafficDirection, RuleNumber: in.RuleNumber, RuleAction: in.RuleAction, Protocol: in.Protocol,
		SourceCidrBlock: in.SourceCidrBlock, DestinationCidrBlock: in.DestinationCidrBlock}
	if p := in.DestinationPortRange; p != nil {
		r.DestinationPortRange = &ec2types.TrafficMirrorPortRange{FromPort: p.FromPort, ToPort: p.ToPort}
	}
	f.rules[id] = r
	return &ec2.CreateTrafficMirrorFilterRuleOutput{TrafficMirrorFilterRule: r}, f.end()
}

func (f *fakeCloud) DeleteTrafficMirrorFilterRule(_ context.Context, in *ec2.DeleteTrafficMirrorFilterRuleInput, _ ...func(*ec2.Options)) (*ec2.DeleteTrafficMirrorFilterRuleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTrafficMirrorFilterRule"); err != nil {
		return nil, err
	}
	delete(f.rules, aws.ToString(in.TrafficMirrorFilterRuleId))
	return &ec2.DeleteTrafficMirrorFilterRuleOutput{}, f.end()
}

func (f *fakeCloud) DescribeTrafficMirrorSessions(_ context.Context, in *ec2.DescribeTrafficMirrorSessionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorSessionsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2types.TrafficMirrorSession
	for _, s := range f.sessions {
		if match(in.Filters, s.Tags, map[string]string{"network-interface-id": aws.ToString(s.NetworkInterfaceId)}) {
			out = append(out, *s)
		}
	}
	return &ec2.DescribeTrafficMirrorSessionsOutput{TrafficMirrorSessions: out}, nil
}

func (f *fakeCloud) CreateTrafficMirrorSession(_ context.Context, in *ec2.CreateTrafficMirrorSessionInput, _ ...func(*ec2.Options)) (*ec2.CreateTrafficMirrorSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateTrafficMirrorSession"); err != nil {
		return nil, err
	}
	id := f.id("tms")
	s := &ec2types.TrafficMirrorSession{TrafficMirrorSessionId: aws.String(id), NetworkInterfaceId: in.NetworkInterfaceId,
		TrafficMirrorTargetId: in.TrafficMirrorTargetId, TrafficMirrorFilterId: in.TrafficMirrorFilterId, SessionNumber: in.SessionNumber,
		VirtualNetworkId: in.VirtualNetworkId, PacketLength: in.PacketLength, Tags: tagsOf(in.TagSpecifications)}
	f.sessions[id] = s
	return &ec2.CreateTrafficMirrorSessionOutput{TrafficMirrorSession: s}, f.end()
}

func (f *fakeCloud) DeleteTrafficMirrorSession(_ context.Context, in *ec2.DeleteTrafficMirrorSessionInput, _ ...func(*ec2.Options)) (*ec2.DeleteTrafficMirrorSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteTrafficMirrorSession"); err != nil {
		return nil, err
	}
	delete(f.sessions, aws.ToString(in.TrafficMirrorSessionId))
	return &ec2.DeleteTrafficMirrorSessionOutput{}, f.end()
}

func (f *fakeCloud) ModifyTrafficMirrorSession(_ context.Context, in *ec2.ModifyTrafficMirrorSessionInput, _ ...func(*ec2.Options)) (*ec2.ModifyTrafficMirrorSessionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ModifyTrafficMirrorSession"); err != nil {
		return nil, err
	}
	s, ok := f.sessions[aws.ToString(in.TrafficMirrorSessionId)]
	if !ok {
		return nil, notFound("InvalidTrafficMirrorSessionId.NotFound")
	}
	s.TrafficMirrorTargetId, s.TrafficMirrorFilterId, s.VirtualNetworkId, s.PacketLength = in.TrafficMirrorTargetId, in.TrafficMirrorFilterId, in.VirtualNetworkId, in.PacketLength
	return &ec2.ModifyTrafficMirrorSessionOutput{TrafficMirrorSession: s}, f.end()
}

// STS, CloudWatch -----------------------------------------------------------

func (f *fakeCloud) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), Arn: aws.String("arn:aws:iam::123456789012:user/t")}, nil
}

func (f *fakeCloud) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return &cloudwatch.GetMetricDataOutput{}, nil
}

// ELB -------------------------------------------------------------------------

type fakeELB struct{ f *fakeCloud }

func (e fakeELB) DescribeTargetGroups(_ context.Context, in *elb.DescribeTargetGroupsInput, _ ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.TargetGroup
	for _, g := range e.f.tgs {
		if (len(in.Names) == 0 || contains(in.Names, aws.ToString(g.TargetGroupName))) &&
			(len(in.TargetGroupArns) == 0 || contains(in.TargetGroupArns, aws.ToString(g.TargetGroupArn))) {
			out = append(out, *g)
		}
	}
	if len(out) == 0 && len(in.Names) > 0 {
		return nil, notFound("TargetGroupNotFound")
	}
	return &elb.DescribeTargetGroupsOutput{TargetGroups: out}, nil
}

func (e fakeELB) CreateTargetGroup(_ context.Context, in *elb.CreateTargetGroupInput, _ ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("CreateTargetGroup"); err != nil {
		return nil, err
	}
	arn := "arn:tg/" + aws.ToString(in.Name)
	g := &elbtypes.TargetGroup{TargetGroupArn: aws.String(arn), TargetGroupName: in.Name,
		HealthCheckProtocol: in.HealthCheckProtocol, HealthCheckPort: in.HealthCheckPort,
		HealthCheckIntervalSeconds: in.HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds: in.HealthCheckTimeoutSeconds,
		HealthyThresholdCount: in.HealthyThresholdCount, UnhealthyThresholdCount: in.UnhealthyThresholdCount}
	e.f.tgs[arn] = g
	e.f.elbTags[arn] = in.Tags
	return &elb.CreateTargetGroupOutput{TargetGroups: []elbtypes.TargetGroup{*g}}, e.f.end()
}

func (e fakeELB) DeleteTargetGroup(_ context.Context, in *elb.DeleteTargetGroupInput, _ ...func(*elb.Options)) (*elb.DeleteTargetGroupOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("DeleteTargetGroup"); err != nil {
		return nil, err
	}
	delete(e.f.tgs, aws.ToString(in.TargetGroupArn))
	delete(e.f.members, aws.ToString(in.TargetGroupArn))
	return &elb.DeleteTargetGroupOutput{}, e.f.end()
}

func (e fakeELB) DescribeTargetHealth(_ context.Context, in *elb.DescribeTargetHealthInput, _ ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.TargetHealthDescription
	for _, id := range e.f.members[aws.ToString(in.TargetGroupArn)] {
		out = append(out, elbtypes.TargetHealthDescription{Target: &elbtypes.TargetDescription{Id: aws.String(id)},
			TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}})
	}
	return &elb.DescribeTargetHealthOutput{TargetHealthDescriptions: out}, nil
}

func (e fakeELB) RegisterTargets(_ context.Context, in *elb.RegisterTargetsInput, _ ...func(*elb.Options)) (*elb.RegisterTargetsOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("RegisterTargets"); err != nil {
		return nil, err
	}
	arn := aws.ToString(in.TargetGroupArn)
	for _, t := range in.Targets {
		if !contains(e.f.members[arn], aws.ToString(t.Id)) {
			e.f.members[arn] = append(e.f.members[arn], aws.ToString(t.Id))
		}
	}
	return &elb.RegisterTargetsOutput{}, e.f.end()
}

func (e fakeELB) DescribeLoadBalancers(_ context.Context, in *elb.DescribeLoadBalancersInput, _ ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.LoadBalancer
	for arn, l := range e.f.lbs {
		if (len(in.Names) == 0 || contains(in.Names, aws.ToString(l.LoadBalancerName))) &&
			(len(in.LoadBalancerArns) == 0 || contains(in.LoadBalancerArns, arn)) {
			out = append(out, *l)
		}
	}
	if len(out) == 0 && len(in.Names)+len(in.LoadBalancerArns) > 0 {
		return nil, notFound("LoadBalancerNotFound")
	}
	return &elb.DescribeLoadBalancersOutput{LoadBalancers: out}, nil
}

func (e fakeELB) CreateLoadBalancer(_ context.Context, in *elb.CreateLoadBalancerInput, _ ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("CreateLoadBalancer"); err != nil {
		return nil, err
	}
	arn := "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/" + aws.ToString(in.Name) + "/1"
	l := &elbtypes.LoadBalancer{LoadBalancerArn: aws.String(arn), LoadBalancerName: in.Name, State: &elbtypes.LoadBalancerState{Code: elbtypes.LoadBalancerStateEnumActive}}
	e.f.lbs[arn] = l
	e.f.elbTags[arn] = in.Tags
	return &elb.CreateLoadBalancerOutput{LoadBalancers: []elbtypes.LoadBalancer{*l}}, e.f.end()
}

func (e fakeELB) DeleteLoadBalancer(_ context.Context, in *elb.DeleteLoadBalancerInput, _ ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("DeleteLoadBalancer"); err != nil {
		return nil, err
	}
	delete(e.f.lbs, aws.ToString(in.LoadBalancerArn))
	delete(e.f.listeners, aws.ToString(in.LoadBalancerArn))
	return &elb.DeleteLoadBalancerOutput{}, e.f.end()
}

func (e fakeELB) DescribeLoadBalancerAttributes(_ context.Context, in *elb.DescribeLoadBalancerAttributesInput, _ ...func(*elb.Options)) (*elb.DescribeLoadBalancerAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	v := "false"
	for _, t := range e.f.elbTags[aws.ToString(in.LoadBalancerArn)] {
		if aws.ToString(t.Key) == "fake:cross-zone" {
			v = "true"
		}
	}
	return &elb.DescribeLoadBalancerAttributesOutput{Attributes: []elbtypes.LoadBalancerAttribute{
		{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String(v)}}}, nil
}

func (e fakeELB) ModifyLoadBalancerAttributes(_ context.Context, in *elb.ModifyLoadBalancerAttributesInput, _ ...func(*elb.Options)) (*elb.ModifyLoadBalancerAttributesOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("ModifyLoadBalancerAttributes"); err != nil {
		return nil, err
	}
	arn := aws.ToString(in.LoadBalancerArn)
	e.f.elbTags[arn] = append(e.f.elbTags[arn], elbtypes.Tag{Key: aws.String("fake:cross-zone")})
	return &elb.ModifyLoadBalancerAttributesOutput{}, e.f.end()
}

func (e fakeELB) DescribeListeners(_ context.Context, in *elb.DescribeListenersInput, _ ...func(*elb.Options)) (*elb.DescribeListenersOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.Listener
	for _, l := range e.f.listeners[aws.ToString(in.LoadBalancerArn)] {
		out = append(out, elbtypes.Listener{ListenerArn: aws.String(l)})
	}
	return &elb.DescribeListenersOutput{Listeners: out}, nil
}

func (e fakeELB) CreateListener(_ context.Context, in *elb.CreateListenerInput, _ ...func(*elb.Options)) (*elb.CreateListenerOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if err := e.f.begin("CreateListener"); err != nil {
		return nil, err
	}
	arn := aws.ToString(in.LoadBalancerArn)
	id := e.f.id("listener")
	e.f.listeners[arn] = append(e.f.listeners[arn], id)
	return &elb.CreateListenerOutput{Listeners: []elbtypes.Listener{{ListenerArn: aws.String(id)}}}, e.f.end()
}

func (e fakeELB) DescribeTags(_ context.Context, in *elb.DescribeTagsInput, _ ...func(*elb.Options)) (*elb.DescribeTagsOutput, error) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var out []elbtypes.TagDescription
	for _, arn := range in.ResourceArns {
		out = append(out, elbtypes.TagDescription{ResourceArn: aws.String(arn), Tags: e.f.elbTags[arn]})
	}
	return &elb.DescribeTagsOutput{TagDescriptions: out}, nil
}

// IAM -------------------------------------------------------------------------

type fakeIAM struct{ f *fakeCloud }

func (i fakeIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	r, ok := i.f.roles[aws.ToString(in.RoleName)]
	if !ok {
		return nil, notFound("NoSuchEntity")
	}
	return &iam.GetRoleOutput{Role: r}, nil
}

func (i fakeIAM) CreateRole(_ context.Context, in *iam.CreateRoleInput, _ ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("CreateRole"); err != nil {
		return nil, err
	}
	r := &iamtypes.Role{RoleName: in.RoleName, Arn: aws.String("arn:role/" + aws.ToString(in.RoleName)), Tags: in.Tags}
	i.f.roles[aws.ToString(in.RoleName)] = r
	return &iam.CreateRoleOutput{Role: r}, i.f.end()
}

func (i fakeIAM) DeleteRole(_ context.Context, in *iam.DeleteRoleInput, _ ...func(*iam.Options)) (*iam.DeleteRoleOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("DeleteRole"); err != nil {
		return nil, err
	}
	delete(i.f.roles, aws.ToString(in.RoleName))
	return &iam.DeleteRoleOutput{}, i.f.end()
}

func (i fakeIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	doc, ok := i.f.policies[aws.ToString(in.RoleName)+"/"+aws.ToString(in.PolicyName)]
	if !ok {
		return nil, notFound("NoSuchEntity")
	}
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String(doc)}, nil
}

func (i fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("PutRolePolicy"); err != nil {
		return nil, err
	}
	if _, ok := i.f.roles[aws.ToString(in.RoleName)]; !ok {
		return nil, notFound("NoSuchEntity")
	}
	i.f.policies[aws.ToString(in.RoleName)+"/"+aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
	return &iam.PutRolePolicyOutput{}, i.f.end()
}

func (i fakeIAM) DeleteRolePolicy(_ context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("DeleteRolePolicy"); err != nil {
		return nil, err
	}
	delete(i.f.policies, aws.ToString(in.RoleName)+"/"+aws.ToString(in.PolicyName))
	return &iam.DeleteRolePolicyOutput{}, i.f.end()
}

func (i fakeIAM) GetInstanceProfile(_ context.Context, in *iam.GetInstanceProfileInput, _ ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	p, ok := i.f.profiles[aws.ToString(in.InstanceProfileName)]
	if !ok {
		return nil, notFound("NoSuchEntity")
	}
	c := *p
	c.Roles = append([]iamtypes.Role{}, p.Roles...)
	return &iam.GetInstanceProfileOutput{InstanceProfile: &c}, nil
}

func (i fakeIAM) CreateInstanceProfile(_ context.Context, in *iam.CreateInstanceProfileInput, _ ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("CreateInstanceProfile"); err != nil {
		return nil, err
	}
	p := &iamtypes.InstanceProfile{InstanceProfileName: in.InstanceProfileName, Arn: aws.String("arn:profile/" + aws.ToString(in.InstanceProfileName)), Tags: in.Tags}
	i.f.profiles[aws.ToString(in.InstanceProfileName)] = p
	return &iam.CreateInstanceProfileOutput{InstanceProfile: p}, i.f.end()
}

func (i fakeIAM) DeleteInstanceProfile(_ context.Context, in *iam.DeleteInstanceProfileInput, _ ...func(*iam.Options)) (*iam.DeleteInstanceProfileOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("DeleteInstanceProfile"); err != nil {
		return nil, err
	}
	delete(i.f.profiles, aws.ToString(in.InstanceProfileName))
	return &iam.DeleteInstanceProfileOutput{}, i.f.end()
}

func (i fakeIAM) AddRoleToInstanceProfile(_ context.Context, in *iam.AddRoleToInstanceProfileInput, _ ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("AddRoleToInstanceProfile"); err != nil {
		return nil, err
	}
	p := i.f.profiles[aws.ToString(in.InstanceProfileName)]
	if len(p.Roles) > 0 {
		return nil, &smithy.GenericAPIError{Code: "LimitExceeded"}
	}
	p.Roles = append(p.Roles, iamtypes.Role{RoleName: in.RoleName})
	return &iam.AddRoleToInstanceProfileOutput{}, i.f.end()
}

func (i fakeIAM) RemoveRoleFromInstanceProfile(_ context.Context, in *iam.RemoveRoleFromInstanceProfileInput, _ ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if err := i.f.begin("RemoveRoleFromInstanceProfile"); err != nil {
		return nil, err
	}
	i.f.profiles[aws.ToString(in.InstanceProfileName)].Roles = nil
	return &iam.RemoveRoleFromInstanceProfileOutput{}, i.f.end()
}

// S3, SSM ---------------------------------------------------------------------

type fakeS3 struct{ f *fakeCloud }

func (s fakeS3) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.buckets[aws.ToString(in.Bucket)]; !ok {
		return nil, notFound("NotFound")
	}
	return &s3.HeadBucketOutput{}, nil
}

func (s fakeS3) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("CreateBucket"); err != nil {
		return nil, err
	}
	if _, ok := s.f.buckets[aws.ToString(in.Bucket)]; ok {
		return nil, &smithy.GenericAPIError{Code: "BucketAlreadyOwnedByYou"}
	}
	s.f.buckets[aws.ToString(in.Bucket)] = nil
	return &s3.CreateBucketOutput{}, s.f.end()
}

func (s fakeS3) PutBucketTagging(_ context.Context, in *s3.PutBucketTaggingInput, _ ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("PutBucketTagging"); err != nil {
		return nil, err
	}
	s.f.buckets[aws.ToString(in.Bucket)] = in.Tagging.TagSet
	return &s3.PutBucketTaggingOutput{}, s.f.end()
}

func (s fakeS3) GetBucketTagging(_ context.Context, in *s3.GetBucketTaggingInput, _ ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	tags, ok := s.f.buckets[aws.ToString(in.Bucket)]
	if !ok {
		return nil, notFound("NoSuchBucket")
	}
	return &s3.GetBucketTaggingOutput{TagSet: tags}, nil
}

func (s fakeS3) DeleteBucket(_ context.Context, in *s3.DeleteBucketInput, _ ...func(*s3.Options)) (*s3.DeleteBucketOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("DeleteBucket"); err != nil {
		return nil, err
	}
	delete(s.f.buckets, aws.ToString(in.Bucket))
	return &s3.DeleteBucketOutput{}, s.f.end()
}

func (s fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if !s.f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] {
		return nil, notFound("NotFound")
	}
	return &s3.HeadObjectOutput{}, nil
}

func (s fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("PutObject"); err != nil {
		return nil, err
	}
	s.f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = true
	return &s3.PutObjectOutput{}, s.f.end()
}

func (s fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	var out []s3types.Object
	for k := range s.f.objects {
		if b, key, _ := strings.Cut(k, "/"); b == aws.ToString(in.Bucket) {
			out = append(out, s3types.Object{Key: aws.String(key)})
		}
	}
	return &s3.ListObjectsV2Output{Contents: out}, nil
}

func (s fakeS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("DeleteObject"); err != nil {
		return nil, err
	}
	delete(s.f.objects, aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, s.f.end()
}

type fakeSSM struct{ f *fakeCloud }

func (s fakeSSM) GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String("ami-al2023")}}, nil
}

func (s fakeSSM) SendCommand(context.Context, *ssm.SendCommandInput, ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.begin("SendCommand"); err != nil {
		return nil, err
	}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(s.f.id("cmd"))}}, s.f.end()
}

func (s fakeSSM) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusSuccess}, nil
}

var (
	_ EC2API        = (*fakeCloud)(nil)
	_ ELBAPI        = fakeELB{}
	_ IAMAPI        = fakeIAM{}
	_ S3API         = fakeS3{}
	_ SSMAPI        = fakeSSM{}
	_ STSAPI        = (*fakeCloud)(nil)
	_ CloudWatchAPI = (*fakeCloud)(nil)
)

// inventory lists what the fake holds, by name, with generated IDs masked:
// two clouds built the same way compare equal, and a duplicate shows.
func (f *fakeCloud) inventory() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	add := func(s string) { out = append(out, fakeIDs.ReplaceAllString(s, "$1-*")) }
	for name, t := range f.tables {
		add("table " + name + " ttl " + t.ttlAttr + " " + string(t.ttlStatus))
	}
	for _, g := range f.sgs {
		add("sg " + tagValue(g.Tags, TagName))
		for _, r := range flatten(g.IpPermissions) {
			add("sg-in " + tagValue(g.Tags, TagName) + " " + r.String())
		}
		for _, r := range flatten(g.IpPermissionsEgress) {
			add("sg-out " + tagValue(g.Tags, TagName) + " " + r.String())
		}
	}
	for _, i := range f.instances {
		if i.State.Name != ec2types.InstanceStateNameTerminated {
			add("instance " + tagValue(i.Tags, TagName) + " version=" + tagValue(i.Tags, TagProbeVersion))
		}
	}
	for _, s := range f.services {
		add("service " + tagValue(s.Tags, TagName))
	}
	for _, e := range f.endpoints {
		add("endpoint " + tagValue(e.Tags, TagName))
	}
	for _, t := range f.rts {
		add("rt " + tagValue(t.Tags, TagName))
		for _, a := range t.Associations {
			add("assoc " + aws.ToString(a.GatewayId))
		}
		for _, r := range t.Routes {
			add("route " + aws.ToString(r.DestinationCidrBlock))
		}
	}
	for _, t := range f.targets {
		add("target " + tagValue(t.Tags, TagName))
	}
	for _, t := range f.filters {
		add("filter " + tagValue(t.Tags, TagName))
	}
	for _, r := range f.rules {
		add(fmt.Sprintf("rule %s %d", r.TrafficDirection, aws.ToInt32(r.RuleNumber)))
	}
	for _, s := range f.sessions {
		add(fmt.Sprintf("session %s #%d", tagValue(s.Tags, TagName), aws.ToInt32(s.SessionNumber)))
	}
	for arn, g := range f.tgs {
		add("tg " + aws.ToString(g.TargetGroupName))
		for range f.members[arn] {
			add("member " + aws.ToString(g.TargetGroupName))
		}
	}
	for arn, l := range f.lbs {
		add("lb " + aws.ToString(l.LoadBalancerName))
		for range f.listeners[arn] {
			add("listener " + aws.ToString(l.LoadBalancerName))
		}
		for _, t := range f.elbTags[arn] {
			if aws.ToString(t.Key) == "fake:cross-zone" {
				add("cross-zone " + aws.ToString(l.LoadBalancerName))
			}
		}
	}
	for n := range f.roles {
		add("role " + n)
	}
	for n := range f.policies {
		add("policy " + n)
	}
	for n, p := range f.profiles {
		add(fmt.Sprintf("profile %s roles=%d", n, len(p.Roles)))
	}
	for b := range f.buckets {
		add("bucket " + b)
	}
	for o := range f.objects {
		add("object " + o)
	}
	sort.Strings(out)
	return out
}

var fakeIDs = regexp.MustCompile(`\b(eni|i|sg|tmt|tmf|vpce|rtb)-[0-9]+\b`)

func fakeDeployer(t interface{ Fatal(...any) }, f *fakeCloud, bin, unit string) *Deployer {
	cfg := Config{Region: "us-east-1", VPCID: "vpc-1", VPCCIDR: netip.MustParsePrefix("10.0.0.0/16"), VGWID: "vgw-1",
		OnPremCIDRs:     []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")},
		WorkloadSubnets: []string{"subnet-a1", "subnet-b1"}, GWLBESubnets: []string{"subnet-a2", "subnet-b2"},
		BusinessCIDRs:         []netip.Prefix{netip.MustParsePrefix("10.0.21.0/24"), netip.MustParsePrefix("10.0.22.0/24")},
		AdminCIDR:             netip.MustParsePrefix("203.0.113.0/24"),
		ApplianceInstanceType: "c6g.large", ProbeInstanceType: "c6gn.2xlarge", MirrorVNI: 12345, ProjectTag: "fk", ProbeHealthPort: 9100,
		LinkBPS: 100e6, ProbeBinary: bin, ProbeUnit: unit, ApplianceBinary: bin, ApplianceUnit: unit}
	d, err := New(cfg, f.clients(), Options{PollInterval: 1, WaitTimeout: 1e10})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFakeInterruptedApplyConverges: for any mutating call of an apply,
// failed before it reaches AWS or after AWS did it, a second apply
// converges to the same resources as an uninterrupted apply, with no
// duplicate, and a third apply makes no mutating call. Destroy then
// leaves nothing.
func TestFakeInterruptedApplyConverges(t *testing.T) {
	dir := t.TempDir()
	bin, unit := filepath.Join(dir, "dxprobe"), filepath.Join(dir, "dxprobe.service")
	if err := os.WriteFile(bin, elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("ExecStart=/usr/local/bin/dxprobe -metrics :${PROBE_HEALTH_PORT}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := newFakeCloud()
	if err := fakeDeployer(t, ref, bin, unit).Apply(ctx); err != nil {
		t.Fatalf("reference apply: %v", err)
	}
	want, total := ref.inventory(), len(ref.mutations)

	rapid.Check(t, func(rt *rapid.T) {
		f := newFakeCloud()
		d := fakeDeployer(rt, f, bin, unit)
		f.failAt = rapid.IntRange(1, total).Draw(rt, "failAt")
		f.after = rapid.Bool().Draw(rt, "afterCall")
		if err := d.Apply(ctx); !errors.Is(err, errFakeInterrupted) {
			rt.Fatalf("interrupted apply: %v", err)
		}
		op := f.mutations[f.failAt-1]
		f.failAt = 0
		if err := d.Apply(ctx); err != nil {
			rt.Fatalf("apply after interrupting %s: %v", op, err)
		}
		if diff := cmp.Diff(want, f.inventory()); diff != "" {
			rt.Fatalf("after interrupting call %d (%s, after=%v) (-want +got):\n%s", f.failAt, op, f.after, diff)
		}
		n := len(f.mutations)
		if err := d.Apply(ctx); err != nil || len(f.mutations) != n {
			rt.Fatalf("third apply after interrupting %s: %v, mutations %v", op, err, f.mutations[n:])
		}
		plan, err := d.Plan(ctx)
		if err != nil || len(f.mutations) != n {
			rt.Fatalf("plan: %v, mutations %v", err, f.mutations[n:])
		}
		for _, e := range plan {
			if e.Action != Exists && e.Action != Skipped && e.Action != Info {
				rt.Fatalf("plan after convergence: %v", e)
			}
		}
		if err := d.Destroy(ctx); err != nil {
			rt.Fatalf("destroy: %v", err)
		}
		if left := f.inventory(); len(left) != 0 {
			rt.Fatalf("left after destroy: %v", left)
		}
	})
}
