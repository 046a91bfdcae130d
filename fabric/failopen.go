package fabric

import (
	"context"
	"fmt"
	"strings"
)

// FailOpenStatement says, in plain words, what the guard does with the
// default settings and how fast.
func FailOpenStatement() string {
	return fmt.Sprintf("fails open: dxdeploy guard (a systemd unit on the probes, every %s) takes an AZ's appliances out of the path "+
		"(its VGW ingress routes and return routes go direct) when its GWLB endpoint can reach no healthy appliance "+
		"(with cross-zone load balancing on: none healthy in any AZ), at most %s after the GWLB marks the last one unhealthy "+
		"(health check interval × unhealthy threshold); it puts them back after %s of health; dxdeploy bypass and dxdeploy restore do the same by hand",
		DefaultGuardEvery, GuardBound(DefaultGuardEvery, DefaultGuardTickTimeout), DefaultGuardRestoreAfter)
}

// failOpenNotice is stage 03's plan line about the guard.
func (r *run) failOpenNotice() {
	r.event("fail-open", "dxdeploy guard", "", Info, FailOpenStatement())
}

// checkFailOpen adds to verify's routing check: the guard's statement, an
// operator's hold, the AZs whose routes go direct, and shadowing routes.
func (r *run) checkFailOpen(ctx context.Context, c *Check) {
	v, err := r.d.readPaths(ctx)
	if err != nil {
		c.Problems, c.OK = append(c.Problems, fmt.Sprintf("fail-open state: %v", err)), false
		return
	}
	if v.ingress != nil {
		if v.held() {
			c.Problems = append(c.Problems, "the appliances are bypassed by dxdeploy bypass (tag "+TagBypass+" on "+r.d.routeTableName()+
				"): on-premises traffic flows direct and unobserved; dxdeploy restore puts them back")
		}
		var direct []string
		for _, a := range v.azs {
			if p := r.d.path(v, a); p != PathInline {
				direct = append(direct, a.az+" "+string(p))
			}
		}
		if len(direct) > 0 && !v.held() {
			c.Problems = append(c.Problems, "routes not through the appliances in "+strings.Join(direct, ", ")+
				" (a guard's bypass while no healthy appliance is reachable, or an interrupted change): dxdeploy guard restores them after its -restore-after of health")
		}
	}
	if c.Detail != "" {
		c.Detail += "; "
	}
	c.Detail += fmt.Sprintf("guard: bypass within %s of the GWLB's detection, restore after %s healthy",
		GuardBound(DefaultGuardEvery, DefaultGuardTickTimeout), DefaultGuardRestoreAfter)
	c.OK = len(c.Problems) == 0
	r.checkShadowRoutes(ctx, c)
}
