package mototest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// GWLB endpoints and endpoint services as AWS deletes them, which moto 5.2
// does not:
//
//   - DeleteVpcEndpoints: on AWS the endpoint goes through "deleting" before
//     it is gone (EC2 API Reference, VpcEndpoint.State: ... | deleting |
//     deleted | ...); moto marks it "deleted" at once. The proxy reports
//     each endpoint it saw deleted as "deleting" for the next
//     DeletingDescribes DescribeVpcEndpoints answers.
//   - DeleteVpcEndpointServiceConfigurations: "Before you delete an endpoint
//     service, you must reject or delete all endpoint connections to the
//     service" (EC2 API Reference, DeleteVpcEndpointServiceConfigurations);
//     AWS answers 200 with the service in the Unsuccessful list instead.
//     moto deletes the service anyway. The proxy puts a service that still
//     has an endpoint not yet deleted (or reported deleting) in
//     Unsuccessful, with code ExistingVpcEndpointConnections, and leaves it.

// DeletingDescribes is how many DescribeVpcEndpoints answers report a
// deleted endpoint as "deleting".
const DeletingDescribes = 2

type endpointState struct {
	mu       sync.Mutex
	deleting map[string]int // endpoint ID → describes left in "deleting"
}

func (e *endpointState) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deleting = map[string]int{}
}

// serveEndpoints answers the three actions above and reports whether it
// did.
func (p *MirrorProxy) serveEndpoints(w http.ResponseWriter, req *http.Request, action string, form url.Values) bool {
	switch action {
	case "DeleteVpcEndpoints", "DescribeVpcEndpoints", "DeleteVpcEndpointServiceConfigurations":
	default:
		return false
	}
	call := func(v url.Values) (int, []byte, error) {
		r, err := http.NewRequestWithContext(req.Context(), http.MethodPost, p.motoURL, strings.NewReader(v.Encode()))
		if err != nil {
			return 0, nil, err
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", req.Header.Get("Authorization")) // moto reads the service and region from it
		if a := req.Header.Get(motoAccountHeader); a != "" {
			r.Header.Set(motoAccountHeader, a) // the test's own account (SharedProxy)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	status, body, err := p.endpointAction(call, action, form)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return true
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

type motoCall func(url.Values) (int, []byte, error)

func (p *MirrorProxy) endpointAction(call motoCall, action string, form url.Values) (int, []byte, error) {
	e := &p.eps
	switch action {
	case "DeleteVpcEndpoints":
		status, body, err := call(form)
		if err == nil && status == http.StatusOK {
			e.mu.Lock()
			for _, id := range list(form, "VpcEndpointId") {
				if !bytes.Contains(body, []byte(">"+id+"<")) { // not in Unsuccessful
					e.deleting[id] = DeletingDescribes
				}
			}
			e.mu.Unlock()
		}
		return status, body, err
	case "DescribeVpcEndpoints":
		status, body, err := call(form)
		if err != nil || status != http.StatusOK {
			return status, body, err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for id, n := range e.deleting {
			if n <= 0 {
				continue
			}
			if b, ok := setEndpointState(body, id, "deleting"); ok {
				body = b
				e.deleting[id] = n - 1
			}
		}
		return status, body, nil
	}
	// DeleteVpcEndpointServiceConfigurations
	status, eps, err := call(url.Values{"Action": {"DescribeVpcEndpoints"}, "Version": {form.Get("Version")}})
	if err != nil || status != http.StatusOK {
		return status, eps, err
	}
	var described struct {
		Items []struct {
			ID      string `xml:"vpcEndpointId"`
			Service string `xml:"serviceName"`
			State   string `xml:"state"`
		} `xml:"vpcEndpointSet>item"`
	}
	if err := xml.Unmarshal(eps, &described); err != nil {
		return 0, nil, fmt.Errorf("mototest: DescribeVpcEndpoints answer: %w", err)
	}
	e.mu.Lock()
	blocked := map[string]bool{}
	for _, ep := range described.Items {
		if !strings.EqualFold(ep.State, "deleted") || e.deleting[ep.ID] > 0 {
			for _, sid := range list(form, "ServiceId") {
				if strings.HasSuffix(ep.Service, "."+sid) {
					blocked[sid] = true
				}
			}
		}
	}
	e.mu.Unlock()
	pass := url.Values{"Action": {action}, "Version": {form.Get("Version")}}
	n := 0
	var unsuccessful bytes.Buffer
	for _, sid := range list(form, "ServiceId") {
		if blocked[sid] {
			fmt.Fprintf(&unsuccessful, `<item><error><code>ExistingVpcEndpointConnections</code><message>Service %s has existing VPC endpoint connections</message></error><resourceId>%s</resourceId></item>`, sid, sid)
			continue
		}
		n++
		pass.Set(fmt.Sprintf("ServiceId.%d", n), sid)
	}
	if n > 0 {
		status, body, err := call(pass)
		if err != nil || status != http.StatusOK {
			return status, body, err
		}
		var out struct {
			Items []struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"unsuccessful>item"`
		}
		_ = xml.Unmarshal(body, &out)
		for _, it := range out.Items {
			unsuccessful.WriteString("<item>" + string(it.Inner) + "</item>")
		}
	}
	return http.StatusOK, []byte(`<?xml version="1.0" encoding="UTF-8"?><DeleteVpcEndpointServiceConfigurationsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>mototest-endpoints</requestId><unsuccessful>` +
		unsuccessful.String() + `</unsuccessful></DeleteVpcEndpointServiceConfigurationsResponse>`), nil
}

// setEndpointState rewrites the <state> of endpoint id in a
// DescribeVpcEndpoints answer.
func setEndpointState(body []byte, id, state string) ([]byte, bool) {
	at := bytes.Index(body, []byte("<vpcEndpointId>"+id+"</vpcEndpointId>"))
	if at < 0 {
		return body, false
	}
	end := len(body)
	if next := bytes.Index(body[at+1:], []byte("<vpcEndpointId>")); next >= 0 {
		end = at + 1 + next
	}
	seg := body[at:end]
	i := bytes.Index(seg, []byte("<state>"))
	j := bytes.Index(seg, []byte("</state>"))
	if i < 0 || j < i {
		return body, false
	}
	out := append([]byte{}, body[:at+i+len("<state>")]...)
	out = append(out, state...)
	return append(out, body[at+j:]...), true
}
