package mototest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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

	ignoreTags bool   // see SetIgnoreTagFilters
	pageSize   int    // see SetPageSize
	account    string // the x-moto-account-id of every request, "" for moto's default (see SharedProxy)

	rp      *httputil.ReverseProxy
	motoURL string
	mu      sync.Mutex
	st      mirrorState
	hits    map[string]int
	eps     endpointState // endpoints.go
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
	prop           propagation // propagation.go
}

// tokenUse is what a ClientToken was first used for: the request's
// parameters (without the token) and the answer.
type tokenUse struct {
	params string
	answer any
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
	serve(t, p)
	return p
}

// serve serves p on a free loopback port until the test ends.
func serve(t testing.TB, p *MirrorProxy) {
	srv := httptest.NewServer(p)
	p.URL = srv.URL
	t.Cleanup(srv.Close)
}

// Config returns an SDK configuration aimed at the proxy.
func (p *MirrorProxy) Config(t testing.TB) aws.Config {
	return (&Server{URL: p.URL}).Config(t)
}

// Account returns the AWS account the proxy's requests act in.
func (p *MirrorProxy) Account() string {
	if p.account == "" {
		return DefaultAccount
	}
	return p.account
}

// Reset forgets every rule and session; call it with Server.Reset.
func (p *MirrorProxy) Reset() {
	p.eps.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = mirrorState{edges: map[string]string{}, rules: map[string]*mirrorRule{}, sessions: map[string]*mirrorSession{}, tokens: map[string]tokenUse{},
		deletedFilters: map[string]bool{}, deletedTargets: map[string]bool{}, ssm: newSSMState(), prop: newPropagation()}
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

// mirrorHandlers serves each of MirrorActions from the proxy's state; the
// caller holds p.mu.
var mirrorHandlers = map[string]func(p *MirrorProxy, f url.Values) (any, *apiError){
	"CreateTrafficMirrorFilterRule":    (*MirrorProxy).createRule,
	"DeleteTrafficMirrorFilterRule":    (*MirrorProxy).deleteRule,
	"DescribeTrafficMirrorFilterRules": (*MirrorProxy).describeRules,
	"CreateTrafficMirrorSession":       (*MirrorProxy).createSession,
	"DeleteTrafficMirrorSession":       (*MirrorProxy).deleteSession,
	"DescribeTrafficMirrorSessions":    (*MirrorProxy).describeSessions,
	"ModifyTrafficMirrorSession":       (*MirrorProxy).modifySession,
	"DeleteTrafficMirrorFilter":        (*MirrorProxy).deleteFilter,
	"DeleteTrafficMirrorTarget":        (*MirrorProxy).deleteTarget,
}

func isServed(action string) bool {
	_, ok := mirrorHandlers[action]
	return ok
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
	if p.account != "" {
		req.Header.Set(motoAccountHeader, p.account)
	}
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
	if action == "EnableVgwRoutePropagation" || action == "DisableVgwRoutePropagation" {
		p.servePropagation(w, form)
		return
	}
	if serveELBValidation(w, action, form) || p.serveEndpoints(w, req, action, form) { // elbattrs.go, endpoints.go
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

func (p *MirrorProxy) do1(action string, f url.Values) (any, *apiError) {
	h, ok := mirrorHandlers[action]
	if !ok {
		return nil, &apiError{"InvalidAction", action}
	}
	return h(p, f)
}
