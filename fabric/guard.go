package fabric

import (
	"fmt"
	"sort"
	"time"
)

// Failing open: the guard's decisions.
//
// A Gateway Load Balancer forwards an endpoint's traffic only to healthy
// targets, and with no healthy target the traffic is dropped: "If the
// Gateway Load Balancer cannot reach the target, the traffic is dropped"
// (Elastic Load Balancing, Gateway Load Balancers, "Edit target group
// attributes", Target failover). Which targets an endpoint can reach
// depends on cross-zone load balancing: "When cross-zone load balancing is
// on, each load balancer node distributes traffic across the registered
// targets in all registered Availability Zones. When cross-zone load
// balancing is off, each load balancer node distributes traffic across
// only the registered targets in its Availability Zone" (Elastic Load
// Balancing, "Cross-zone load balancing for target groups"); for Gateway
// Load Balancers "cross-zone load balancing is turned off by default" (AWS
// re:Post Knowledge Center, elb-dns-cross-zone-balance-configuration). A
// GWLB endpoint is served by the load balancer node of its own AZ, so an
// AZ's endpoint reaches a healthy appliance when some target is healthy
// anywhere (cross-zone on) or in its own AZ (cross-zone off). The guard
// reads the load balancer's load_balancing.cross_zone.enabled attribute
// from AWS on every tick, so the rule is right whichever way it is set.
//
// DecideGuard is the whole policy, a pure function of what one tick saw:
//
//   - an AZ whose endpoint reaches no healthy target is bypassed (its
//     routes go direct) at once;
//   - an AZ whose endpoint reaches a healthy target is never bypassed;
//   - a bypassed AZ is restored only once its endpoint has reached a
//     healthy target at every tick for RestoreAfter, and never while an
//     operator's `dxdeploy bypass` holds the path direct.

// GuardPath is where an AZ's on-premises traffic flows, as its routes say.
type GuardPath string

// The paths of an AZ's routes.
const (
	PathInline GuardPath = "inline" // every route through the AZ's GWLB endpoint
	PathDirect GuardPath = "direct" // no route through it: VGW ↔ subnet directly
	PathMixed  GuardPath = "mixed"  // some of each: an interrupted bypass or restore
)

// AZView is what one tick saw of the routes of one AZ that has business
// subnets.
type AZView struct {
	AZ string
	// Path is where the AZ's routes send traffic now.
	Path GuardPath
}

// GuardInput is everything DecideGuard decides from.
type GuardInput struct {
	Now time.Time
	// CrossZone is the GWLB's load_balancing.cross_zone.enabled.
	CrossZone bool
	// Held is true while an operator's bypass holds every AZ direct.
	Held bool
	// RestoreAfter is how long an AZ's endpoint must have reached a
	// healthy target, at every tick, before its routes are restored.
	RestoreAfter time.Duration
	// Healthy counts the healthy GWLB targets by AZ, every AZ of the
	// load balancer included, not only those with business subnets.
	Healthy map[string]int
	AZs     []AZView
}

// GuardState is what the guard remembers between ticks: since when each
// AZ's endpoint has reached a healthy target without a break. The zero
// value is a guard that has seen nothing (after a start, or after a tick
// that could not read AWS).
type GuardState struct {
	HealthySince map[string]time.Time
}

// GuardAction is what a decision asks of an AZ's routes.
type GuardAction string

// The guard's actions.
const (
	GuardKeep    GuardAction = "keep"    // change nothing
	GuardBypass  GuardAction = "bypass"  // every route of the AZ direct
	GuardRestore GuardAction = "restore" // every route of the AZ through its endpoint
)

// GuardDecision is the decision for one AZ, with its reason in words.
type GuardDecision struct {
	AZ     string
	Action GuardAction
	Reason string
}

// Reachable reports whether the endpoint of az reaches a healthy target.
func (in GuardInput) Reachable(az string) bool {
	for a, n := range in.Healthy {
		if n > 0 && (in.CrossZone || a == az) {
			return true
		}
	}
	return false
}

// DecideGuard decides, for every AZ of in, whether to bypass, restore or
// keep its routes, and returns the state to pass to the next tick. It is
// pure: the same arguments give the same answer, and st is not modified.
// Decisions are sorted by AZ.
func DecideGuard(st GuardState, in GuardInput) (GuardState, []GuardDecision) {
	next := GuardState{HealthySince: map[string]time.Time{}}
	var out []GuardDecision
	for _, v := range in.AZs {
		d := GuardDecision{AZ: v.AZ, Action: GuardKeep}
		if !in.Reachable(v.AZ) {
			where := "in " + v.AZ
			if in.CrossZone {
				where = "in any AZ (cross-zone load balancing on)"
			}
			if v.Path == PathDirect {
				d.Reason = "no healthy appliance " + where + "; already direct"
			} else {
				d.Action, d.Reason = GuardBypass, "no healthy appliance "+where+": GWLB drops this AZ's traffic"
			}
			out = append(out, d)
			continue
		}
		since, ok := st.HealthySince[v.AZ]
		if !ok || since.After(in.Now) {
			since = in.Now
		}
		next.HealthySince[v.AZ] = since
		healthyFor := in.Now.Sub(since)
		switch {
		case v.Path == PathInline:
			d.Reason = "healthy appliance reachable; through the appliances"
		case in.Held:
			d.Reason = "held direct by dxdeploy bypass (run dxdeploy restore)"
		case healthyFor >= in.RestoreAfter:
			d.Action, d.Reason = GuardRestore, fmt.Sprintf("healthy appliance reachable for %s (restore after %s)", healthyFor, in.RestoreAfter)
		default:
			d.Reason = fmt.Sprintf("healthy appliance reachable for %s of %s before restoring", healthyFor, in.RestoreAfter)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AZ < out[j].AZ })
	return next, out
}
