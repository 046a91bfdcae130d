package mototest

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
)

// VGW route propagation, which moto 5.2 does not implement (it answers
// EnableVgwRoutePropagation with a 500). On AWS, once a route table
// propagates a virtual private gateway, "routes representing your
// Site-to-Site VPN connection automatically appear as propagated routes in
// your route table" ("How route priority works", Amazon VPC User Guide):
// the prefixes the VGW learned from on-premises over BGP (Direct Connect or
// VPN), each a route to the VGW whose Origin is EnableVgwRoutePropagation
// ("The route was propagated by route propagation", EC2 API reference,
// Route), listed beside any static route to the same destination (the
// guide's example table shows both). The table lists the gateway in
// propagatingVgwSet.
//
// The proxy serves EnableVgwRoutePropagation and DisableVgwRoutePropagation
// itself, and adds to DescribeRouteTables the propagating gateways and the
// prefixes AdvertiseVGWRoutes says each VGW learned.

type propagation struct {
	tables  map[string]map[string]bool // route table → VGWs it propagates
	learned map[string][]string        // VGW → CIDRs learned over BGP
}

func newPropagation() propagation {
	return propagation{tables: map[string]map[string]bool{}, learned: map[string][]string{}}
}

// AdvertiseVGWRoutes sets the prefixes the VGW has learned from
// on-premises (as BGP would); every route table propagating it lists them.
func (p *MirrorProxy) AdvertiseVGWRoutes(vgw string, cidrs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.prop.learned[vgw] = append([]string{}, cidrs...)
}

// servePropagation answers EnableVgwRoutePropagation and
// DisableVgwRoutePropagation.
func (p *MirrorProxy) servePropagation(w http.ResponseWriter, form url.Values) {
	rt, gw := form.Get("RouteTableId"), form.Get("GatewayId")
	action := form.Get("Action")
	p.mu.Lock()
	p.hits[action]++
	if action == "EnableVgwRoutePropagation" {
		if p.st.prop.tables[rt] == nil {
			p.st.prop.tables[rt] = map[string]bool{}
		}
		p.st.prop.tables[rt][gw] = true
	} else {
		delete(p.st.prop.tables[rt], gw)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><` + action + `Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>mirrorproxy</requestId><return>true</return></` + action + `Response>`))
}

var routeSetRE = regexp.MustCompile(`(?s)<routeTableId>(rtb-[0-9a-f]+)</routeTableId><routeSet>(.*?)</routeSet>`)

// addPropagated puts propagated routes and propagatingVgwSet into moto's
// DescribeRouteTables answer.
func (p *MirrorProxy) addPropagated(b []byte) []byte {
	p.mu.Lock()
	tables := map[string][]string{}
	for rt, gws := range p.st.prop.tables {
		for gw := range gws {
			tables[rt] = append(tables[rt], gw)
		}
	}
	learned := map[string][]string{}
	for k, v := range p.st.prop.learned {
		learned[k] = v
	}
	p.mu.Unlock()
	if len(tables) == 0 {
		return b
	}
	return routeSetRE.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := routeSetRE.FindSubmatch(m)
		gws := tables[string(sub[1])]
		if len(gws) == 0 {
			return m
		}
		var routes, set bytes.Buffer
		for _, gw := range gws {
			set.WriteString("<item><gatewayId>" + gw + "</gatewayId></item>")
			for _, c := range learned[gw] {
				routes.WriteString("<item><destinationCidrBlock>" + c + "</destinationCidrBlock><gatewayId>" + gw +
					"</gatewayId><origin>EnableVgwRoutePropagation</origin><state>active</state></item>")
			}
		}
		out := append([]byte{}, m[:len(m)-len("</routeSet>")]...)
		out = append(out, routes.Bytes()...)
		out = append(out, "</routeSet><propagatingVgwSet>"...)
		out = append(out, set.Bytes()...)
		return append(out, "</propagatingVgwSet>"...)
	})
}
