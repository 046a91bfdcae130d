package fabric_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/dxmon/dxmon/fabric"
)

// TestMotoShadowRoutes: a business subnet's route more specific than an
// on-premises CIDR and not through the GWLB endpoint — propagated from the
// VGW (the proxy models propagation, which moto lacks) or static — makes
// plan warn and verify fail, naming the table, the prefix and its origin; a
// propagated route equal to the on-premises CIDR (the static return route
// wins it) and a more specific route through the endpoint do not; once
// they are gone verify passes.
func TestMotoShadowRoutes(t *testing.T) {
	g := newGuardWorld(t)
	ctx := context.Background()
	tableOf := func(subnet string) string {
		out, err := g.ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
			{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
		if err != nil || len(out.RouteTables) != 1 {
			t.Fatalf("route table of %s: %v", subnet, err)
		}
		return aws.ToString(out.RouteTables[0].RouteTableId)
	}
	ta, tb := tableOf(g.ba), tableOf(g.bb)
	if _, err := g.ec.EnableVgwRoutePropagation(ctx, &ec2.EnableVgwRoutePropagationInput{RouteTableId: aws.String(ta), GatewayId: aws.String(g.vgw)}); err != nil {
		t.Fatalf("enable propagation: %v", err)
	}
	g.proxy.AdvertiseVGWRoutes(g.vgw, "172.16.5.0/24", "192.168.0.0/16")
	for _, r := range []struct{ table, cidr, gw, vpce string }{
		{tb, "192.168.10.0/24", g.vgw, ""}, // static, past the appliances
		{ta, "172.16.9.0/24", "", g.ea},    // more specific, but through the endpoint
	} {
		in := &ec2.CreateRouteInput{RouteTableId: aws.String(r.table), DestinationCidrBlock: aws.String(r.cidr)}
		if r.gw != "" {
			in.GatewayId = aws.String(r.gw)
		} else {
			in.VpcEndpointId = aws.String(r.vpce)
		}
		if _, err := g.ec.CreateRoute(ctx, in); err != nil {
			t.Fatalf("route %s: %v", r.cidr, err)
		}
	}

	var events []fabric.Event
	d := shortWait(t, g.kv, g.cfg, &events, 30*time.Second)
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, e := range events {
		if e.Kind == "shadow-route" && e.Action == fabric.Warning {
			warned = append(warned, e.Detail)
		}
	}
	if len(warned) != 2 || !strings.Contains(strings.Join(warned, "\n"), ta+" (business subnet 10.0.21.0/24): route 172.16.5.0/24 → "+g.vgw+", propagated from the VGW (BGP), is more specific than on-premises 172.16.0.0/12") ||
		!strings.Contains(strings.Join(warned, "\n"), tb+" (business subnet 10.0.22.0/24): route 192.168.10.0/24 → "+g.vgw+", static, is more specific than on-premises 192.168.0.0/16") {
		t.Errorf("plan's warnings: %q", warned)
	}
	checks, err := d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := checks[1].String()
	if checks[1].OK || strings.Count(s, "sends its replies past the appliances") != 2 || !strings.Contains(s, "172.16.5.0/24") || !strings.Contains(s, "192.168.10.0/24") {
		t.Errorf("verify with shadowing routes: %s", s)
	}

	g.proxy.AdvertiseVGWRoutes(g.vgw, "192.168.0.0/16")
	if _, err := g.ec.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(tb), DestinationCidrBlock: aws.String("192.168.10.0/24")}); err != nil {
		t.Fatal(err)
	}
	if checks, err = d.Verify(ctx); err != nil || !checks[1].OK {
		t.Errorf("verify without shadowing routes: %v %s", err, checks[1])
	}
}
