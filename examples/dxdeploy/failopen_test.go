package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGuardFlagsChecked: guard settings whose bound exceeds 30 s, or that
// are not durations the guard can keep, fail with exit status 2 and one
// line naming the flag, before any AWS call.
func TestGuardFlagsChecked(t *testing.T) {
	conf := writeConf(t, map[string]string{"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-1",
		"ONPREM_CIDRS": "172.16.0.0/12", "WORKLOAD_SUBNETS": "subnet-1", "GWLBE_SUBNETS": "subnet-2", "BUSINESS_SUBNET_CIDRS": "10.0.1.0/24"})
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing may be called
	for args, want := range map[string]string{
		"-every 25s":          "guard -every 25s -tick-timeout 10s: the bound max(every, tick-timeout) + tick-timeout is 35s, over 30s",
		"-every 100ms":        "guard -every 100ms: want at least 1s",
		"-restore-after -1s":  "guard -restore-after -1s: must not be negative",
		"-tick-timeout 500ms": "guard -tick-timeout 500ms: want at least 1s",
	} {
		code, _, errOut := dxdeploy(t, append([]string{"guard", "-config", conf}, strings.Fields(args)...)...)
		if code != 2 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("guard %s: exit %d, %q; want 2 and %q", args, code, errOut, want)
		}
	}
}

// TestGuardUnitHardened: the guard's unit runs dxdeploy guard with the
// README's settings, without any capability, under the same hardening as
// the other units, and systemd-analyze accepts it.
func TestGuardUnitHardened(t *testing.T) {
	b, err := os.ReadFile("dxguard.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/dxdeploy guard -config ${CREDENTIALS_DIRECTORY}/dx-monitor.conf -every 5s -restore-after 2m",
		"\nDynamicUser=yes\n", "\nCapabilityBoundingSet=\n", "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n", "\nProtectHome=yes\n",
		"\nPrivateTmp=yes\n", "\nPrivateDevices=yes\n", "\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
		"\nSystemCallFilter=@system-service\n", "\nMemoryDenyWriteExecute=yes\n", "\nRestart=always\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("dxguard.service lacks %q", want)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "dxguard.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/dxdeploy", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
