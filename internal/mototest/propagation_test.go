package mototest_test

import (
	"context"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestProxyRoutePropagation: a route table that propagates a VGW lists it
// in PropagatingVgws and lists the prefixes the VGW learned as routes to it
// with Origin EnableVgwRoutePropagation, beside a static route to the same
// destination; other tables do not; disabling propagation removes them.
func TestProxyRoutePropagation(t *testing.T) {
	t.Parallel()
	p := mototest.SharedProxy(t)
	ctx := context.Background()
	ec := ec2.NewFromConfig(p.Config(t))
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vgw, err := ec.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1})
	if err != nil {
		t.Fatal(err)
	}
	gw := aws.ToString(vgw.VpnGateway.VpnGatewayId)
	var tables []string
	for i := 0; i < 2; i++ {
		rt, err := ec.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.Vpc.VpcId})
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, aws.ToString(rt.RouteTable.RouteTableId))
	}
	if _, err := ec.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(tables[0]), DestinationCidrBlock: aws.String("172.16.0.0/12"),
		GatewayId: aws.String(gw)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.EnableVgwRoutePropagation(ctx, &ec2.EnableVgwRoutePropagationInput{RouteTableId: aws.String(tables[0]), GatewayId: aws.String(gw)}); err != nil {
		t.Fatal(err)
	}
	p.AdvertiseVGWRoutes(gw, "172.16.0.0/12", "172.16.5.0/24")
	routes := func(id string) ([]string, []string) {
		out, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{id}})
		if err != nil || len(out.RouteTables) != 1 {
			t.Fatalf("describe %s: %v", id, err)
		}
		var rs, vgws []string
		for _, r := range out.RouteTables[0].Routes {
			rs = append(rs, aws.ToString(r.DestinationCidrBlock)+" "+aws.ToString(r.GatewayId)+" "+string(r.Origin))
		}
		for _, v := range out.RouteTables[0].PropagatingVgws {
			vgws = append(vgws, aws.ToString(v.GatewayId))
		}
		sort.Strings(rs)
		return rs, vgws
	}
	rs, vgws := routes(tables[0])
	want := []string{"10.0.0.0/16 local CreateRouteTable", "172.16.0.0/12 " + gw + " CreateRoute",
		"172.16.0.0/12 " + gw + " EnableVgwRoutePropagation", "172.16.5.0/24 " + gw + " EnableVgwRoutePropagation"}
	if diff := cmp.Diff(want, rs); diff != "" || len(vgws) != 1 || vgws[0] != gw {
		t.Errorf("propagating table (-want +got):\n%s\npropagating VGWs %v", diff, vgws)
	}
	if rs, vgws := routes(tables[1]); len(rs) != 1 || len(vgws) != 0 {
		t.Errorf("table without propagation: %v %v", rs, vgws)
	}
	if _, err := ec.DisableVgwRoutePropagation(ctx, &ec2.DisableVgwRoutePropagationInput{RouteTableId: aws.String(tables[0]), GatewayId: aws.String(gw)}); err != nil {
		t.Fatal(err)
	}
	if rs, vgws := routes(tables[0]); len(rs) != 2 || len(vgws) != 0 {
		t.Errorf("after disabling propagation: %v %v", rs, vgws)
	}
}
