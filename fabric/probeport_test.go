package fabric

import (
	"os"
	"strings"
	"testing"
)

func TestCheckProbeUnitPort(t *testing.T) {
	for unit, ok := range map[string]bool{
		"ExecStart=/usr/local/bin/dxprobe -metrics :${PROBE_HEALTH_PORT} -format json": true,
		"ExecStart=/usr/local/bin/dxprobe -metrics=:9200":                              true,
		"ExecStart=/usr/local/bin/dxprobe -metrics 0.0.0.0:9200":                       true,
		"ExecStart=/usr/local/bin/dxprobe -metrics :9100 -enrich-vpc ${VPC_ID}":        false,
		"ExecStart=/usr/local/bin/dxprobe -format json":                                false,
	} {
		err := checkProbeUnitPort([]byte(unit), 9200)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "PROBE_HEALTH_PORT=9200")) {
			t.Errorf("%q: %v", unit, err)
		}
	}
}

// TestShippedProbeUnitUsesHealthPort: the unit dxdeploy installs serves
// /healthz on PROBE_HEALTH_PORT, whatever it is, defaulting to fabric's
// default, and stage 08 writes the port into the environment file.
func TestShippedProbeUnitUsesHealthPort(t *testing.T) {
	b, err := os.ReadFile("../examples/dxprobe/dxprobe.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int32{9100, 9200, 65535} {
		if err := checkProbeUnitPort(b, port); err != nil {
			t.Errorf("port %d: %v", port, err)
		}
	}
	if !strings.Contains(string(b), "Environment=PROBE_HEALTH_PORT=9100\n") || DefaultProbeHealthPort != 9100 {
		t.Error("the unit's default PROBE_HEALTH_PORT is not fabric's default 9100")
	}
	d := &Deployer{cfg: Config{ProbeHealthPort: 9200}}
	found := false
	for _, e := range d.probeComponent().env {
		found = found || (e.key == "PROBE_HEALTH_PORT" && e.value == "9200")
	}
	if !found {
		t.Error("the probes' environment file lacks PROBE_HEALTH_PORT")
	}
}
