package fabric_test

import (
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
)

// TestShadowRoutes: only routes inside an on-premises CIDR, with a longer
// prefix, and not through the endpoint shadow it.
func TestShadowRoutes(t *testing.T) {
	onprem := []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}
	route := func(cidr, gw string, origin ec2types.RouteOrigin) ec2types.Route {
		return ec2types.Route{DestinationCidrBlock: aws.String(cidr), GatewayId: aws.String(gw), Origin: origin}
	}
	table := ec2types.RouteTable{RouteTableId: aws.String("rtb-1"), Routes: []ec2types.Route{
		route("10.0.0.0/16", "local", ec2types.RouteOriginCreateRouteTable),
		route("0.0.0.0/0", "igw-1", ec2types.RouteOriginCreateRoute),                            // less specific
		route("172.16.0.0/12", "vpce-1", ec2types.RouteOriginCreateRoute),                       // the return route
		route("172.16.0.0/12", "vgw-1", ec2types.RouteOriginEnableVgwRoutePropagation),          // same prefix: the static route wins
		route("172.16.8.0/21", "vpce-1", ec2types.RouteOriginCreateRoute),                       // through the endpoint
		route("172.31.4.0/24", "vgw-1", ec2types.RouteOriginEnableVgwRoutePropagation),          // shadows
		route("192.168.1.128/25", "tgw-1", ec2types.RouteOriginCreateRoute),                     // shadows
		route("172.32.0.0/24", "vgw-1", ec2types.RouteOriginEnableVgwRoutePropagation),          // outside
		{DestinationIpv6CidrBlock: aws.String("2001:db8::/32"), GatewayId: aws.String("vgw-1")}, // IPv6
	}}
	got := fabric.ShadowRoutes(table, "10.0.21.0/24", onprem, "vpce-1")
	want := []fabric.ShadowRoute{
		{RouteTable: "rtb-1", Business: "10.0.21.0/24", Destination: "172.31.4.0/24", Target: "vgw-1", Origin: "EnableVgwRoutePropagation", OnPrem: "172.16.0.0/12"},
		{RouteTable: "rtb-1", Business: "10.0.21.0/24", Destination: "192.168.1.128/25", Target: "tgw-1", Origin: "CreateRoute", OnPrem: "192.168.0.0/16"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ShadowRoutes (-want +got):\n%s", diff)
	}
}
