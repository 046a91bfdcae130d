package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
	"github.com/dxmon/dxmon/internal/mototest"
)

func writeConf(t *testing.T, kv map[string]string) string {
	t.Helper()
	var b strings.Builder
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, kv[k])
	}
	path := filepath.Join(t.TempDir(), "dx-monitor.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func dxdeploy(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestBadConfigMakesNoAWSCall: a missing or malformed key fails with exit
// status 2 and one line naming it, and no request reaches AWS.
func TestBadConfigMakesNoAWSCall(t *testing.T) {
	var hits atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(500) }))
	defer aws.Close()
	t.Setenv("AWS_ENDPOINT_URL", aws.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	good := map[string]string{"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-1",
		"ONPREM_CIDRS": "172.16.0.0/12", "WORKLOAD_SUBNETS": "subnet-1", "GWLBE_SUBNETS": "subnet-2", "BUSINESS_SUBNET_CIDRS": "10.0.1.0/24"}
	cases := map[string][]string{}
	for k := range good {
		kv := map[string]string{}
		for k2, v := range good {
			if k2 != k {
				kv[k2] = v
			}
		}
		cases["missing "+k] = []string{"plan", "-config", writeConf(t, kv), k + " is missing"}
	}
	bad := func(k, v string) string {
		kv := map[string]string{}
		for k2, v2 := range good {
			kv[k2] = v2
		}
		kv[k] = v
		return writeConf(t, kv)
	}
	cases["malformed CIDR"] = []string{"apply", "-config", bad("ONPREM_CIDRS", "172.16.0.0/33"), `ONPREM_CIDRS: "172.16.0.0/33" is not an IPv4 CIDR`}
	cases["business outside VPC"] = []string{"apply", "-config", bad("BUSINESS_SUBNET_CIDRS", "192.168.1.0/24"), "BUSINESS_SUBNET_CIDRS: 192.168.1.0/24 is outside VPC_CIDR"}
	cases["flag overrides file"] = []string{"plan", "-config", writeConf(t, good), "-vpc-cidr", "10.0.0.0/33", `VPC_CIDR: "10.0.0.0/33"`}
	cases["missing file"] = []string{"plan", "-config", "/nonexistent/dx.conf", "no such file"}
	cases["destroy without force"] = []string{"destroy", "-config", writeConf(t, good), "add -force to confirm"}
	cases["stage out of range"] = []string{"apply", "-config", writeConf(t, good), "-stage", "42", `-stage "42"`}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			args, want := c[:len(c)-1], c[len(c)-1]
			code, _, errOut := dxdeploy(t, args...)
			if code != 2 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("dxdeploy %v: exit %d, stderr %q; want 2 and one line naming %q", args, code, errOut, want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached AWS", n)
	}
}

// TestDxdeployAgainstMoto runs the README's quick start: plan, apply,
// apply again, verify (fails: no traffic yet), sync-enis, destroy.
func TestDxdeployAgainstMoto(t *testing.T) {
	s := mototest.Start(t)
	p := mototest.StartMirrorProxy(t, s)
	t.Setenv("AWS_ENDPOINT_URL", p.URL)
	conf := writeConf(t, fabrictest.World(t, p.Config(t)))
	common := []string{"-config", conf, "-poll", "10ms"}

	code, out, errOut := dxdeploy(t, append([]string{"plan", "-json"}, common...)...)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, errOut)
	}
	actions := map[fabric.Action]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Type string `json:"type"`
			fabric.Event
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Type != "resource" {
			t.Fatalf("plan -json line %q: %v", l, err)
		}
		actions[e.Action]++
		if e.Kind == "traffic-path" && strings.Contains(e.Detail, "changes the production path of on-premises traffic") {
			actions["notice"]++
		}
	}
	if actions[fabric.Create] < 20 || actions[fabric.Created] != 0 || actions["notice"] != 1 {
		t.Fatalf("plan (want 1 notice that stage 03 changes the production path): %v", actions)
	}

	if code, out, errOut = dxdeploy(t, append([]string{"apply"}, common...)...); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, " created "); n < 20 {
		t.Fatalf("apply printed %d created lines:\n%s", n, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"apply"}, common...)...); code != 0 || strings.Contains(out, " created ") || strings.Contains(out, " changed ") {
		t.Fatalf("second apply: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"apply", "-stage", "7"}, common...)...); code != 0 || !strings.Contains(out, "07 exists") {
		t.Fatalf("apply -stage 7: exit %d: %s\n%s", code, errOut, out)
	}
	code, out, _ = dxdeploy(t, append([]string{"verify"}, common...)...)
	if code != 1 || !strings.Contains(out, "PASS infrastructure") || !strings.Contains(out, "FAIL traffic") {
		t.Fatalf("verify with no traffic: exit %d, want 1 with a FAIL traffic line:\n%s", code, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"sync-enis"}, common...)...); code != 0 || !strings.Contains(out, "0 sessions created, 0 deleted") {
		t.Fatalf("sync-enis: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"destroy", "-force"}, common...)...); code != 0 || strings.Count(out, " deleted ") < 20 {
		t.Fatalf("destroy: exit %d: %s\n%s", code, errOut, out)
	}
}
