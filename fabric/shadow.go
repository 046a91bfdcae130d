package fabric

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Shadowing routes. With RETURN_ROUTES each business subnet's table sends
// every ONPREM_CIDRS to its AZ's GWLB endpoint. A route in the same table
// whose destination lies inside an on-premises CIDR with a longer prefix
// wins for the addresses it covers: "we direct traffic using the most
// specific route that matches the traffic. This is known as the longest
// prefix match" ("How route priority works", Amazon VPC User Guide), before
// any rule about static and propagated routes applies. Such a route, static
// or propagated from the VGW (Origin EnableVgwRoutePropagation: a prefix
// on-premises announced over BGP), sends the replies to those addresses
// past the appliances unless it, too, points at the endpoint: the link's
// two directions then take different paths and the probes see one. verify
// fails on each; plan and apply warn.

// ShadowRoute is a business subnet's route that sends part of an
// on-premises CIDR past the appliances.
type ShadowRoute struct {
	RouteTable  string `json:"route_table"`
	Business    string `json:"business_cidr"`
	Destination string `json:"destination"`
	Target      string `json:"target"`
	Origin      string `json:"origin"`
	OnPrem      string `json:"onprem_cidr"`
}

// String says what the route does, in plain words.
func (s ShadowRoute) String() string {
	how := "static"
	if s.Origin == string(ec2types.RouteOriginEnableVgwRoutePropagation) {
		how = "propagated from the VGW (BGP)"
	}
	return fmt.Sprintf("%s (business subnet %s): route %s → %s, %s, is more specific than on-premises %s and sends its replies past the appliances",
		s.RouteTable, s.Business, s.Destination, s.Target, how, s.OnPrem)
}

// ShadowRoutes returns the routes of t, the route table of business subnet
// business, more specific than one of onprem and not through endpoint,
// sorted by destination.
func ShadowRoutes(t ec2types.RouteTable, business string, onprem []netip.Prefix, endpoint string) []ShadowRoute {
	var out []ShadowRoute
	for _, r := range t.Routes {
		p, err := netip.ParsePrefix(aws.ToString(r.DestinationCidrBlock))
		if err != nil {
			continue // IPv6 or prefix-list routes have no IPv4 destination
		}
		for _, o := range onprem {
			if !o.Contains(p.Addr()) || p.Bits() <= o.Bits() || (endpoint != "" && aws.ToString(r.GatewayId) == endpoint) {
				continue
			}
			out = append(out, ShadowRoute{RouteTable: aws.ToString(t.RouteTableId), Business: business, Destination: p.String(),
				Target: routeTarget(r), Origin: string(r.Origin), OnPrem: o.String()})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// warnShadowRoutes is plan's and apply's warning, one event per route.
func (r *run) warnShadowRoutes(t ec2types.RouteTable, business, endpoint string) {
	if isPlanned(endpoint) {
		endpoint = ""
	}
	for _, s := range ShadowRoutes(t, business, r.d.cfg.OnPremCIDRs, endpoint) {
		r.event("shadow-route", s.RouteTable+" "+s.Destination, s.RouteTable, Warning,
			s.String()+"; remove it, point it at the GWLB endpoint, or filter that prefix from the VGW's BGP announcements")
	}
}

// checkShadowRoutes adds verify's problems: every shadowing route of a
// business subnet's table (with RETURN_ROUTES; without them every reply
// leaves past the appliances anyway, which plan says).
func (r *run) checkShadowRoutes(ctx context.Context, c *Check) {
	if !r.d.cfg.ReturnRoutes {
		return
	}
	v, err := r.d.readPaths(ctx)
	if err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("shadowing routes: %v", err))
		c.OK = false
		return
	}
	for _, a := range v.azs {
		for i, t := range a.tables {
			for _, s := range ShadowRoutes(t, a.tableOf[i], r.d.cfg.OnPremCIDRs, a.endpoint) {
				c.Problems = append(c.Problems, s.String())
				c.OK = false
			}
		}
	}
}
