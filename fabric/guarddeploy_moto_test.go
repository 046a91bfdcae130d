package fabric_test

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
)

// TestMotoGuardDeployed: with GUARD_BINARY, stage 08 installs the guard on
// every probe: dxguard.service (the repository's hardened unit) and a
// configuration that dxdeploy parses back to the same deployment, secret
// included but never shown; the probes carry its version; the probe role
// may read the guard's artifacts. Without GUARD_BINARY the plan says that
// nothing fails the path open by itself.
func TestMotoGuardDeployed(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	var events []fabric.Event
	if _, err := shortWait(t, w.kv, cfg, &events, 30*time.Second).Plan(ctx); err != nil {
		t.Fatal(err)
	}
	skipped := false
	for _, e := range events {
		skipped = skipped || (e.Kind == "guard-deployment" && e.Action == fabric.Skipped && strings.Contains(e.Detail, "GUARD_BINARY unset"))
	}
	if !skipped {
		t.Errorf("plan without GUARD_BINARY does not say the guard is not installed")
	}

	bin := filepath.Join(t.TempDir(), "dxdeploy")
	if err := os.WriteFile(bin, fabrictest.ELF(elf.EM_AARCH64), 0o755); err != nil {
		t.Fatal(err)
	}
	const secret = "https://hooks.slack.example/services/T000/B000/SECRETSECRET"
	kv := withKV(w.kv, "GUARD_BINARY", bin, "GUARD_UNIT", "../examples/dxdeploy/dxguard.service", "SLACK_WEBHOOK_URL", secret,
		"SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:dx")
	events = nil
	d := shortWait(t, kv, cfg, &events, 30*time.Second)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	version, conf := artifact(t, cfg, "dxguard", "dxguard.env")
	got, err := fabric.ReadKeyValues(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := fabric.ParseConfig(got)
	if err != nil {
		t.Fatalf("the guard's configuration does not parse: %v\n%s", err, conf)
	}
	want := d.Config()
	if parsed.VPCID != want.VPCID || parsed.VGWID != want.VGWID || parsed.ProjectTag != want.ProjectTag || !parsed.ReturnRoutes ||
		parsed.SlackWebhookURL != secret || parsed.SNSTopicARN != want.SNSTopicARN || strings.Join(parsed.GWLBESubnets, " ") != strings.Join(want.GWLBESubnets, " ") ||
		len(parsed.BusinessCIDRs) != 2 || len(parsed.OnPremCIDRs) != 2 {
		t.Errorf("the guard's configuration differs from the deployment's:\n%s", conf)
	}
	_, unit := artifact(t, cfg, "dxguard", "dxguard.service")
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/dxdeploy guard -config ${CREDENTIALS_DIRECTORY}/dx-monitor.conf") ||
		!strings.Contains(unit, "LoadCredential=dx-monitor.conf:"+fabric.GuardConfigFile) {
		t.Errorf("dxguard.service shipped:\n%s", unit)
	}
	for _, e := range events {
		if strings.Contains(e.String(), "SECRET") {
			t.Errorf("event shows the webhook secret: %v", e)
		}
	}
	probes := instancesByRole(t, ec2.NewFromConfig(cfg), fabrictest.Project, "probe")
	if len(probes) != 4 { // two per AZ (N+1) in both AZs
		t.Fatalf("%d probes, want 4", len(probes))
	}
	for _, i := range probes {
		if v := tagValueOf(i.Tags, fabric.TagGuardVersion); v != version {
			t.Errorf("probe %s has %s=%q, want %s", aws.ToString(i.InstanceId), fabric.TagGuardVersion, v, version)
		}
	}
	readable := false
	for _, s := range d.ProbePolicy("123456789012").Statement {
		readable = readable || (s.Sid == "GuardArtifacts" && strings.HasSuffix(s.Resource[0], "/dxguard/*"))
	}
	if !readable {
		t.Errorf("the probe role cannot read the guard's artifacts: %+v", d.ProbePolicy("123456789012"))
	}
}
