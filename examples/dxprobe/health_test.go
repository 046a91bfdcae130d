package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// /healthz is the receive pipeline's health (probe.Pipeline.Health): 200
// while both workers read. /metrics says the loopback device has no ENA
// allowance counters rather than exporting zeros.
func TestHealthzAndNICMetrics(t *testing.T) {
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "1m", "-metrics", "127.0.0.1:0")
	s := sendFlows(t, port, 5, 10)
	p.waitMetric(t, "dxmon_probe_decoded_packets_total", float64(s.packets)) // the workers read
	p.mu.Lock()
	addr := p.metrics
	p.mu.Unlock()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok: 2 workers reading\n" {
		t.Errorf("/healthz: %d %q, want 200 from the pipeline", code, body)
	}
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, `dxmon_nic_allowance_counters_supported{interface="lo"} 0`) {
		t.Errorf("/metrics lacks the unsupported gauge for lo, the device of -listen 127.0.0.1")
	}
	if strings.Contains(metrics, "allowance_exceeded_total{") {
		t.Error("/metrics holds allowance counters for lo, which has none")
	}
	p.stop(t)
}

// A -nic that names no device fails at start, naming the flag and its
// variable.
func TestBadNIC(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args, env []string
		want      string
	}{
		{args: []string{"-nic", "dxena-none0"}, want: `dxprobe: -nic "dxena-none0" (env PROBE_NIC): want auto or a network device of this host`},
		{env: []string{"PROBE_NIC=dxena-none0"}, want: `dxprobe: PROBE_NIC="dxena-none0" (flag -nic): want auto or a network device of this host`},
	} {
		cmd := exec.Command(probeBin, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("%v %v: exit %v, want status 2; stderr:\n%s", c.args, c.env, err, stderr.String())
		}
		if line := strings.TrimSpace(stderr.String()); line != c.want {
			t.Errorf("%v %v: stderr %q, want %q", c.args, c.env, line, c.want)
		}
	}
}
