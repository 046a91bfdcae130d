package fabric_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/dxmon/dxmon/fabric"
)

// TestMotoDestroyWaitsForEndpoints (issue 17 item 6): an endpoint service
// cannot be deleted while it has endpoints, and AWS says so in the
// Unsuccessful list of a 200 answer, not with an error; endpoints go
// through "deleting" (the proxy models both, after the EC2 API
// Reference). A destroy interrupted right after it deleted one endpoint
// leaves it deleting; the next destroy must wait for every endpoint to be
// gone, delete the service for real, and only then the GWLB.
func TestMotoDestroyWaitsForEndpoints(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := shortWait(t, w.kv, cfg, nil, 30e9)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageGWLB); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ec := ec2.NewFromConfig(cfg)
	eps, err := ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:dxmon:role"), Values: []string{"gwlbe"}}}})
	if err != nil || len(eps.VpcEndpoints) != 2 {
		t.Fatalf("endpoints: %v, %v", eps, err)
	}
	// The interrupted destroy.
	if _, err := ec.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{aws.ToString(eps.VpcEndpoints[0].VpcEndpointId)}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	svcs, err := ec.DescribeVpcEndpointServiceConfigurations(ctx, &ec2.DescribeVpcEndpointServiceConfigurationsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.ServiceConfigurations {
		if !strings.EqualFold(string(s.ServiceState), "deleted") {
			t.Errorf("endpoint service %s left %s after destroy", aws.ToString(s.ServiceId), s.ServiceState)
		}
	}
	if _, err := elb.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"dxtest-gwlb"}}); err == nil {
		t.Error("GWLB left after destroy")
	}
}

// TestMotoGWLBESubnetsPerAZ (issue 17 item 6): GWLBE_SUBNETS must give one
// subnet per AZ, each in an AZ the GWLB covers (WORKLOAD_SUBNETS'); stage
// 00 says which, before anything is written.
func TestMotoGWLBESubnetsPerAZ(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	base := makeWorld(t, cfg).kv
	ec := ec2.NewFromConfig(cfg)
	sub := func(cidr, az string) string {
		out, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(base["VPC_ID"]), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	twin, elsewhere := sub("10.0.13.0/24", "us-east-1a"), sub("10.0.14.0/24", "us-east-1c")
	for name, c := range map[string]struct{ extra, want string }{
		"two in one AZ":   {twin, "are both in us-east-1a; give one subnet per AZ"},
		"AZ without GWLB": {elsewhere, "GWLBE_SUBNETS: " + elsewhere + " is in us-east-1c, where the GWLB has no subnet (WORKLOAD_SUBNETS cover us-east-1a, us-east-1b)"},
	} {
		t.Run(name, func(t *testing.T) {
			calls.reset(0, false)
			err := newDeployer(t, withKV(base, "GWLBE_SUBNETS", base["GWLBE_SUBNETS"]+","+c.extra), cfg, nil).Apply(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "stage 00") {
				t.Fatalf("apply: err = %v, want %q", err, c.want)
			}
			if m := calls.list(); len(m) != 0 {
				t.Errorf("mutating calls: %v", m)
			}
		})
	}
}
