package fabric

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Bypass and restore undo and redo exactly what stage 03 writes, one AZ at
// a time:
//
//   - the VGW's ingress route table (ours, tagged) holds one route per
//     business subnet CIDR to the GWLB endpoint of the subnet's AZ. Bypass
//     deletes it: the table's local route, which covers the whole VPC CIDR,
//     then delivers the VGW's traffic to the subnet directly ("Gateway
//     route tables", Amazon VPC User Guide: a gateway route table's routes
//     for a subnet CIDR are more specific than the local route, which
//     targets the VPC). Restore creates it again.
//   - with RETURN_ROUTES, each business subnet's own route table routes
//     every ONPREM_CIDRS to the same endpoint. Bypass points each such
//     static route back at the VGW (ReplaceRoute GatewayId=VGW_ID: a static
//     route to the VGW is the direct path whether or not the table also
//     propagates the VGW's routes, and it is what stage 03 replaced when
//     there was one). Restore points it at the endpoint again.
//
// Every write is conditional on what DescribeRouteTables shows and
// tolerates "already done" answers, so bypass, restore and any number of
// guards converge, and a run killed anywhere is completed by the next one.

// TagBypass on the VGW's ingress route table marks an operator's
// `dxdeploy bypass`: while it is there the guard keeps every AZ direct.
// `dxdeploy restore` removes it once the routes are back.
const TagBypass = "dxmon:bypass"

// azRoutes is what stage 03 routes in one AZ.
type azRoutes struct {
	az       string
	endpoint string   // the AZ's GWLB endpoint ID; "" when it has none
	business []string // business subnet CIDRs of the AZ, sorted
	tables   []ec2types.RouteTable
	tableOf  []string // the business CIDR of each of tables
}

// pathView is everything bypass, restore and the guard read of the routes.
type pathView struct {
	ingress *ec2types.RouteTable // nil before stage 03
	azs     []azRoutes           // sorted by AZ
}

// readPaths reads the ingress table, each business subnet's AZ, endpoint
// and (with RETURN_ROUTES) own route table. Business subnets that use the
// VPC's main table have no return routes to change (stage 03 refuses them).
func (d *Deployer) readPaths(ctx context.Context) (pathView, error) {
	var v pathView
	rt, err := d.findRouteTable(ctx)
	if err != nil {
		return v, fmt.Errorf("route table %s: %w", d.routeTableName(), err)
	}
	v.ingress = rt
	ids := append([]string{}, d.cfg.GWLBESubnets...)
	gw, err := d.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids})
	if err != nil {
		return v, fmt.Errorf("GWLBE_SUBNETS %v: %w", ids, err)
	}
	endpointSubnet := map[string]string{} // AZ → first GWLBE subnet, as stage 03 picks it
	for _, s := range d.cfg.GWLBESubnets {
		for _, g := range gw.Subnets {
			if aws.ToString(g.SubnetId) == s {
				if _, ok := endpointSubnet[aws.ToString(g.AvailabilityZone)]; !ok {
					endpointSubnet[aws.ToString(g.AvailabilityZone)] = s
				}
			}
		}
	}
	var cidrs []string
	for _, c := range d.cfg.BusinessCIDRs {
		cidrs = append(cidrs, c.String())
	}
	bs, err := d.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}, {Name: aws.String("cidr-block"), Values: cidrs}}})
	if err != nil {
		return v, fmt.Errorf("BUSINESS_SUBNET_CIDRS: %w", err)
	}
	byAZ := map[string]*azRoutes{}
	for _, s := range bs.Subnets {
		az := aws.ToString(s.AvailabilityZone)
		a := byAZ[az]
		if a == nil {
			a = &azRoutes{az: az}
			byAZ[az] = a
			if sub, ok := endpointSubnet[az]; ok {
				e, err := d.findEndpoint(ctx, sub)
				if err != nil {
					return v, fmt.Errorf("gwlb endpoint %s: %w", d.endpointName(sub), err)
				}
				if e != nil {
					a.endpoint = aws.ToString(e.VpcEndpointId)
				}
			}
		}
		a.business = append(a.business, aws.ToString(s.CidrBlock))
		if !d.cfg.ReturnRoutes {
			continue
		}
		rts, err := d.c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
			{Name: aws.String("association.subnet-id"), Values: []string{aws.ToString(s.SubnetId)}}}})
		if err != nil {
			return v, fmt.Errorf("route table of %s: %w", aws.ToString(s.SubnetId), err)
		}
		for _, t := range rts.RouteTables {
			a.tables = append(a.tables, t)
			a.tableOf = append(a.tableOf, aws.ToString(s.CidrBlock))
		}
	}
	for _, a := range byAZ {
		sort.Strings(a.business)
		v.azs = append(v.azs, *a)
	}
	sort.Slice(v.azs, func(i, j int) bool { return v.azs[i].az < v.azs[j].az })
	return v, nil
}

// held reports whether an operator's bypass holds the path direct.
func (v pathView) held() bool { return v.ingress != nil && tagValue(v.ingress.Tags, TagBypass) != "" }

// ingressTarget returns the next hop of the ingress route to cidr, or "".
func (v pathView) ingressTarget(cidr string) string {
	if v.ingress == nil {
		return ""
	}
	for _, r := range v.ingress.Routes {
		if aws.ToString(r.DestinationCidrBlock) == cidr {
			return routeTarget(r)
		}
	}
	return ""
}

// path says where an AZ's routes send traffic: every route stage 03 would
// write counts, inline when it points at the AZ's endpoint.
func (d *Deployer) path(v pathView, a azRoutes) GuardPath {
	in, all := 0, 0
	for _, c := range a.business {
		all++
		if a.endpoint != "" && v.ingressTarget(c) == a.endpoint {
			in++
		}
	}
	for _, t := range a.tables {
		for _, p := range d.cfg.OnPremCIDRs {
			all++
			if r := staticRoute(t, p.String()); r != nil && a.endpoint != "" && aws.ToString(r.GatewayId) == a.endpoint {
				in++
			}
		}
	}
	switch {
	case in == 0:
		return PathDirect
	case in == all:
		return PathInline
	}
	return PathMixed
}

// RouteChange is one route bypass or restore wrote (or, in a plan, would).
type RouteChange struct {
	AZ         string `json:"az"`
	RouteTable string `json:"route_table"`
	CIDR       string `json:"cidr"`
	From       string `json:"from"` // next hop before; "" when there was no route
	To         string `json:"to"`   // next hop after; "" when the route was deleted
}

// String renders the change as "us-east-1a rtb-… 10.0.21.0/24: vpce-… → (deleted)".
func (c RouteChange) String() string {
	from, to := c.From, c.To
	if from == "" {
		from = "(none)"
	}
	if to == "" {
		to = "(deleted: local route)"
	}
	return fmt.Sprintf("%s %s %s: %s → %s", c.AZ, c.RouteTable, c.CIDR, from, to)
}

// bypassAZ points every route of one AZ direct. It writes only routes that
// still point at the AZ's endpoint.
func (d *Deployer) bypassAZ(ctx context.Context, v pathView, a azRoutes) ([]RouteChange, error) {
	var done []RouteChange
	var errs []error
	if a.endpoint == "" {
		return nil, nil // no endpoint: nothing can point at it
	}
	if v.ingress != nil {
		tid := aws.ToString(v.ingress.RouteTableId)
		for _, c := range a.business {
			if v.ingressTarget(c) != a.endpoint {
				continue
			}
			_, err := d.c.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(c)})
			if err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete route %s %s: %w", tid, c, err))
				continue
			}
			done = append(done, RouteChange{AZ: a.az, RouteTable: tid, CIDR: c, From: a.endpoint})
		}
	}
	for _, t := range a.tables {
		tid := aws.ToString(t.RouteTableId)
		for _, p := range d.cfg.OnPremCIDRs {
			r := staticRoute(t, p.String())
			if r == nil || aws.ToString(r.GatewayId) != a.endpoint {
				continue
			}
			_, err := d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(p.String()),
				GatewayId: aws.String(d.cfg.VGWID)})
			if err != nil {
				errs = append(errs, fmt.Errorf("replace route %s %s → %s: %w", tid, p, d.cfg.VGWID, err))
				continue
			}
			done = append(done, RouteChange{AZ: a.az, RouteTable: tid, CIDR: p.String(), From: a.endpoint, To: d.cfg.VGWID})
		}
	}
	return done, errors.Join(errs...)
}

// restoreAZ points every route of one AZ through its endpoint again, as
// stage 03 writes them. A return route with a next hop other than the VGW
// or the endpoint is someone else's and left alone (stage 03 refuses it).
func (d *Deployer) restoreAZ(ctx context.Context, v pathView, a azRoutes) ([]RouteChange, error) {
	if a.endpoint == "" {
		return nil, fmt.Errorf("%s has no GWLB endpoint (run dxdeploy apply -stage 02)", a.az)
	}
	if v.ingress == nil {
		return nil, fmt.Errorf("route table %s missing (run dxdeploy apply -stage 03)", d.routeTableName())
	}
	var done []RouteChange
	var errs []error
	tid := aws.ToString(v.ingress.RouteTableId)
	for _, c := range a.business {
		have := v.ingressTarget(c)
		var err error
		switch have {
		case a.endpoint:
			continue
		case "":
			_, err = d.c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(c), VpcEndpointId: aws.String(a.endpoint)})
			if errorCode(err) == "RouteAlreadyExists" {
				err = nil
			}
		default:
			_, err = d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(tid), DestinationCidrBlock: aws.String(c), VpcEndpointId: aws.String(a.endpoint)})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s %s → %s: %w", tid, c, a.endpoint, err))
			continue
		}
		done = append(done, RouteChange{AZ: a.az, RouteTable: tid, CIDR: c, From: have, To: a.endpoint})
	}
	for _, t := range a.tables {
		rt := aws.ToString(t.RouteTableId)
		for _, p := range d.cfg.OnPremCIDRs {
			r := staticRoute(t, p.String())
			var err error
			from := ""
			switch {
			case r == nil:
				_, err = d.c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String(p.String()), VpcEndpointId: aws.String(a.endpoint)})
				if errorCode(err) == "RouteAlreadyExists" {
					err = nil
				}
			case aws.ToString(r.GatewayId) == a.endpoint:
				continue
			case aws.ToString(r.GatewayId) == d.cfg.VGWID:
				from = d.cfg.VGWID
				_, err = d.c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String(p.String()), VpcEndpointId: aws.String(a.endpoint)})
			default:
				errs = append(errs, fmt.Errorf("return route %s %s goes to %s, neither the VGW nor %s: left alone", rt, p, routeTarget(*r), a.endpoint))
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("return route %s %s → %s: %w", rt, p, a.endpoint, err))
				continue
			}
			done = append(done, RouteChange{AZ: a.az, RouteTable: rt, CIDR: p.String(), From: from, To: a.endpoint})
		}
	}
	return done, errors.Join(errs...)
}

// Bypass takes the appliances out of the traffic path in every AZ: it
// marks the ingress route table with TagBypass (so that no guard restores
// the path behind the operator's back), then points every route stage 03
// wrote direct. It may be run again, and after an interruption it
// completes; it needs no healthy appliance and no other stage.
func (d *Deployer) Bypass(ctx context.Context) ([]RouteChange, error) {
	v, err := d.readPaths(ctx)
	if err != nil {
		return nil, fmt.Errorf("bypass: %w", err)
	}
	if v.ingress != nil && !v.held() {
		if _, err := d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(v.ingress.RouteTableId)},
			Tags: []ec2types.Tag{{Key: aws.String(TagBypass), Value: aws.String("held by dxdeploy bypass; dxdeploy restore releases it")}}}); err != nil {
			return nil, fmt.Errorf("bypass: tag %s %s: %w", aws.ToString(v.ingress.RouteTableId), TagBypass, err)
		}
	}
	var all []RouteChange
	var errs []error
	for _, a := range v.azs {
		done, err := d.bypassAZ(ctx, v, a)
		all = append(all, done...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return all, fmt.Errorf("bypass: %w", err)
	}
	return all, nil
}

// Restore puts the appliances back in the traffic path: it runs stage 03,
// which first waits (up to Options.WaitTimeout) for every appliance to be
// a healthy GWLB target and fails, changing nothing, when they are not;
// then it removes TagBypass. Interrupted, it is run again.
func (d *Deployer) Restore(ctx context.Context) error {
	if err := d.Apply(ctx, StageRouting); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	v, err := d.readPaths(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if v.held() {
		if _, err := d.c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{aws.ToString(v.ingress.RouteTableId)},
			Tags: []ec2types.Tag{{Key: aws.String(TagBypass)}}}); err != nil {
			return fmt.Errorf("restore: untag %s %s: %w", aws.ToString(v.ingress.RouteTableId), TagBypass, err)
		}
		d.emit(Event{Stage: StageRouting, Kind: "bypass-hold", Name: d.routeTableName(), ID: aws.ToString(v.ingress.RouteTableId), Action: Deleted,
			Detail: "operator's bypass released: the guard may bypass and restore again"})
	}
	return nil
}
