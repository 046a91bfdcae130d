package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad configuration: exit status 2 and one line naming the flag or
// variable and the value.
func TestBadConfiguration(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-workers", "-1"}, nil, "-workers -1 (APPLIANCE_WORKERS)"},
		{nil, map[string]string{"APPLIANCE_WORKERS": "x"}, `APPLIANCE_WORKERS="x"`},
		{[]string{"-listen", "[::1]:6081"}, nil, `-listen "[::1]:6081" (APPLIANCE_LISTEN)`},
		{[]string{"-listen", "example.com:6081"}, nil, `-listen "example.com:6081"`},
		{[]string{"-health-protocol", "https"}, nil, `-health-protocol "https"`},
		{nil, map[string]string{"APPLIANCE_HEALTH_PATH": "healthz"}, `-health-path "healthz" (APPLIANCE_HEALTH_PATH)`},
		{[]string{"-health", "80"}, nil, `-health "80" (APPLIANCE_HEALTH_ADDR)`},
		{[]string{"-metrics", ":99999"}, nil, `-metrics ":99999"`},
		{[]string{"-wait", "spin"}, nil, `-wait "spin"`},
		{[]string{"-batch", "0"}, nil, "-batch 0"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		{[]string{"-nic", "dxena-none0"}, nil, `-nic "dxena-none0" (APPLIANCE_NIC)`},
		{nil, map[string]string{"APPLIANCE_DRAIN_DELAY": "-1s"}, `-drain-delay -1s (APPLIANCE_DRAIN_DELAY)`},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		getenv := func(k string) string { return c.env[k] }
		if code := run(c.args, getenv, &stderr); code != 2 {
			t.Errorf("%v %v: exit %d, want 2", c.args, c.env, code)
		}
		out := stderr.String()
		if !strings.Contains(out, c.want) {
			t.Errorf("%v %v: %q lacks %q", c.args, c.env, out, c.want)
		}
		if strings.Count(strings.TrimSpace(out), "\n") > 0 && !strings.Contains(out, "Usage") {
			t.Errorf("%v: more than one line: %q", c.args, out)
		}
	}
}

func TestEnvironmentGivesDefaults(t *testing.T) {
	env := map[string]string{"APPLIANCE_LISTEN": "127.0.0.1:7000", "APPLIANCE_WORKERS": "3",
		"APPLIANCE_HEALTH_PROTOCOL": "http", "APPLIANCE_METRICS": ""}
	o, err := parseOptions([]string{"-workers", "4"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:7000" || o.workers != 4 || o.healthProto != "http" || o.metrics != ":9102" || o.health != ":80" {
		t.Errorf("options %+v", o)
	}
}
