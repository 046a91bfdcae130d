package fabric

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func (d *Deployer) routeTableName() string { return d.name("vgw-ingress") }

func (d *Deployer) findRouteTable(ctx context.Context) (*ec2types.RouteTable, error) {
	out, err := d.c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: append(d.byName(d.routeTableName()), ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}})})
	if err != nil {
		return nil, err
	}
	for _, t := range out.RouteTables {
		if d.owns(t.Tags, d.routeTableName()) {
			return &t, nil
		}
	}
	return nil, nil
}

// businessRoutes maps each business CIDR to the GWLB endpoint subnet of the
// same AZ: the subnet whose CIDR the business CIDR is, in the VPC.
func (r *run) businessRoutes(ctx context.Context) (map[string]string, error) {
	d := r.d
	byAZ := map[string]string{}
	for _, s := range d.cfg.GWLBESubnets {
		if _, ok := byAZ[r.env.subnetAZ[s]]; !ok {
			byAZ[r.env.subnetAZ[s]] = s
		}
	}
	var cidrs []string
	for _, c := range d.cfg.BusinessCIDRs {
		cidrs = append(cidrs, c.String())
	}
	out, err := d.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}, {Name: aws.String("cidr-block"), Values: cidrs}}})
	if err != nil {
		return nil, r.fail("subnets", "BUSINESS_SUBNET_CIDRS", err)
	}
	azOf := map[string]string{}
	for _, s := range out.Subnets {
		azOf[aws.ToString(s.CidrBlock)] = aws.ToString(s.AvailabilityZone)
	}
	routes := map[string]string{}
	for _, c := range cidrs {
		az, ok := azOf[c]
		if !ok {
			return nil, r.fail("route", c, fmt.Errorf("BUSINESS_SUBNET_CIDRS: %s is the CIDR of no subnet of %s", c, d.cfg.VPCID))
		}
		s, ok := byAZ[az]
		if !ok {
			return nil, r.fail("route", c, fmt.Errorf("GWLBE_SUBNETS: no subnet in %s, the AZ of business subnet %s", az, c))
		}
		routes[c] = s
	}
	return routes, nil
}

// stageRouting is stage 03: the VGW's ingress route table sends traffic for
// each business subnet to the GWLB endpoint in its AZ, and with
// RETURN_ROUTES each business subnet sends on-prem-bound traffic to the same
// endpoint. It changes the production path of on-premises traffic, so it
// runs only once every appliance is a healthy GWLB target (gateRouting).
func (r *run) stageRouting(ctx context.Context) error {
	d := r.d
	routes, err := r.businessRoutes(ctx)
	if err != nil {
		return err
	}
	if r.plan {
		r.failOpenNotice() // failopen.go
	}
	endpoints := map[string]string{}
	for _, s := range routes {
		endpoints[s], err = r.need(ctx, StageGWLB, "gwlb-endpoint", d.endpointName(s), func(ctx context.Context) (string, error) {
			e, err := d.findEndpoint(ctx, s)
			if e == nil || err != nil {
				return "", err
			}
			return aws.ToString(e.VpcEndpointId), nil
		})
		if err != nil {
			return err
		}
	}
	// Nothing below may change the production path before the
	// appliances answer (health.go).
	if err := r.gateRouting(ctx); err != nil {
		return err
	}
	name := d.routeTableName()
	var rt *ec2types.RouteTable
	id, err := r.ensure(ctx, "route-table", name, func(ctx context.Context) (string, error) {
		t, err := d.findRouteTable(ctx)
		if t == nil || err != nil {
			return "", err
		}
		rt = t
		return aws.ToString(t.RouteTableId), nil
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
			VpcId:             aws.String(d.cfg.VPCID),
			TagSpecifications: d.tagSpec(ec2types.ResourceTypeRouteTable, name, "vgw-ingress"),
		})
		if err != nil {
			return "", err
		}
		rt = out.RouteTable
		return aws.ToString(out.RouteTable.RouteTableId), nil
	})
	if err != nil {
		return err
	}
	if rt == nil {
		rt = &ec2types.RouteTable{}
	}

	// Edge association: one route table per gateway.
	assoc := ""
	for _, a := range rt.Associations {
		if aws.ToString(a.GatewayId) == d.cfg.VGWID {
			assoc = aws.ToString(a.RouteTableAssociationId)
		}
	}
	_, err = r.ensure(ctx, "edge-association", name+" "+d.cfg.VGWID, func(ctx context.Context) (string, error) { return assoc, nil },
		func(ctx context.Context) (string, error) {
			other, err := d.c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
				{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}}})
			if err != nil {
				return "", err
			}
			for _, t := range other.RouteTables {
				for _, a := range t.Associations {
					if aws.ToString(a.GatewayId) == d.cfg.VGWID && aws.ToString(t.RouteTableId) != id {
						return "", fmt.Errorf("VGW_ID %s is already edge-associated with %s", d.cfg.VGWID, aws.ToString(t.RouteTableId))
					}
				}
			}
			out, err := d.c.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), GatewayId: aws.String(d.cfg.VGWID)})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.AssociationId), nil
		})
	if err != nil {
		return err
	}

	have := map[string]string{}
	for _, rte := range rt.Routes {
		have[aws.ToString(rte.DestinationCidrBlock)] = aws.ToString(rte.GatewayId) // AWS reports a GWLB endpoint next hop as GatewayId
	}
	for _, c := range d.cfg.BusinessCIDRs {
		cidr := c.String()
		want := endpoints[routes[cidr]]
		got, ok := have[cidr]
		rname := name + " " + cidr
		switch {
		case ok && got == want:
			r.event("route", rname, want, Exists, "")
		case ok:
			err = r.change(ctx, "route", rname, want, "replace next hop "+got, func(ctx context.Context) error {
				_, err := d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(cidr), VpcEndpointId: aws.String(want)})
				return err
			})
		default:
			_, err = r.ensureWith(ctx, "route", rname, "→ "+displayID(want), func(context.Context) (string, error) { return "", nil }, func(ctx context.Context) (string, error) {
				_, err := d.c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(id), DestinationCidrBlock: aws.String(cidr), VpcEndpointId: aws.String(want)})
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
	return r.ensureReturnRoutes(ctx, routes, endpoints)
}
