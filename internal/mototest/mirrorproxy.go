package mototest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/cbor"
)

// MirrorActions are the EC2 actions the MirrorProxy serves itself, because
// moto 5.2 does not implement them. Every other request goes to moto, with
// two repairs of moto's answers: DescribeTrafficMirrorFilters and
// DescribeTrafficMirrorTargets lose the filters and targets deleted through
// the proxy, and DescribeRouteTables gains the gatewayId of edge
// associations (moto 5.2.1 drops it). health.go adds what moto does not
// model of target health, SSM registration, failed commands and ReplaceRoute
// to a VPC endpoint. The proxy also serves CloudWatch's
// PutMetricData and GetMetricData (sums of what was put), because the Go
// SDK speaks rpc-v2-cbor to CloudWatch and moto 5.2.1 answers that with 404.
var MirrorActions = []string{
	"CreateTrafficMirrorFilterRule", "DeleteTrafficMirrorFilterRule", "DescribeTrafficMirrorFilterRules",
	"CreateTrafficMirrorSession", "DeleteTrafficMirrorSession", "DescribeTrafficMirrorSessions", "ModifyTrafficMirrorSession",
	"DeleteTrafficMirrorFilter", "DeleteTrafficMirrorTarget",
}

// MirrorProxy is an HTTP server on a loopback port in front of moto that
// serves MirrorActions in memory, as AWS does: session numbers unique per
// ENI and at most 3 sessions per ENI, ClientToken idempotency, rules and
// sessions found by ID, tag and the filters fabric uses, and a filter or
// target in use by a session cannot be deleted.
//
// ClientToken idempotency is AWS's ("Ensuring idempotency in Amazon EC2 API
// requests": a retry of a request that completed, with the same client
// token, succeeds without performing any further action): a token seen
// before returns the first call's answer, even when that resource has been
// deleted since, and the same token with other parameters fails with
// IdempotentParameterMismatch.
type MirrorProxy struct {
	// URL is the proxy's endpoint, to use as AWS_ENDPOINT_URL.
	URL string

	ignoreTags bool // see SetIgnoreTagFilters
	pageSize   int  // see SetPageSize

	rp      *httputil.ReverseProxy
	motoURL string
	mu      sync.Mutex
	st      mirrorState
	hits    map[string]int
}

type mirrorState struct {
	edges          map[string]string // route table association ID → gateway ID
	metrics        []metricDatum
	rules          map[string]*mirrorRule
	sessions       map[string]*mirrorSession
	tokens         map[string]tokenUse // action+ClientToken → first answer
	deletedFilters map[string]bool
	deletedTargets map[string]bool
	ssm            ssmState
}

// tokenUse is what a ClientToken was first used for: the request's
// parameters (without the token) and the answer.
type tokenUse struct {
	params string
	answer any
}

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type mirrorRule struct {
	ID         string `xml:"trafficMirrorFilterRuleId"`
	FilterID   string `xml:"trafficMirrorFilterId"`
	Direction  string `xml:"trafficDirection"`
	RuleNumber int    `xml:"ruleNumber"`
	RuleAction string `xml:"ruleAction"`
	Protocol   *int   `xml:"protocol,omitempty"`
	// Port ranges as AWS returns them (TrafficMirrorPortRange).
	DestinationPortRange *portRange `xml:"destinationPortRange,omitempty"`
	SourcePortRange      *portRange `xml:"sourcePortRange,omitempty"`
	Destination          string     `xml:"destinationCidrBlock"`
	Source               string     `xml:"sourceCidrBlock"`
	Description          string     `xml:"description,omitempty"`
	Tags                 []xmlTag   `xml:"tagSet>item"`
}

type portRange struct {
	From int `xml:"fromPort"`
	To   int `xml:"toPort"`
}

func portRangeOf(f url.Values, key string) *portRange {
	if !f.Has(key+".FromPort") && !f.Has(key+".ToPort") {
		return nil
	}
	return &portRange{atoi(f.Get(key + ".FromPort")), atoi(f.Get(key + ".ToPort"))}
}

type mirrorSession struct {
	ID            string   `xml:"trafficMirrorSessionId"`
	TargetID      string   `xml:"trafficMirrorTargetId"`
	FilterID      string   `xml:"trafficMirrorFilterId"`
	ENI           string   `xml:"networkInterfaceId"`
	OwnerID       string   `xml:"ownerId"`
	PacketLength  int      `xml:"packetLength,omitempty"`
	SessionNumber int      `xml:"sessionNumber"`
	VNI           int      `xml:"virtualNetworkId"`
	Description   string   `xml:"description,omitempty"`
	Tags          []xmlTag `xml:"tagSet>item"`
}

// NewMirrorProxy returns a proxy in front of the moto_server at motoURL.
// It is an http.Handler; StartMirrorProxy serves it for a test, and a
// developer may serve it on any loopback listener.
func NewMirrorProxy(motoURL string) (*MirrorProxy, error) {
	target, err := url.Parse(motoURL)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("moto URL %q: not an http URL (%v)", motoURL, err)
	}
	p := &MirrorProxy{rp: httputil.NewSingleHostReverseProxy(target), hits: map[string]int{}, motoURL: motoURL}
	p.Reset()
	p.rp.ModifyResponse = p.repair
	return p, nil
}

// StartMirrorProxy starts a proxy in front of s on a free loopback port and
// stops it when the test ends. Unlike Start it does not touch the
// environment: use Config, or set AWS_ENDPOINT_URL to URL.
func StartMirrorProxy(t testing.TB, s *Server) *MirrorProxy {
	t.Helper()
	p, err := NewMirrorProxy(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	p.URL = srv.URL
	t.Cleanup(srv.Close)
	return p
}

// Config returns an SDK configuration aimed at the proxy.
func (p *MirrorProxy) Config(t testing.TB) aws.Config {
	return (&Server{URL: p.URL}).Config(t)
}

// Reset forgets every rule and session; call it with Server.Reset.
func (p *MirrorProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = mirrorState{edges: map[string]string{}, rules: map[string]*mirrorRule{}, sessions: map[string]*mirrorSession{}, tokens: map[string]tokenUse{},
		deletedFilters: map[string]bool{}, deletedTargets: map[string]bool{}, ssm: newSSMState()}
}

// SetIgnoreTagFilters makes the proxy drop every "tag:" filter from
// Describe requests, its own and those passed to moto, as some emulators
// do: a client that trusts tag filters alone then sees other projects'
// resources.
func (p *MirrorProxy) SetIgnoreTagFilters(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignoreTags = on
}

// SetPageSize makes DescribeTrafficMirrorSessions and
// DescribeTrafficMirrorFilterRules answer at most n items per page, with a
// NextToken, as AWS may at any size; 0 means one page.
func (p *MirrorProxy) SetPageSize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pageSize = n
}

// Hits returns how many requests of each served action the proxy answered.
func (p *MirrorProxy) Hits() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.hits {
		out[k] = v
	}
	return out
}

// DeleteSessionsOf removes the sessions of an ENI as AWS does when it
// deletes the ENI, and returns how many there were.
func (p *MirrorProxy) DeleteSessionsOf(eni string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, s := range p.st.sessions {
		if s.ENI == eni {
			delete(p.st.sessions, id)
			n++
		}
	}
	return n
}

func isServed(action string) bool {
	for _, a := range MirrorActions {
		if a == action {
			return true
		}
	}
	return false
}

// ServeHTTP answers MirrorActions and CloudWatch, and passes every other
// request to moto.
func (p *MirrorProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var form url.Values
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ = url.ParseQuery(string(body))
	}
	action := form.Get("Action")
	if op, ok := strings.CutPrefix(req.Header.Get("X-Amz-Target"), "AmazonSSM."); ok {
		p.serveSSM(w, req, op)
		return
	}
	p.mu.Lock()
	ignoreTags := p.ignoreTags
	p.mu.Unlock()
	if ignoreTags && strings.HasPrefix(action, "Describe") {
		if stripped, ok := withoutTagFilters(form); ok {
			form = stripped
			body := []byte(form.Encode())
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
	}
	if op, ok := strings.CutPrefix(req.URL.Path, "/service/GraniteServiceVersion20100801/operation/"); ok {
		p.serveCloudWatch(w, req, op)
		return
	}
	if action == "ReplaceRoute" && form.Get("VpcEndpointId") != "" {
		p.replaceRouteToEndpoint(w, req, form)
		return
	}
	if !isServed(action) {
		req = req.WithContext(context.WithValue(req.Context(), actionKey{}, form))
		p.rp.ServeHTTP(w, req)
		return
	}
	p.mu.Lock()
	p.hits[action]++
	status, out := p.handle(action, form)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// withoutTagFilters renumbers a request's Filter.N without its "tag:"
// filters; ok is false when it had none.
func withoutTagFilters(f url.Values) (url.Values, bool) {
	out := url.Values{}
	for k, v := range f {
		if !strings.HasPrefix(k, "Filter.") {
			out[k] = v
		}
	}
	dropped, n := false, 0
	for i := 1; f.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		name := f.Get(fmt.Sprintf("Filter.%d.Name", i))
		if strings.HasPrefix(name, "tag:") {
			dropped = true
			continue
		}
		n++
		out.Set(fmt.Sprintf("Filter.%d.Name", n), name)
		for j, v := range list(f, fmt.Sprintf("Filter.%d.Value", i)) {
			out.Set(fmt.Sprintf("Filter.%d.Value.%d", n, j+1), v)
		}
	}
	return out, dropped
}

// apiError is an EC2 error response.
type apiError struct{ code, msg string }

func (p *MirrorProxy) handle(action string, f url.Values) (int, []byte) {
	resp, err := p.do(action, f)
	if err != nil {
		var b bytes.Buffer
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>`, err.code)
		_ = xml.EscapeText(&b, []byte(err.msg))
		b.WriteString(`</Message></Error></Errors><RequestID>mirrorproxy</RequestID></Response>`)
		return http.StatusBadRequest, b.Bytes()
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if mErr := xml.NewEncoder(&b).EncodeElement(resp, xml.StartElement{Name: xml.Name{Local: action + "Response"}}); mErr != nil {
		return http.StatusInternalServerError, []byte(mErr.Error())
	}
	return http.StatusOK, b.Bytes()
}

func newID(prefix string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:17]
}

func tagsOf(f url.Values, resourceType string) []xmlTag {
	var tags []xmlTag
	for i := 1; f.Has(fmt.Sprintf("TagSpecification.%d.ResourceType", i)); i++ {
		if f.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", i)) != resourceType {
			continue
		}
		for j := 1; f.Has(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)); j++ {
			tags = append(tags, xmlTag{f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)), f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Value", i, j))})
		}
	}
	return tags
}

func list(f url.Values, key string) []string {
	var out []string
	for i := 1; f.Has(fmt.Sprintf("%s.%d", key, i)); i++ {
		out = append(out, f.Get(fmt.Sprintf("%s.%d", key, i)))
	}
	return out
}

// filters returns the request's Filter.N as name → values. With
// IgnoreTagFilters the proxy has already dropped the tag: ones.
func filters(f url.Values) map[string][]string {
	out := map[string][]string{}
	for i := 1; f.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		out[f.Get(fmt.Sprintf("Filter.%d.Name", i))] = list(f, fmt.Sprintf("Filter.%d.Value", i))
	}
	return out
}

// match reports whether a resource with these tags and fields passes every
// filter; fields maps filter names to the resource's value.
func match(flt map[string][]string, tags []xmlTag, fields map[string]string) bool {
	for name, vals := range flt {
		var have string
		var ok bool
		if k, isTag := strings.CutPrefix(name, "tag:"); isTag {
			for _, t := range tags {
				if t.Key == k {
					have, ok = t.Value, true
				}
			}
		} else {
			have, ok = fields[name]
		}
		if !ok {
			return false
		}
		hit := false
		for _, v := range vals {
			hit = hit || v == have
		}
		if !hit {
			return false
		}
	}
	return true
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func (p *MirrorProxy) do(action string, f url.Values) (any, *apiError) {
	st := &p.st
	tok := f.Get("ClientToken")
	if tok != "" {
		params := paramsWithout(f, "ClientToken")
		if use, ok := st.tokens[action+tok]; ok {
			if use.params != params {
				return nil, &apiError{"IdempotentParameterMismatch", "client token " + tok + " was used with other parameters"}
			}
			return use.answer, nil
		}
		answer, err := p.do1(action, f)
		if err == nil && strings.HasPrefix(action, "Create") {
			st.tokens[action+tok] = tokenUse{params, answer}
		}
		return answer, err
	}
	return p.do1(action, f)
}

// paramsWithout is the request's parameters, but key, in a canonical form.
func paramsWithout(f url.Values, key string) string {
	c := url.Values{}
	for k, v := range f {
		if k != key {
			c[k] = v
		}
	}
	return c.Encode()
}

// page cuts a Describe answer to PageSize items from the request's
// NextToken, and returns the next token ("" at the end).
func page[T any](items []T, f url.Values, size int) ([]T, string) {
	if size <= 0 {
		return items, ""
	}
	from := atoi(f.Get("NextToken"))
	if from > len(items) {
		from = len(items)
	}
	to := min(from+size, len(items))
	if to == len(items) {
		return items[from:to], ""
	}
	return items[from:to], strconv.Itoa(to)
}

func (p *MirrorProxy) do1(action string, f url.Values) (any, *apiError) {
	st := &p.st
	switch action {
	case "CreateTrafficMirrorFilterRule":
		fid := f.Get("TrafficMirrorFilterId")
		if fid == "" || st.deletedFilters[fid] {
			return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + fid + " not found"}
		}
		r := &mirrorRule{ID: newID("tmfr-"), FilterID: fid, Direction: f.Get("TrafficDirection"), RuleNumber: atoi(f.Get("RuleNumber")),
			RuleAction: f.Get("RuleAction"), Destination: f.Get("DestinationCidrBlock"), Source: f.Get("SourceCidrBlock"),
			Description: f.Get("Description"), Tags: tagsOf(f, "traffic-mirror-filter-rule")}
		if f.Has("Protocol") {
			n := atoi(f.Get("Protocol"))
			r.Protocol = &n
		}
		r.DestinationPortRange, r.SourcePortRange = portRangeOf(f, "DestinationPortRange"), portRangeOf(f, "SourcePortRange")
		if r.RuleNumber < 1 || r.RuleNumber > 32766 {
			return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("rule number %d is outside 1-32766", r.RuleNumber)}
		}
		count := 0
		for _, o := range st.rules {
			if o.FilterID == fid {
				count++
				if o.Direction == r.Direction && o.RuleNumber == r.RuleNumber {
					return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("rule number %d already used in direction %s", r.RuleNumber, r.Direction)}
				}
			}
		}
		if count >= 10 {
			return nil, &apiError{"TrafficMirrorFilterRuleLimitExceeded", "filter " + fid + " already has 10 rules"}
		}
		st.rules[r.ID] = r
		return struct {
			R   *mirrorRule `xml:"trafficMirrorFilterRule"`
			Tok string      `xml:"clientToken,omitempty"`
		}{r, f.Get("ClientToken")}, nil

	case "DeleteTrafficMirrorFilterRule":
		id := f.Get("TrafficMirrorFilterRuleId")
		if _, ok := st.rules[id]; !ok {
			return nil, &apiError{"InvalidTrafficMirrorFilterRuleId.NotFound", "rule " + id + " not found"}
		}
		delete(st.rules, id)
		return struct {
			ID string `xml:"trafficMirrorFilterRuleId"`
		}{id}, nil

	case "DescribeTrafficMirrorFilterRules":
		ids, fid, flt := list(f, "TrafficMirrorFilterRuleId"), f.Get("TrafficMirrorFilterId"), filters(f)
		var out []*mirrorRule
		for _, r := range st.rules {
			if (fid != "" && r.FilterID != fid) || (len(ids) > 0 && !contains(ids, r.ID)) ||
				!match(flt, r.Tags, map[string]string{"traffic-direction": r.Direction, "rule-action": r.RuleAction,
					"rule-number": strconv.Itoa(r.RuleNumber), "source-cidr-block": r.Source, "destination-cidr-block": r.Destination,
					"traffic-mirror-filter-rule-id": r.ID}) {
				continue
			}
			out = append(out, r)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		out, next := page(out, f, p.pageSize)
		return struct {
			Set  []*mirrorRule `xml:"trafficMirrorFilterRuleSet>item"`
			Next string        `xml:"nextToken,omitempty"`
		}{out, next}, nil

	case "CreateTrafficMirrorSession":
		s := &mirrorSession{ID: newID("tms-"), TargetID: f.Get("TrafficMirrorTargetId"), FilterID: f.Get("TrafficMirrorFilterId"),
			ENI: f.Get("NetworkInterfaceId"), OwnerID: "123456789012", PacketLength: atoi(f.Get("PacketLength")),
			SessionNumber: atoi(f.Get("SessionNumber")), VNI: atoi(f.Get("VirtualNetworkId")), Description: f.Get("Description"),
			Tags: tagsOf(f, "traffic-mirror-session")}
		switch {
		case s.ENI == "":
			return nil, &apiError{"MissingParameter", "NetworkInterfaceId"}
		case s.TargetID == "" || st.deletedTargets[s.TargetID]:
			return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + s.TargetID + " not found"}
		case s.FilterID == "" || st.deletedFilters[s.FilterID]:
			return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + s.FilterID + " not found"}
		case s.SessionNumber < 1 || s.SessionNumber > 32766:
			return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is outside 1-32766", s.SessionNumber)}
		}
		n := 0
		for _, o := range st.sessions {
			if o.ENI == s.ENI {
				n++
				if o.SessionNumber == s.SessionNumber {
					return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is in use on %s", s.SessionNumber, s.ENI)}
				}
			}
		}
		if n >= 3 {
			return nil, &apiError{"TrafficMirrorSessionsPerInterfaceLimitExceeded", s.ENI + " already has 3 sessions"}
		}
		st.sessions[s.ID] = s
		snap := *s // the answer, as it was: a later modify or delete does not change it
		return struct {
			S   *mirrorSession `xml:"trafficMirrorSession"`
			Tok string         `xml:"clientToken,omitempty"`
		}{&snap, f.Get("ClientToken")}, nil

	case "ModifyTrafficMirrorSession":
		id := f.Get("TrafficMirrorSessionId")
		s, ok := st.sessions[id]
		if !ok {
			return nil, &apiError{"InvalidTrafficMirrorSessionId.NotFound", "session " + id + " not found"}
		}
		n := *s
		if v := f.Get("TrafficMirrorTargetId"); v != "" {
			if st.deletedTargets[v] {
				return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + v + " not found"}
			}
			n.TargetID = v
		}
		if v := f.Get("TrafficMirrorFilterId"); v != "" {
			if st.deletedFilters[v] {
				return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + v + " not found"}
			}
			n.FilterID = v
		}
		if f.Has("VirtualNetworkId") {
			n.VNI = atoi(f.Get("VirtualNetworkId"))
		}
		if f.Has("PacketLength") {
			n.PacketLength = atoi(f.Get("PacketLength"))
		}
		if f.Has("Description") {
			n.Description = f.Get("Description")
		}
		if f.Has("SessionNumber") {
			n.SessionNumber = atoi(f.Get("SessionNumber"))
			for _, o := range st.sessions {
				if o.ID != id && o.ENI == n.ENI && o.SessionNumber == n.SessionNumber {
					return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is in use on %s", n.SessionNumber, n.ENI)}
				}
			}
		}
		// RemoveField.N: packet-length and description go back to their
		// defaults (EC2 API Reference, ModifyTrafficMirrorSession).
		for _, rf := range list(f, "RemoveField") {
			switch rf {
			case "packet-length":
				n.PacketLength = 0
			case "description":
				n.Description = ""
			case "virtual-network-id":
				n.VNI = 0
			}
		}
		if n.PacketLength < 0 || n.PacketLength > 8500 {
			return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("packet length %d is outside 1-8500", n.PacketLength)}
		}
		*s = n
		snap := n
		return struct {
			S *mirrorSession `xml:"trafficMirrorSession"`
		}{&snap}, nil

	case "DeleteTrafficMirrorSession":
		id := f.Get("TrafficMirrorSessionId")
		if _, ok := st.sessions[id]; !ok {
			return nil, &apiError{"InvalidTrafficMirrorSessionId.NotFound", "session " + id + " not found"}
		}
		delete(st.sessions, id)
		return struct {
			ID string `xml:"trafficMirrorSessionId"`
		}{id}, nil

	case "DescribeTrafficMirrorSessions":
		ids, flt := list(f, "TrafficMirrorSessionId"), filters(f)
		var out []*mirrorSession
		for _, s := range st.sessions {
			if (len(ids) > 0 && !contains(ids, s.ID)) || !match(flt, s.Tags, map[string]string{
				"network-interface-id": s.ENI, "traffic-mirror-target-id": s.TargetID, "traffic-mirror-filter-id": s.FilterID,
				"traffic-mirror-session-id": s.ID, "session-number": strconv.Itoa(s.SessionNumber),
				"virtual-network-id": strconv.Itoa(s.VNI), "owner-id": s.OwnerID}) {
				continue
			}
			out = append(out, s)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		out, next := page(out, f, p.pageSize)
		return struct {
			Set  []*mirrorSession `xml:"trafficMirrorSessionSet>item"`
			Next string           `xml:"nextToken,omitempty"`
		}{out, next}, nil

	case "DeleteTrafficMirrorFilter":
		id := f.Get("TrafficMirrorFilterId")
		if st.deletedFilters[id] {
			return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + id + " not found"}
		}
		for _, s := range st.sessions {
			if s.FilterID == id {
				return nil, &apiError{"DependencyViolation", "filter " + id + " is used by session " + s.ID}
			}
		}
		for rid, r := range st.rules {
			if r.FilterID == id {
				delete(st.rules, rid)
			}
		}
		st.deletedFilters[id] = true
		return struct {
			ID string `xml:"trafficMirrorFilterId"`
		}{id}, nil

	case "DeleteTrafficMirrorTarget":
		id := f.Get("TrafficMirrorTargetId")
		if st.deletedTargets[id] {
			return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + id + " not found"}
		}
		for _, s := range st.sessions {
			if s.TargetID == id {
				return nil, &apiError{"DependencyViolation", "target " + id + " is used by session " + s.ID}
			}
		}
		st.deletedTargets[id] = true
		return struct {
			ID string `xml:"trafficMirrorTargetId"`
		}{id}, nil
	}
	return nil, &apiError{"InvalidAction", action}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// repair mends moto's answers: it records edge associations and puts their
// gatewayId back into DescribeRouteTables, and removes the filters and
// targets deleted through the proxy from their Describe answers.
func (p *MirrorProxy) repair(resp *http.Response) error {
	if sr, ok := resp.Request.Context().Value(ssmKey{}).(ssmRequest); ok {
		if err := p.nicMetrics(resp, sr); err != nil {
			return err
		}
		return p.repairSSM(resp, sr)
	}
	form, _ := resp.Request.Context().Value(actionKey{}).(url.Values)
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") || form == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	switch form.Get("Action") {
	case "AssociateRouteTable":
		return p.recordEdge(resp, form)
	case "DescribeRouteTables":
		return p.addEdges(resp)
	case "DescribeTargetHealth":
		return p.targetHealth(resp)
	case "DescribeTrafficMirrorFilters", "DescribeTrafficMirrorTargets":
	default:
		return nil
	}
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
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	for _, set := range []string{"trafficMirrorFilterSet", "trafficMirrorTargetSet"} {
		body = dropItems(body, set, gone)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
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

// actionKey carries the parsed form of a request passed to moto, for the
// response repairs.
type actionKey struct{}

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
// DescribeRouteTables answer.
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

// metricDatum is one CloudWatch data point put through the proxy.
type metricDatum struct {
	namespace, name string
	dims            map[string]string
	at              time.Time
	value           float64
}

func cborString(m cbor.Map, k string) string {
	v, _ := m[k].(cbor.String)
	return string(v)
}

func cborDims(v cbor.Value) map[string]string {
	out := map[string]string{}
	l, _ := v.(cbor.List)
	for _, d := range l {
		if m, ok := d.(cbor.Map); ok {
			out[cborString(m, "Name")] = cborString(m, "Value")
		}
	}
	return out
}

func cborTime(v cbor.Value) time.Time {
	t, _ := cbor.AsTime(v)
	return t
}

func sameDims(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// serveCloudWatch answers PutMetricData and GetMetricData (Sum of every
// point in the window, as one value) in rpc-v2-cbor.
func (p *MirrorProxy) serveCloudWatch(w http.ResponseWriter, req *http.Request, op string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		if err != nil {
			http.Error(w, "cbor: "+err.Error(), http.StatusBadRequest)
			return
		}
		in, _ = v.(cbor.Map)
	}
	out := cbor.Map{}
	p.mu.Lock()
	p.hits["CloudWatch."+op]++
	switch op {
	case "PutMetricData":
		ns := cborString(in, "Namespace")
		l, _ := in["MetricData"].(cbor.List)
		for _, d := range l {
			m, _ := d.(cbor.Map)
			val, _ := cbor.AsFloat64(m["Value"])
			p.st.metrics = append(p.st.metrics, metricDatum{namespace: ns, name: cborString(m, "MetricName"),
				dims: cborDims(m["Dimensions"]), at: cborTime(m["Timestamp"]), value: val})
		}
	case "GetMetricData":
		from, to := cborTime(in["StartTime"]), cborTime(in["EndTime"])
		var results cbor.List
		l, _ := in["MetricDataQueries"].(cbor.List)
		for _, q := range l {
			qm, _ := q.(cbor.Map)
			stat, _ := qm["MetricStat"].(cbor.Map)
			metric, _ := stat["Metric"].(cbor.Map)
			ns, name, dims := cborString(metric, "Namespace"), cborString(metric, "MetricName"), cborDims(metric["Dimensions"])
			var sum float64
			n := 0
			for _, d := range p.st.metrics {
				if d.namespace == ns && d.name == name && sameDims(d.dims, dims) && !d.at.Before(from) && d.at.Before(to) {
					sum += d.value
					n++
				}
			}
			res := cbor.Map{"Id": qm["Id"], "Label": cbor.String(name), "StatusCode": cbor.String("Complete"),
				"Timestamps": cbor.List{}, "Values": cbor.List{}}
			if n > 0 {
				res["Timestamps"] = cbor.List{&cbor.Tag{ID: 1, Value: cbor.Float64(float64(from.Unix()))}}
				res["Values"] = cbor.List{cbor.Float64(sum)}
			}
			results = append(results, res)
		}
		out["MetricDataResults"] = results
	default:
		p.mu.Unlock()
		w.Header().Set("smithy-protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("InvalidAction"), "message": cbor.String(op + " is not served by the test proxy")}))
		return
	}
	p.mu.Unlock()
	w.Header().Set("smithy-protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(out))
}
