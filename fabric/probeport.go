package fabric

import (
	"fmt"
	"regexp"
	"strconv"
)

// One setting for the probes' health port. The NLB's target group checks
// GET /healthz on PROBE_HEALTH_PORT (stage 05) and the probe security
// group admits that port; dxprobe serves /healthz on its -metrics address.
// The unit (examples/dxprobe/dxprobe.service) therefore runs
// "-metrics :${PROBE_HEALTH_PORT}" and stage 08 writes PROBE_HEALTH_PORT
// into the probes' environment file; a unit that names another port is
// refused before anything is uploaded, since its probes would never be
// healthy and the NLB would send the mirror copies to none of them.

var metricsFlagRE = regexp.MustCompile(`-metrics[= ]+"?([^"\s]*)`)

// checkProbeUnitPort fails when the unit's ExecStart gives dxprobe a
// -metrics address on a port other than PROBE_HEALTH_PORT, or none.
func checkProbeUnitPort(unit []byte, port int32) error {
	m := metricsFlagRE.FindSubmatch(unit)
	if m == nil {
		return fmt.Errorf("PROBE_UNIT: dxprobe runs without -metrics, so the NLB's health check of /healthz on PROBE_HEALTH_PORT=%d never succeeds; use -metrics :${PROBE_HEALTH_PORT}", port)
	}
	addr := string(m[1])
	if addr == ":${PROBE_HEALTH_PORT}" || addr == ":$PROBE_HEALTH_PORT" {
		return nil
	}
	if i := regexp.MustCompile(`:(\d+)$`).FindStringSubmatch(addr); i != nil {
		if n, _ := strconv.Atoi(i[1]); n == int(port) {
			return nil
		}
	}
	return fmt.Errorf("PROBE_UNIT: dxprobe runs with -metrics %s but the NLB checks /healthz on PROBE_HEALTH_PORT=%d; use -metrics :${PROBE_HEALTH_PORT}", addr, port)
}
