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
	"github.com/google/go-cmp/cmp"
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
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
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
	cases["missing file"] = []string{"plan", "-config", "/nonexistent/dx.conf", "config file /nonexistent/dx.conf does not exist"}
	cases["missing default file"] = []string{"plan", "config file config/dx-monitor.conf does not exist (name one with -config FILE"}
	cases["-set overrides file"] = []string{"plan", "-config", writeConf(t, good), "-set", "VPC_CIDR=10.0.0.0/33", `VPC_CIDR: "10.0.0.0/33"`}
	cases["-stage on plan"] = []string{"plan", "-config", writeConf(t, good), "-stage", "3", `dxdeploy plan: -stage "3": only dxdeploy apply takes -stage`}
	cases["-stage 99"] = []string{"apply", "-config", writeConf(t, good), "-stage", "99", "stage 99 is dxdeploy destroy -force"}
	cases["no region anywhere"] = []string{"plan", "-config", bad("AWS_REGION", ""), "AWS_REGION is missing"}
	cases["destroy without force"] = []string{"destroy", "-config", writeConf(t, good), "add -force to confirm"}
	cases["stage out of range"] = []string{"apply", "-config", writeConf(t, good), "-stage", "42", `dxdeploy apply: -stage "42": want a stage 00-10`}
	cases["-check on plan"] = []string{"plan", "-config", writeConf(t, good), "-check", "allowance", `dxdeploy plan: -check "allowance": only dxdeploy verify takes -check`}
	cases["-check unknown"] = []string{"verify", "-config", writeConf(t, good), "-check", "allowance,bogus", `dxdeploy verify: -check "allowance,bogus": want check names, each once, comma-separated, from infrastructure,routing,`}
	cases["-check twice"] = []string{"verify", "-config", writeConf(t, good), "-check", "fleet,fleet", `dxdeploy verify: -check "fleet,fleet": want check names, each once`}
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

// TestDxdeployAgainstMoto runs the README's quick start: plan (a summary
// line, the JSON with [] lists), apply, apply again, plan again ("No
// changes."), verify (fails: no traffic yet), sync-enis, destroy, and
// destroy again, which says what it looked for.
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
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
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
	var sum struct {
		Type string `json:"type"`
		fabric.Summary
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" || sum.Create != actions[fabric.Create] {
		t.Fatalf("plan -json summary %q: %v", lines[len(lines)-1], err)
	}
	if actions[fabric.Create] < 20 || actions[fabric.Created] != 0 || actions["notice"] != 1 {
		t.Fatalf("plan (want 1 notice that stage 03 changes the production path): %v", actions)
	}
	code, out, errOut = dxdeploy(t, append([]string{"plan"}, common...)...)
	// Warnings (GWLB_TCP_IDLE_TIMEOUT before stage 03) end the line.
	want := fabric.Summary{Create: actions[fabric.Create], Change: actions[fabric.Change], Unchanged: actions[fabric.Exists], Warnings: actions[fabric.Warning]}.PlanLine()
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), want) {
		t.Fatalf("plan: exit %d: %s\n%s\nwant a last line %q", code, errOut, out, want)
	}
	t.Logf("plan:\n%s", out)

	if code, out, errOut = dxdeploy(t, append([]string{"apply"}, common...)...); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, " created "); n < 20 || !strings.Contains(out, fmt.Sprintf("Apply complete: %d created", actions[fabric.Create])) {
		t.Fatalf("apply printed %d created lines:\n%s", n, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"apply"}, common...)...); code != 0 || strings.Contains(out, " created ") || strings.Contains(out, " changed ") ||
		!strings.Contains(out, "Apply complete: 0 created, 0 changed, ") {
		t.Fatalf("second apply: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"plan"}, common...)...); code != 0 || !strings.Contains(out, "No changes. ") {
		t.Fatalf("plan after apply: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"apply", "-stage", "7"}, common...)...); code != 0 || !strings.Contains(out, "07 exists") {
		t.Fatalf("apply -stage 7: exit %d: %s\n%s", code, errOut, out)
	}
	code, out, _ = dxdeploy(t, append([]string{"verify"}, common...)...)
	if code != 1 || !strings.Contains(out, "PASS infrastructure") || !strings.Contains(out, "FAIL traffic") {
		t.Fatalf("verify with no traffic: exit %d, want 1 with a FAIL traffic line:\n%s", code, out)
	}
	// -check: only the checks named, in verify's own order.
	code, out, _ = dxdeploy(t, append([]string{"verify", "-check", "traffic,infrastructure"}, common...)...)
	var checkLines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "PASS ") || strings.HasPrefix(l, "FAIL ") {
			checkLines = append(checkLines, strings.Fields(l)[0]+" "+strings.Fields(l)[1])
		}
	}
	if diff := cmp.Diff([]string{"PASS infrastructure", "FAIL traffic"}, checkLines); code != 1 || diff != "" {
		t.Fatalf("verify -check traffic,infrastructure: exit %d, check lines (-want +got):\n%s\n%s", code, diff, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"sync-enis"}, common...)...); code != 0 || !strings.Contains(out, "0 sessions created, 0 deleted") {
		t.Fatalf("sync-enis: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"sync-enis", "-json"}, common...)...); code != 0 ||
		!strings.HasSuffix(strings.TrimSpace(out), "\n"+`{"type":"sync","created":[],"deleted":[],"full":[],"repaired":[]}`) {
		t.Fatalf("sync-enis -json: exit %d: %s\n%s", code, errOut, out)
	}
	// Failing open by hand: bypass (every route direct), again (nothing to
	// do), restore (behind the health gate).
	if code, out, errOut = dxdeploy(t, append([]string{"bypass"}, common...)...); code != 0 || !strings.Contains(out, "Bypass complete: 6 routes changed.") ||
		strings.Count(out, "bypassed ") != 6 {
		t.Fatalf("bypass: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"bypass"}, common...)...); code != 0 || !strings.Contains(out, "Bypass complete: 0 routes changed.") {
		t.Fatalf("second bypass: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"restore"}, common...)...); code != 0 || !strings.Contains(out, "Restore complete") {
		t.Fatalf("restore: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, _ = dxdeploy(t, append([]string{"verify"}, common...)...); !strings.Contains(out, "PASS routing") {
		t.Fatalf("verify after restore: exit %d:\n%s", code, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"destroy", "-force"}, common...)...); code != 0 || strings.Count(out, " deleted ") < 20 ||
		!strings.Contains(out, "Destroy complete: ") {
		t.Fatalf("destroy: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut = dxdeploy(t, append([]string{"destroy", "-force"}, common...)...); code != 0 ||
		!strings.Contains(out, "Nothing to destroy: no resource tagged Project=dxtest in us-east-1") {
		t.Fatalf("second destroy: exit %d: %s\n%s", code, errOut, out)
	}
}

// TestDxdeployRegionAndProfile: with no AWS_REGION in the file, the
// environment's AWS_REGION, or else AWS_PROFILE's region, is used, as by
// every AWS tool; the file's AWS_REGION wins over the environment's, and
// dxdeploy says so. -v logs the SDK's requests to stderr.
func TestDxdeployRegionAndProfile(t *testing.T) {
	s := mototest.Start(t)
	p := mototest.StartMirrorProxy(t, s)
	t.Setenv("AWS_ENDPOINT_URL", p.URL)
	kv := fabrictest.World(t, p.Config(t))
	withRegion := writeConf(t, kv)
	delete(kv, "AWS_REGION")
	noRegion := writeConf(t, kv)

	t.Setenv("AWS_REGION", "us-east-1")
	if code, out, errOut := dxdeploy(t, "plan", "-config", noRegion); code != 0 || !strings.Contains(out, "Plan: ") {
		t.Fatalf("plan, region from AWS_REGION: exit %d: %s\n%s", code, errOut, out)
	}

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	profiles := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(profiles, []byte("[profile dxmon-test]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", profiles)
	t.Setenv("AWS_PROFILE", "dxmon-test")
	if code, out, errOut := dxdeploy(t, "plan", "-config", noRegion); code != 0 || !strings.Contains(out, "Plan: ") {
		t.Fatalf("plan, region from AWS_PROFILE: exit %d: %s\n%s", code, errOut, out)
	}

	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	code, out, errOut := dxdeploy(t, "plan", "-v", "-config", withRegion)
	if code != 0 || !strings.Contains(errOut, "using AWS_REGION=us-east-1 from the config file, not eu-west-1") || !strings.Contains(out, "Plan: ") {
		t.Fatalf("plan, file and environment disagree: exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(errOut, "Request") || !strings.Contains(errOut, "Response") || !strings.Contains(errOut, "HTTP/1.1 200") {
		t.Fatalf("plan -v logged no SDK requests:\n%s", errOut)
	}
	if !strings.Contains(errOut, "Authorization: (redacted)") || strings.Contains(errOut, "AWS4-HMAC-SHA256") ||
		strings.Contains(errOut, "X-Amz-Security-Token: testing") {
		t.Fatalf("plan -v logged credentials:\n%s", errOut)
	}
}
