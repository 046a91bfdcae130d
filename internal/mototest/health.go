package mototest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// What moto 5.2 does not model, and the proxy does, after AWS's documents:
//
// Target health. moto answers DescribeTargetHealth with "healthy" for every
// registered running instance, whatever runs on it. On AWS a target is
// healthy only when it answers the target group's health check; until then
// it is "initial" (Elb.RegistrationInProgress, Elb.InitialHealthChecking)
// and, once the checks fail, "unhealthy" (Target.FailedHealthChecks: the
// load balancer could not connect; Target.Timeout; Target.ResponseCodeMismatch)
// — Elastic Load Balancing API reference, "TargetHealth". The proxy reports
// a target that moto calls healthy as healthy only once a Run Command that
// restarts a service ("systemctl restart …") has succeeded on it (the
// software that answers the check is running), and otherwise as unhealthy
// with Target.FailedHealthChecks. SetTargetHealth overrides both.
//
// SSM registration. moto accepts SendCommand for any instance. AWS answers
// InvalidInstanceId while "SSM Agent isn't registered with the SSM
// endpoint" (SSM API reference, SendCommand errors), as it does for a few
// minutes after an instance starts. SSMUnregistered makes the next
// SendCommands naming an instance fail so.
//
// Failed commands. moto reports every invocation as Success. FailCommands
// makes the invocations on an instance end as AWS reports a script that
// exited non-zero: Status and StatusDetails "Failed", ResponseCode 1, the
// script's standard error in StandardErrorContent (SSM API reference,
// GetCommandInvocation).

type targetHealth struct{ state, reason, description string }

type ssmState struct {
	unregistered map[string]int           // instance → SendCommands still refused
	failing      map[string]string        // instance → stderr of its failing commands
	failed       map[[2]string]string     // (command, instance) → stderr
	serving      map[string]bool          // instances a service was restarted on
	health       map[string]*targetHealth // overrides
	nic          nicState                 // metrics commands, see nicmetrics.go
}

func newSSMState() ssmState {
	return ssmState{unregistered: map[string]int{}, failing: map[string]string{}, failed: map[[2]string]string{},
		serving: map[string]bool{}, health: map[string]*targetHealth{}, nic: newNICState()}
}

// SetTargetHealth makes DescribeTargetHealth report the target (an instance
// ID) in state with the reason code and description, in every target group
// it is registered with; an empty state returns it to the proxy's model.
func (p *MirrorProxy) SetTargetHealth(id, state, reason, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if state == "" {
		delete(p.st.ssm.health, id)
		return
	}
	p.st.ssm.health[id] = &targetHealth{state, reason, description}
}

// SSMUnregistered makes the next tries SendCommand calls that name the
// instance fail with InvalidInstanceId.
func (p *MirrorProxy) SSMUnregistered(id string, tries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.ssm.unregistered[id] = tries
}

// FailCommands makes every Run Command sent to the instance from now on
// fail with stderr as its standard error; "" lets them succeed again.
func (p *MirrorProxy) FailCommands(id, stderr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if stderr == "" {
		delete(p.st.ssm.failing, id)
		return
	}
	p.st.ssm.failing[id] = stderr
}

type ssmKey struct{}

type ssmRequest struct {
	op   string
	body []byte
}

func writeJSONError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	_, _ = w.Write(b)
}

// serveSSM answers SendCommand with InvalidInstanceId for unregistered
// instances and passes every other SSM request to moto, remembering it for
// repairSSM.
func (p *MirrorProxy) serveSSM(w http.ResponseWriter, req *http.Request, op string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if op == "SendCommand" {
		var in struct{ InstanceIds []string }
		_ = json.Unmarshal(body, &in)
		p.mu.Lock()
		for _, id := range in.InstanceIds {
			if p.st.ssm.unregistered[id] > 0 {
				p.st.ssm.unregistered[id]--
				p.hits["SSM.SendCommand.InvalidInstanceId"]++
				p.mu.Unlock()
				writeJSONError(w, "InvalidInstanceId", "Instances ["+id+"] not in a valid state for account "+p.Account())
				return
			}
		}
		p.mu.Unlock()
	}
	req = req.WithContext(context.WithValue(req.Context(), ssmKey{}, ssmRequest{op, body}))
	p.rp.ServeHTTP(w, req)
}

// repairSSM records commands moto accepted and rewrites the invocations of
// failing ones.
func (p *MirrorProxy) repairSSM(resp *http.Response, sr ssmRequest) error {
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	switch sr.op {
	case "SendCommand":
		var in struct {
			InstanceIds []string
			Parameters  map[string][]string
		}
		_ = json.Unmarshal(sr.body, &in)
		restarts := false
		for _, c := range in.Parameters["commands"] {
			restarts = restarts || strings.HasPrefix(c, "systemctl restart ")
		}
		return replaceBody(resp, func(b []byte) []byte {
			var out struct {
				Command struct {
					CommandID string `json:"CommandId"`
				}
			}
			_ = json.Unmarshal(b, &out)
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, id := range in.InstanceIds {
				if stderr, ok := p.st.ssm.failing[id]; ok {
					p.st.ssm.failed[[2]string{out.Command.CommandID, id}] = stderr
				} else if restarts {
					p.st.ssm.serving[id] = true
				}
			}
			return b
		})
	case "GetCommandInvocation":
		var in struct {
			CommandID  string `json:"CommandId"`
			InstanceID string `json:"InstanceId"`
		}
		_ = json.Unmarshal(sr.body, &in)
		p.mu.Lock()
		stderr, failed := p.st.ssm.failed[[2]string{in.CommandID, in.InstanceID}]
		p.mu.Unlock()
		if !failed {
			return nil
		}
		return replaceBody(resp, func(b []byte) []byte {
			var out map[string]any
			if json.Unmarshal(b, &out) != nil {
				return b
			}
			out["Status"], out["StatusDetails"], out["ResponseCode"], out["StandardErrorContent"] = "Failed", "Failed", 1, stderr
			nb, err := json.Marshal(out)
			if err != nil {
				return b
			}
			return nb
		})
	}
	return nil
}

var (
	memberRE       = regexp.MustCompile(`(?s)<member>.*?</member>`)
	targetIDRE     = regexp.MustCompile(`<Id>([^<]*)</Id>`)
	targetHealthRE = regexp.MustCompile(`(?s)<TargetHealth>.*?</TargetHealth>`)
)

// targetHealth rewrites moto's DescribeTargetHealth answer after the model
// at the top of this file. Targets moto does not call healthy (unused,
// stopped) keep moto's answer.
func (p *MirrorProxy) targetHealth(resp *http.Response) error {
	p.mu.Lock()
	serving := map[string]bool{}
	for k, v := range p.st.ssm.serving {
		serving[k] = v
	}
	over := map[string]targetHealth{}
	for k, v := range p.st.ssm.health {
		over[k] = *v
	}
	p.mu.Unlock()
	return replaceBody(resp, func(b []byte) []byte {
		return memberRE.ReplaceAllFunc(b, func(m []byte) []byte {
			id := targetIDRE.FindSubmatch(m)
			th := targetHealthRE.Find(m)
			if id == nil || th == nil {
				return m
			}
			h, ok := over[string(id[1])]
			switch {
			case ok:
			case !bytes.Contains(th, []byte("<State>healthy</State>")):
				return m
			case serving[string(id[1])]:
				h = targetHealth{state: "healthy"}
			default:
				h = targetHealth{"unhealthy", "Target.FailedHealthChecks", "Health checks failed"}
			}
			var nb bytes.Buffer
			nb.WriteString("<TargetHealth><State>" + h.state + "</State>")
			if h.reason != "" {
				nb.WriteString("<Reason>" + h.reason + "</Reason>")
			}
			if h.description != "" {
				nb.WriteString("<Description>" + h.description + "</Description>")
			}
			nb.WriteString("</TargetHealth>")
			return bytes.Replace(m, th, nb.Bytes(), 1)
		})
	})
}

// replaceRouteToEndpoint serves ReplaceRoute with a VpcEndpointId, which
// moto 5.2 ignores (the route loses its next hop), as AWS does it: the
// route's target becomes the endpoint. It asks moto to delete the route
// and create it again with the endpoint, and answers as ReplaceRoute.
func (p *MirrorProxy) replaceRouteToEndpoint(w http.ResponseWriter, req *http.Request, form url.Values) {
	call := func(v url.Values) (*http.Response, error) {
		r, err := http.NewRequestWithContext(req.Context(), http.MethodPost, p.motoURL, strings.NewReader(v.Encode()))
		if err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", req.Header.Get("Authorization")) // moto reads the region from it
		if a := req.Header.Get(motoAccountHeader); a != "" {
			r.Header.Set(motoAccountHeader, a)
		}
		return http.DefaultClient.Do(r)
	}
	base := url.Values{"Version": {form.Get("Version")}, "RouteTableId": {form.Get("RouteTableId")},
		"DestinationCidrBlock": {form.Get("DestinationCidrBlock")}}
	del := url.Values{"Action": {"DeleteRoute"}}
	create := url.Values{"Action": {"CreateRoute"}, "VpcEndpointId": {form.Get("VpcEndpointId")}}
	for k, v := range base {
		del[k], create[k] = v, v
	}
	resp, err := call(del)
	if err == nil && resp.StatusCode == http.StatusOK {
		resp.Body.Close()
		resp, err = call(create)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		body = []byte(`<?xml version="1.0" encoding="UTF-8"?><ReplaceRouteResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>mirrorproxy</requestId><return>true</return></ReplaceRouteResponse>`)
	}
	p.mu.Lock()
	p.hits["ReplaceRoute.VpcEndpointId"]++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
