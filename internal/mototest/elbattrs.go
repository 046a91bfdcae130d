package mototest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// What moto 5.2 accepts and AWS refuses, for the Gateway Load Balancer
// settings fabric makes (fabric/failover.go); the proxy answers these
// requests with AWS's ValidationError instead of passing them to moto:
//
//   - ModifyTargetGroupAttributes with one of target_failover.on_deregistration
//     and target_failover.on_unhealthy without the other, or with different
//     values, or a value other than rebalance and no_rebalance: "The possible
//     values are rebalance and no_rebalance. ... The two attributes
//     (target_failover.on_deregistration and target_failover.on_unhealthy)
//     can't be set independently. The value you set for both attributes must
//     be the same." (Elastic Load Balancing API Reference,
//     TargetGroupAttribute). moto stores any value of either alone.
//   - ModifyListenerAttributes with tcp.idle_timeout.seconds outside 60-6000:
//     "The valid range is 60-6000 seconds. The default is 350 seconds."
//     (API Reference, ListenerAttribute; "Listeners for your Gateway Load
//     Balancers"). moto stores 10.
//   - CreateTargetGroup (GENEVE) and ModifyTargetGroup with health check
//     settings outside the GWLB's ranges: interval 5-300 s and not below
//     the timeout, timeout 2-120 s, healthy and unhealthy thresholds 2-10
//     ("Health checks for Gateway Load Balancer target groups", Health
//     check settings). moto takes any number.
//
// moto checks deregistration_delay.timeout_seconds (0-3600) itself.

// elbValidationError is the error AWS returns for a request that breaks
// these rules, or nil.
func elbValidationError(action string, f url.Values) error {
	switch action {
	case "ModifyTargetGroupAttributes":
		attrs := members(f, "Attributes")
		dereg, hasDereg := attrs["target_failover.on_deregistration"]
		unh, hasUnh := attrs["target_failover.on_unhealthy"]
		for k, v := range map[string]string{"target_failover.on_deregistration": dereg, "target_failover.on_unhealthy": unh} {
			if _, ok := attrs[k]; ok && v != "rebalance" && v != "no_rebalance" {
				return fmt.Errorf("'%s' value '%s' must be one of [rebalance, no_rebalance]", k, v)
			}
		}
		if hasDereg != hasUnh {
			return fmt.Errorf("target_failover.on_deregistration and target_failover.on_unhealthy cannot be set independently")
		}
		if hasDereg && dereg != unh {
			return fmt.Errorf("target_failover.on_deregistration and target_failover.on_unhealthy must have the same value")
		}
	case "ModifyListenerAttributes":
		if v, ok := members(f, "Attributes")["tcp.idle_timeout.seconds"]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < 60 || n > 6000 {
				return fmt.Errorf("'tcp.idle_timeout.seconds' value '%s' must be between '60-6000' inclusive", v)
			}
		}
	case "CreateTargetGroup", "ModifyTargetGroup":
		if action == "CreateTargetGroup" && f.Get("Protocol") != "GENEVE" {
			return nil
		}
		for _, r := range []struct {
			key      string
			min, max int
		}{{"HealthCheckIntervalSeconds", 5, 300}, {"HealthCheckTimeoutSeconds", 2, 120}, {"HealthyThresholdCount", 2, 10}, {"UnhealthyThresholdCount", 2, 10}} {
			if v := f.Get(r.key); v != "" {
				if n, err := strconv.Atoi(v); err != nil || n < r.min || n > r.max {
					return fmt.Errorf("%s '%s' must be between %d and %d", r.key, v, r.min, r.max)
				}
			}
		}
		if i, t := atoi(f.Get("HealthCheckIntervalSeconds")), atoi(f.Get("HealthCheckTimeoutSeconds")); i > 0 && t > 0 && i < t {
			return fmt.Errorf("health check interval %d must be greater than or equal to the timeout %d", i, t)
		}
	}
	return nil
}

// members reads a query-protocol list of Key/Value structures
// (Attributes.member.N.Key, Attributes.member.N.Value) into a map.
func members(f url.Values, list string) map[string]string {
	out := map[string]string{}
	for i := 1; f.Has(fmt.Sprintf("%s.member.%d.Key", list, i)); i++ {
		out[f.Get(fmt.Sprintf("%s.member.%d.Key", list, i))] = f.Get(fmt.Sprintf("%s.member.%d.Value", list, i))
	}
	return out
}

// serveELBValidation answers a request elbValidationError refuses, as
// Elastic Load Balancing does (HTTP 400, ErrorResponse, code
// ValidationError), and reports whether it did.
func serveELBValidation(w http.ResponseWriter, action string, f url.Values) bool {
	err := elbValidationError(action, f)
	if err == nil {
		return false
	}
	var b bytes.Buffer
	b.WriteString(`<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(err.Error()))
	b.WriteString(`</Message></Error><RequestId>mototest-elbattrs</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b.Bytes())
	return true
}
