package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/dxmon/dxmon/internal/caps"
)

// TestBadConfiguration runs the real binary with each bad setting: one
// line on stderr naming the flag, its variable, the value and what is
// expected, and exit status 2.
func TestBadConfiguration(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-workers", "-1"}, nil, `-workers "-1" (env APPLIANCE_WORKERS): want 0 (one per CPU) to 1024`},
		{nil, []string{"APPLIANCE_WORKERS=x"}, `APPLIANCE_WORKERS="x" (flag -workers): want a whole number`},
		{[]string{"-listen", "[::1]:6081"}, nil, `-listen "[::1]:6081" (env APPLIANCE_LISTEN): want an IPv4 address or nothing before the port, not "::1"`},
		{[]string{"-listen", "example.com:6081"}, nil, `-listen "example.com:6081" (env APPLIANCE_LISTEN): want an IP address or nothing before the port, not "example.com"`},
		{[]string{"-listen", ":99999"}, nil, `-listen ":99999" (env APPLIANCE_LISTEN): want a port from 0 to 65535 after the colon, not "99999"`},
		{[]string{"-health-protocol", "https"}, nil, `-health-protocol "https" (env APPLIANCE_HEALTH_PROTOCOL): want tcp or http`},
		{nil, []string{"APPLIANCE_HEALTH_PATH=healthz"}, `APPLIANCE_HEALTH_PATH="healthz" (flag -health-path): want a path starting with /`},
		{[]string{"-health", "80"}, nil, `-health "80" (env APPLIANCE_HEALTH_ADDR): want HOST:PORT or :PORT, such as :4789 or 127.0.0.1:9100`},
		{[]string{"-metrics", ":abc"}, nil, `-metrics ":abc" (env APPLIANCE_METRICS): want a port from 0 to 65535 after the colon, not "abc"`},
		{[]string{"-wait", "spin"}, nil, `-wait "spin" (env APPLIANCE_WAIT): want auto, tick, netpoll or blocking`},
		{[]string{"-batch", "0"}, nil, `-batch "0" (env APPLIANCE_BATCH): want 1 to 1024`},
		{[]string{"-recv-buffer", "-1"}, nil, `-recv-buffer "-1" (env APPLIANCE_RECV_BUFFER): want 1 to 1073741824 bytes`},
		{[]string{"-log-format", "xml"}, nil, `-log-format "xml" (env LOG_FORMAT): want text or json`},
		{[]string{"-bogus"}, nil, `unknown flag "-bogus" (dxappliance -h lists the flags)`},
		{[]string{"extra"}, nil, `unexpected argument "extra": every setting is a flag (dxappliance -h lists them)`},
		{[]string{"-nic", "dxena-none0"}, nil, `-nic "dxena-none0" (env APPLIANCE_NIC): want auto or a network device of this host`},
		{nil, []string{"APPLIANCE_DRAIN_DELAY=-1s"}, `APPLIANCE_DRAIN_DELAY="-1s" (flag -drain-delay): want a duration from 0s to 1h, such as 35s`},
	}
	for _, c := range cases {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			code, stderr := runBinary(t, bin, c.args, c.env)
			if code != 2 || stderr != "dxappliance: "+c.want+"\n" {
				t.Errorf("exit %d, stderr %q; want exit 2, %q", code, stderr, "dxappliance: "+c.want+"\n")
			}
		})
	}
}

// TestHelpExitsZero: -h prints the usage and exits 0, as dxprobe -h does.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	code, stderr := runBinary(t, buildBinary(t), []string{"-h"}, nil)
	if code != 0 || !strings.Contains(stderr, "-health-protocol") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", code, stderr)
	}
}

// TestMissingCapabilities runs the binary as root with every capability
// dropped (setpriv's empty bounding set): one line names all those
// missing, exit status 1, before any socket opens.
func TestMissingCapabilities(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop capabilities with setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	bin := buildBinary(t)
	rmemMax := caps.RmemMax()
	admin := ""
	if 32<<20 > rmemMax {
		admin = fmt.Sprintf(", CAP_NET_ADMIN (-recv-buffer 33554432 exceeds net.core.rmem_max %d; or lower -recv-buffer (env APPLIANCE_RECV_BUFFER))", rmemMax)
	}
	const tail = "; run as root or grant them (the systemd unit dxappliance.service does)\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0"},
			"dxappliance: missing capabilities: CAP_NET_RAW (to return packets through raw sockets), CAP_NET_BIND_SERVICE (-health :80: ports below 1024)" + admin + tail},
		{[]string{"-listen", "127.0.0.1:0", "-health", "127.0.0.1:0", "-metrics", "127.0.0.1:443", "-recv-buffer", "4096"},
			"dxappliance: missing capabilities: CAP_NET_RAW (to return packets through raw sockets), CAP_NET_BIND_SERVICE (-metrics 127.0.0.1:443: ports below 1024)" + tail},
	} {
		args := append([]string{"--bounding-set=-all", "--inh-caps=-all", bin}, c.args...)
		code, stderr := runBinary(t, setpriv, args, nil)
		if code != 1 || stderr != c.want {
			t.Errorf("%v: exit %d, stderr %q; want exit 1, %q", c.args, code, stderr, c.want)
		}
	}
}

// TestListenError: a listener refused for lack of privilege is one line
// naming the flag, its variable and CAP_NET_BIND_SERVICE (exit status 1).
func TestListenError(t *testing.T) {
	o, err := parseOptionsAllCaps([]string{"-health", ":80"})
	if err != nil {
		t.Fatal(err)
	}
	err = listenError(o.set, "health", &os.SyscallError{Syscall: "bind", Err: errPermission})
	var pe privilegeError
	if !errors.As(err, &pe) || pe.Error() != `-health ":80" (env APPLIANCE_HEALTH_ADDR): permission denied: ports below 1024 need CAP_NET_BIND_SERVICE or root` {
		t.Errorf("listenError = %#v", err)
	}
}

// runBinary runs bin and returns its exit status and stderr.
func runBinary(t *testing.T, bin string, args, env []string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("run %s: %v", bin, err)
	return 0, ""
}

// parseOptionsAllCaps parses as a process with every capability would.
func parseOptionsAllCaps(args []string) (options, error) {
	old := effectiveCaps
	defer func() { effectiveCaps = old }()
	effectiveCaps = func() (caps.Set, error) { return ^caps.Set(0), nil }
	return parseOptions(args, func(string) string { return "" }, &bytes.Buffer{})
}

func TestEnvironmentGivesDefaults(t *testing.T) {
	env := map[string]string{"APPLIANCE_LISTEN": "127.0.0.1:7000", "APPLIANCE_WORKERS": "3",
		"APPLIANCE_HEALTH_PROTOCOL": "http", "APPLIANCE_METRICS": ""}
	old := effectiveCaps
	defer func() { effectiveCaps = old }()
	effectiveCaps = func() (caps.Set, error) { return ^caps.Set(0), nil }
	o, err := parseOptions([]string{"-workers", "4"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:7000" || o.workers != 4 || o.healthProto != "http" || o.metrics != ":9102" || o.health != ":80" {
		t.Errorf("options %+v", o)
	}
}

var errPermission = syscall.EACCES
