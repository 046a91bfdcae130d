package fabric

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Return routes (RETURN_ROUTES=true): each business subnet's route table
// sends every on-prem CIDR to the GWLB endpoint of the subnet's own AZ,
// the same endpoint the VGW's ingress route uses for that subnet, so both
// directions of a flow pass the same appliance. AWS's GWLB designs route
// the return direction through the endpoint of the same AZ "to maintain
// flow symmetry" ("Distributed Inspection Route Tables", Distributed
// Inspection Architectures with Gateway Load Balancer, AWS reference
// architecture diagrams). Without them the replies go from the business
// subnet straight to the VGW and the probes see one direction only.
//
// fabric changes only a business subnet's own (explicitly associated)
// route table, never the VPC's main table; it creates the route, or
// replaces an existing static route to the VGW; any other next hop is left
// alone and reported. The GWLB endpoint subnets' tables must still route
// the on-prem CIDRs to the VGW (propagation or static), for the traffic
// the endpoints hand back.
//
// destroyReturnRoutes undoes them: a route to one of this project's GWLB
// endpoints in any route table of the VPC but the VGW's ingress table is
// deleted where the table propagates the VGW's routes, and otherwise
// pointed back at the VGW.

// returnRouteTables returns, for each business CIDR, its subnet's own route
// table, or an error naming a subnet that has none.
func (r *run) returnRouteTables(ctx context.Context) (map[string]ec2types.RouteTable, error) {
	d := r.d
	var cidrs []string
	for _, c := range d.cfg.BusinessCIDRs {
		cidrs = append(cidrs, c.String())
	}
	subs, err := d.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}, {Name: aws.String("cidr-block"), Values: cidrs}}})
	if err != nil {
		return nil, r.fail("subnets", "BUSINESS_SUBNET_CIDRS", err)
	}
	out := map[string]ec2types.RouteTable{}
	for _, s := range subs.Subnets {
		sid, cidr := aws.ToString(s.SubnetId), aws.ToString(s.CidrBlock)
		rts, err := d.c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
			{Name: aws.String("association.subnet-id"), Values: []string{sid}}}})
		if err != nil {
			return nil, r.fail("route-table", sid, err)
		}
		if len(rts.RouteTables) == 0 {
			return nil, r.fail("return-route", cidr, fmt.Errorf("RETURN_ROUTES: business subnet %s (%s) uses the VPC's main route table; give it its own route table first (fabric never changes the main table)", sid, cidr))
		}
		out[cidr] = rts.RouteTables[0]
	}
	for _, c := range cidrs {
		if _, ok := out[c]; !ok {
			return nil, r.fail("return-route", c, fmt.Errorf("BUSINESS_SUBNET_CIDRS: %s is the CIDR of no subnet of %s", c, d.cfg.VPCID))
		}
	}
	return out, nil
}

// staticRoute returns the static (not propagated) route to cidr in a table.
func staticRoute(t ec2types.RouteTable, cidr string) *ec2types.Route {
	for i, rte := range t.Routes {
		if aws.ToString(rte.DestinationCidrBlock) == cidr && rte.Origin != ec2types.RouteOriginEnableVgwRoutePropagation {
			return &t.Routes[i]
		}
	}
	return nil
}

// ensureReturnRoutes is stage 03's optional part. routes maps each business
// CIDR to the GWLB endpoint subnet of its AZ, endpoints each such subnet to
// its endpoint's ID.
func (r *run) ensureReturnRoutes(ctx context.Context, routes, endpoints map[string]string) error {
	d := r.d
	if !d.cfg.ReturnRoutes {
		r.event("return-route", "*", "", Skipped, "RETURN_ROUTES off: replies to on-premises leave the business subnets straight for the VGW; the probes see one direction of each flow")
		return nil
	}
	tables, err := r.returnRouteTables(ctx)
	if err != nil {
		return err
	}
	// Our own GWLB endpoints, the current and any other still existing: a
	// return route to one that GWLBE_SUBNETS no longer names is ours to
	// move to the endpoint of its AZ now.
	eps, err := d.endpointsNotGone(ctx, "gwlbe")
	if err != nil {
		return r.fail("return-route", "*", err)
	}
	ours := map[string]bool{}
	for _, e := range eps {
		ours[aws.ToString(e.VpcEndpointId)] = true
	}
	var cidrs []string
	for c := range tables {
		cidrs = append(cidrs, c)
	}
	sort.Strings(cidrs)
	for _, bc := range cidrs {
		t := tables[bc]
		tid := aws.ToString(t.RouteTableId)
		want := endpoints[routes[bc]]
		if err := r.tagReturnTable(ctx, t); err != nil { // the guard's grant (guardpolicy.go)
			return err
		}
		r.warnShadowRoutes(t, bc, want) // shadow.go
		for _, p := range d.cfg.OnPremCIDRs {
			cidr := p.String()
			name := tid + " " + cidr + " (from " + bc + ")"
			have := staticRoute(t, cidr)
			switch {
			case have != nil && aws.ToString(have.GatewayId) == want:
				r.event("return-route", name, want, Exists, "")
			case have != nil && (ours[aws.ToString(have.GatewayId)] || have.State == ec2types.RouteStateBlackhole):
				from := aws.ToString(have.GatewayId)
				err = r.change(ctx, "return-route", name, want, "replace next hop "+from+" (an endpoint of ours GWLBE_SUBNETS no longer names, or gone)", func(ctx context.Context) error {
					_, err := d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(cidr), VpcEndpointId: aws.String(want)})
					return err
				})
			case have != nil && aws.ToString(have.GatewayId) == d.cfg.VGWID:
				err = r.change(ctx, "return-route", name, want, "replace next hop "+d.cfg.VGWID+" (destroy restores it)", func(ctx context.Context) error {
					_, err := d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(cidr), VpcEndpointId: aws.String(want)})
					return err
				})
			case have != nil:
				err = r.fail("return-route", name, fmt.Errorf("RETURN_ROUTES: %s already routes %s to %s, neither the VGW nor the GWLB endpoint: left alone; remove that route or set RETURN_ROUTES=false",
					tid, cidr, routeTarget(*have)))
			default:
				_, err = r.ensure(ctx, "return-route", name, func(context.Context) (string, error) { return "", nil }, func(ctx context.Context) (string, error) {
					_, err := d.c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(cidr), VpcEndpointId: aws.String(want)})
					if errorCode(err) == "RouteAlreadyExists" {
						err = nil
					}
					return want, err
				})
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// routeTarget names a route's next hop.
func routeTarget(rte ec2types.Route) string {
	for _, s := range []*string{rte.GatewayId, rte.TransitGatewayId, rte.NatGatewayId, rte.NetworkInterfaceId, rte.VpcPeeringConnectionId, rte.InstanceId} {
		if aws.ToString(s) != "" {
			return aws.ToString(s)
		}
	}
	return "(unknown next hop)"
}

// checkReturnRoutes adds verify's problems with the return routes.
func (r *run) checkReturnRoutes(ctx context.Context, c *checker, routes map[string]string) {
	d := r.d
	tables, err := r.returnRouteTables(ctx)
	if err != nil {
		c.problem("%v", err)
		return
	}
	for bc, t := range tables {
		e, err := d.findEndpoint(ctx, routes[bc])
		if err != nil || e == nil {
			c.found("gwlb endpoint "+d.endpointName(routes[bc]), "", err)
			continue
		}
		for _, p := range d.cfg.OnPremCIDRs {
			have := staticRoute(t, p.String())
			if have == nil || aws.ToString(have.GatewayId) != aws.ToString(e.VpcEndpointId) || have.State == ec2types.RouteStateBlackhole {
				c.problem("no active return route %s %s → %s", aws.ToString(t.RouteTableId), p, aws.ToString(e.VpcEndpointId))
			}
		}
	}
}

// destroyReturnRoutes removes every route to this project's GWLB endpoints
// outside the VGW's ingress table (see the top of this file).
func (r *run) destroyReturnRoutes(ctx context.Context) error {
	d := r.d
	eps, err := d.c.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: d.byRole("gwlbe")})
	if err != nil {
		return r.fail("gwlb-endpoint", "*", err)
	}
	ours := map[string]bool{}
	for _, e := range eps.VpcEndpoints {
		ours[aws.ToString(e.VpcEndpointId)] = true
	}
	if len(ours) == 0 {
		return nil
	}
	rts, err := d.c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}}})
	if err != nil {
		return r.fail("route-table", "*", err)
	}
	for _, t := range rts.RouteTables {
		if tagValue(t.Tags, TagName) == d.routeTableName() && tagValue(t.Tags, TagProject) == d.cfg.ProjectTag {
			continue // the ingress table goes whole
		}
		if err := r.untagReturnTable(ctx, t); err != nil { // guardpolicy.go
			return err
		}
		tid := aws.ToString(t.RouteTableId)
		propagates := false
		for _, v := range t.PropagatingVgws {
			propagates = propagates || aws.ToString(v.GatewayId) == d.cfg.VGWID
		}
		for _, rte := range t.Routes {
			cidr := aws.ToString(rte.DestinationCidrBlock)
			if cidr == "" || !ours[aws.ToString(rte.GatewayId)] {
				continue
			}
			name := tid + " " + cidr
			if propagates {
				if err := r.remove(ctx, "return-route", name, aws.ToString(rte.GatewayId), func(ctx context.Context) error {
					_, err := d.c.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(cidr)})
					return err
				}); err != nil {
					return err
				}
				continue
			}
			if _, err := d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(cidr),
				GatewayId: aws.String(d.cfg.VGWID)}); err != nil && !isNotFound(err) {
				return r.fail("return-route", name, fmt.Errorf("next hop back to %s: %w", d.cfg.VGWID, err))
			}
			r.event("return-route", name, aws.ToString(rte.GatewayId), Deleted, "next hop back to "+d.cfg.VGWID)
		}
	}
	return nil
}
