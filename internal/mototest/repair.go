package mototest

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// This file mends moto's answers to requests the MirrorProxy passes on:
// what moto drops or does not model, put back as AWS answers.

// actionKey carries the parsed form of a request passed to moto, for the
// response repairs.
type actionKey struct{}

// repairs maps an EC2 or ELB query action to the repair of moto's answer
// to it; actions not listed pass unchanged.
var repairs = map[string]func(p *MirrorProxy, resp *http.Response, form url.Values) error{
	"AssociateRouteTable": (*MirrorProxy).recordEdge,
	"DescribeRouteTables": func(p *MirrorProxy, resp *http.Response, _ url.Values) error {
		if err := p.addEdges(resp); err != nil {
			return err
		}
		return replaceBody(resp, p.addPropagated) // propagation.go
	},
	"DescribeTargetHealth":         func(p *MirrorProxy, resp *http.Response, _ url.Values) error { return p.targetHealth(resp) },
	"DescribeTrafficMirrorFilters": func(p *MirrorProxy, resp *http.Response, _ url.Values) error { return p.dropGone(resp) },
	"DescribeTrafficMirrorTargets": func(p *MirrorProxy, resp *http.Response, _ url.Values) error { return p.dropGone(resp) },
}

// repair mends moto's answers: it records edge associations and puts their
// gatewayId back into DescribeRouteTables, adds the target health and SSM
// states set by the test, and removes the filters and targets deleted
// through the proxy from their Describe answers.
func (p *MirrorProxy) repair(resp *http.Response) error {
	if sr, ok := resp.Request.Context().Value(ssmKey{}).(ssmRequest); ok {
		if err := p.nicMetrics(resp, sr); err != nil { // nicmetrics.go
			return err
		}
		return p.repairSSM(resp, sr)
	}
	form, _ := resp.Request.Context().Value(actionKey{}).(url.Values)
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") || form == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	fix, ok := repairs[form.Get("Action")]
	if !ok {
		return nil
	}
	return fix(p, resp, form)
}

// replaceBody replaces resp's body by edit's answer to it.
func replaceBody(resp *http.Response, edit func([]byte) []byte) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	body = edit(body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// dropGone removes the filters and targets deleted through the proxy from
// moto's DescribeTrafficMirrorFilters and DescribeTrafficMirrorTargets
// answers.
func (p *MirrorProxy) dropGone(resp *http.Response) error {
	p.mu.Lock()
	gone := map[string]bool{}
	for id := range p.st.deletedFilters {
		gone[id] = true
	}
	for id := range p.st.deletedTargets {
		gone[id] = true
	}
	p.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	return replaceBody(resp, func(body []byte) []byte {
		for _, set := range []string{"trafficMirrorFilterSet", "trafficMirrorTargetSet"} {
			body = dropItems(body, set, gone)
		}
		return body
	})
}

// dropItems removes the top-level <item> elements of <set> that name a
// gone ID.
func dropItems(body []byte, set string, gone map[string]bool) []byte {
	open, end := []byte("<"+set+">"), []byte("</"+set+">")
	i := bytes.Index(body, open)
	j := bytes.Index(body, end)
	if i < 0 || j < i {
		return body
	}
	inner := body[i+len(open) : j]
	var kept bytes.Buffer
	depth, start := 0, -1
	for k := 0; k < len(inner); k++ {
		switch {
		case bytes.HasPrefix(inner[k:], []byte("<item>")):
			if depth == 0 {
				start = k
			}
			depth++
		case bytes.HasPrefix(inner[k:], []byte("</item>")):
			depth--
			if depth == 0 && start >= 0 {
				item := inner[start : k+len("</item>")]
				drop := false
				for id := range gone {
					drop = drop || bytes.Contains(item, []byte(">"+id+"<"))
				}
				if !drop {
					kept.Write(item)
				}
				start = -1
			}
		}
	}
	out := append([]byte{}, body[:i+len(open)]...)
	out = append(out, kept.Bytes()...)
	return append(out, body[j:]...)
}

// recordEdge remembers which gateway an association made by
// AssociateRouteTable belongs to.
func (p *MirrorProxy) recordEdge(resp *http.Response, form url.Values) error {
	gw := form.Get("GatewayId")
	if gw == "" {
		return nil
	}
	return replaceBody(resp, func(b []byte) []byte {
		var out struct {
			ID string `xml:"associationId"`
		}
		if xml.Unmarshal(b, &out) == nil && out.ID != "" {
			p.mu.Lock()
			p.st.edges[out.ID] = gw
			p.mu.Unlock()
		}
		return b
	})
}

// addEdges puts the gatewayId of edge associations back into moto's
// DescribeRouteTables answer (moto 5.2.1 drops it).
func (p *MirrorProxy) addEdges(resp *http.Response) error {
	p.mu.Lock()
	edges := map[string]string{}
	for k, v := range p.st.edges {
		edges[k] = v
	}
	p.mu.Unlock()
	return replaceBody(resp, func(b []byte) []byte {
		for id, gw := range edges {
			tag := []byte("<routeTableAssociationId>" + id + "</routeTableAssociationId>")
			if !bytes.Contains(b, tag) || bytes.Contains(b, []byte("<gatewayId>"+gw+"</gatewayId>")) {
				continue
			}
			b = bytes.ReplaceAll(b, tag, append(append([]byte{}, tag...), []byte("<gatewayId>"+gw+"</gatewayId>")...))
		}
		return b
	})
}
