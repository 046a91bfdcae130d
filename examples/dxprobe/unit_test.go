package main

import (
	"os"
	"strings"
	"testing"
)

// TestSystemdUnitIsHardened checks the unit beside the binary: a dynamic
// user with CAP_NET_ADMIN only, never root.
func TestSystemdUnitIsHardened(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("dxprobe.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = append(set[k], v)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "User": "dxprobe", "AmbientCapabilities": "CAP_NET_ADMIN",
		"CapabilityBoundingSet": "CAP_NET_ADMIN", "Restart": "always", "LimitNOFILE": "1048576",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "KillSignal": "SIGTERM",
	} {
		if got := set[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %s", k, got, want)
		}
	}
	if strings.Contains(string(b), "User=root") {
		t.Error("unit runs as root")
	}
}
