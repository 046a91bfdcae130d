package fabric_test

import (
	"context"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
)

// Stages without 03 (routing) and 08 (probe deployment).
var buildStages = []fabric.Stage{fabric.StageSecurity, fabric.StageGWLB, fabric.StageProbes, fabric.StageNLB,
	fabric.StageFilter, fabric.StageSessions}

func shortWait(t *testing.T, kv map[string]string, cfg aws.Config, events *[]fabric.Event, wait time.Duration) *fabric.Deployer {
	t.Helper()
	conf, err := fabric.ParseConfig(kv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := fabric.New(conf, fabric.NewClients(cfg), fabric.Options{PollInterval: 5 * time.Millisecond, WaitTimeout: wait,
		Observer: func(e fabric.Event) {
			if events != nil {
				*events = append(*events, e) // the Observer is called one event at a time
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func withKV(kv map[string]string, set ...string) map[string]string {
	out := map[string]string{}
	for k, v := range kv {
		out[k] = v
	}
	for i := 0; i+1 < len(set); i += 2 {
		out[set[i]] = set[i+1]
	}
	return out
}

// artifact reads s3://<project bucket>/<name>/<version>/<file> back, for the
// one version present.
func artifact(t *testing.T, cfg aws.Config, name, file string) (string, string) {
	t.Helper()
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	bs, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs.Buckets {
		if !strings.HasPrefix(aws.ToString(b.Name), fabrictest.Project+"-") {
			continue
		}
		objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b.Name, Prefix: aws.String(name + "/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), "/"+file) {
				out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: b.Name, Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(out.Body)
				out.Body.Close()
				return strings.Split(aws.ToString(o.Key), "/")[1], string(body)
			}
		}
	}
	t.Fatalf("no s3 object %s/*/%s", name, file)
	return "", ""
}

// TestMotoEnvFilesAndVersions: stage 08 writes dxprobe.env from the
// configuration (secrets included, never in an event), stage 02 writes
// dxappliance.env, both versioned with their binary; changing a value
// makes a new version that the next apply installs.
func TestMotoEnvFilesAndVersions(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	const secret = "https://hooks.slack.example/services/T000/B000/SECRETSECRET"
	kv := withKV(w.kv, "SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:dx", "PROBE_IPFIX", "udp://192.0.2.10:4739",
		"SLACK_WEBHOOK_URL", secret, "PROBE_WORKERS", "4")
	var events []fabric.Event
	d := shortWait(t, kv, cfg, &events, 30*time.Second)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	version, env := artifact(t, cfg, "dxprobe", "dxprobe.env")
	want := `# written by dxdeploy from dx-monitor.conf; replaced on every deployment
AWS_REGION="us-east-1"
MIRROR_VNI="12345"
ONPREM_CIDRS="172.16.0.0/12,192.168.0.0/16"
PROBE_FLEET_TABLE="` + kv["PROJECT_TAG"] + `-fleet"
PROBE_HEALTH_PORT="9100"
PROBE_IPFIX="udp://192.0.2.10:4739"
PROBE_WORKERS="4"
SLACK_WEBHOOK_URL="` + secret + `"
SNS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:dx"
VPC_CIDR="` + kv["VPC_CIDR"] + `"
VPC_ID="` + kv["VPC_ID"] + `"
`
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("dxprobe.env (-want +got):\n%s", diff)
	}
	aversion, aenv := artifact(t, cfg, "dxappliance", "dxappliance.env")
	wantApp := `# written by dxdeploy from dx-monitor.conf; replaced on every deployment
APPLIANCE_DRAIN_DELAY="35s"
APPLIANCE_HEALTH_ADDR=":80"
APPLIANCE_HEALTH_PROTOCOL="tcp"
APPLIANCE_LISTEN=":6081"
AWS_REGION="us-east-1"
`
	if diff := cmp.Diff(wantApp, aenv); diff != "" {
		t.Errorf("dxappliance.env (-want +got):\n%s", diff)
	}
	// The collector is outside the VPC: the probes' security group lets
	// the export out (issue 17 item 6).
	sgs, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{"dxtest-probe-sg"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("probe security group: %v", err)
	}
	ipfixOut := false
	for _, p := range sgs.SecurityGroups[0].IpPermissionsEgress {
		for _, r := range p.IpRanges {
			ipfixOut = ipfixOut || (aws.ToString(p.IpProtocol) == "udp" && aws.ToInt32(p.FromPort) == 4739 && aws.ToInt32(p.ToPort) == 4739 &&
				aws.ToString(r.CidrIp) == "192.0.2.10/32")
		}
	}
	if !ipfixOut {
		t.Errorf("probe security group egress lacks udp/4739 to the IPFIX collector 192.0.2.10: %+v", sgs.SecurityGroups[0].IpPermissionsEgress)
	}
	for _, e := range events {
		if strings.Contains(e.String(), "SECRET") {
			t.Errorf("event shows the webhook secret: %v", e)
		}
	}
	ec := ec2.NewFromConfig(cfg)
	for role, tag := range map[string]string{"probe": fabric.TagProbeVersion, "appliance": fabric.TagApplianceVersion} {
		v := version
		if role == "appliance" {
			v = aversion
		}
		for _, i := range instancesByRole(t, ec, fabrictest.Project, role) {
			if got := tagValueOf(i.Tags, tag); got != v {
				t.Errorf("%s %s has %s=%q, want %s", role, aws.ToString(i.InstanceId), tag, got, v)
			}
		}
	}

	// A new webhook is a new probe version: plan says so, apply installs it.
	d2 := shortWait(t, withKV(kv, "SLACK_WEBHOOK_URL", secret+"2"), cfg, &events, 30*time.Second)
	events = nil
	if _, err := d2.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, e := range events {
		if e.Kind == "probe-deployment" && e.Action == fabric.Create {
			creates++
		}
		if e.Kind == "appliance-deployment" && e.Action != fabric.Exists {
			t.Errorf("appliance redeployed for a probe setting: %v", e)
		}
	}
	if creates != 4 { // two AZs, two probes each (LINK_BPS=1G)
		t.Errorf("plan after a new webhook: %d probe deployments, want 4: %v", creates, events)
	}
	if err := d2.Apply(ctx, fabric.StageDeploy); err != nil {
		t.Fatal(err)
	}
	for _, i := range instancesByRole(t, ec, fabrictest.Project, "probe") {
		if got := tagValueOf(i.Tags, fabric.TagProbeVersion); got == version || got == "" {
			t.Errorf("probe %s still at %q after the new webhook", aws.ToString(i.InstanceId), got)
		}
	}
}

func tagValueOf(tags []ec2types.Tag, k string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == k {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// TestMotoELFArchitecture: a binary that is not a linux ELF for the
// instance type's architecture (DescribeInstanceTypes) fails the stage in
// one line naming the key, the file's architecture and the required one,
// before anything is uploaded or installed.
func TestMotoELFArchitecture(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	dir := t.TempDir()
	x86 := filepath.Join(dir, "x86")
	text := filepath.Join(dir, "text")
	arm := filepath.Join(dir, "arm")
	for p, b := range map[string][]byte{x86: fabrictest.ELF(elf.EM_X86_64), text: []byte("#!/bin/sh\necho not a binary\n"), arm: fabrictest.ELF(elf.EM_AARCH64)} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, buildStages...); err != nil {
		t.Fatalf("build: %v", err)
	}
	cases := []struct {
		stage fabric.Stage
		set   []string
		want  string
	}{
		{fabric.StageDeploy, []string{"PROBE_BINARY", x86}, "stage 08: PROBE_BINARY: " + x86 + " is a linux/x86_64 ELF; PROBE_INSTANCE_TYPE c6gn.2xlarge needs arm64"},
		{fabric.StageGWLB, []string{"APPLIANCE_BINARY", text}, "stage 02: APPLIANCE_BINARY: " + text + " is not an ELF file; APPLIANCE_INSTANCE_TYPE c6g.8xlarge needs a linux arm64 executable"},
		// An x86 type cannot run the arm64 AMI: stage 00 says so before
		// any binary is looked at.
		{fabric.StageDeploy, []string{"PROBE_BINARY", arm, "PROBE_INSTANCE_TYPE", "c5.large"}, "stage 00: instance-type c5.large: PROBE_INSTANCE_TYPE: c5.large runs x86_64, not arm64, the architecture of the AMI"},
	}
	for _, c := range cases {
		d := shortWait(t, withKV(w.kv, c.set...), cfg, nil, 30*time.Second)
		calls.reset(0, false)
		err := d.Apply(ctx, c.stage)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want one line containing %q", c.set, err, c.want)
		}
		for _, m := range calls.list() {
			if m == "PutObject" || m == "SendCommand" {
				t.Errorf("%v: %s called before the architecture check failed", c.set, m)
			}
		}
	}
}

// TestMotoSSMRegistrationAndStderr: SendCommand is retried while SSM says
// InvalidInstanceId (an agent not registered yet), with a progress event
// per try; a command that fails shows its standard error in the error;
// an agent that never registers fails after WaitTimeout naming the cause.
func TestMotoSSMRegistrationAndStderr(t *testing.T) {
	proxy, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, buildStages...); err != nil {
		t.Fatalf("build: %v", err)
	}
	probes := instancesByRole(t, ec2.NewFromConfig(cfg), fabrictest.Project, "probe")
	p0, p1 := aws.ToString(probes[0].InstanceId), aws.ToString(probes[1].InstanceId)

	proxy.SSMUnregistered(p0, 3)
	var events []fabric.Event
	d = shortWait(t, w.kv, cfg, &events, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageDeploy); err != nil {
		t.Fatalf("deploy while the agent registers: %v", err)
	}
	waits := 0
	for _, e := range events {
		if e.Action == fabric.Waiting && strings.Contains(e.Detail, "InvalidInstanceId") && strings.Contains(e.Name, p0) {
			waits++
		}
	}
	if waits != 3 {
		t.Errorf("%d waiting events for SSM registration, want 3: %v", waits, events)
	}
	if n := proxy.Hits()["SSM.SendCommand.InvalidInstanceId"]; n != 3 {
		t.Errorf("SendCommand refused %d times, want 3", n)
	}

	// A new version whose script fails on p1: the error shows its stderr.
	proxy.FailCommands(p1, "install: cannot create regular file '/usr/local/bin/dxprobe.new': No space left on device")
	d = shortWait(t, withKV(w.kv, "PROBE_WORKERS", "8"), cfg, nil, 30*time.Second)
	err := d.Apply(ctx, fabric.StageDeploy)
	if err == nil || !strings.Contains(err.Error(), p1) || !strings.Contains(err.Error(), "Failed (exit 1): install: cannot create regular file") ||
		!strings.Contains(err.Error(), "No space left on device") {
		t.Errorf("failed command: err = %v, want the instance, status and stderr", err)
	}
	proxy.FailCommands(p1, "")

	// An agent that never registers: bounded, and the error says why.
	proxy.SSMUnregistered(p0, 1<<30)
	d = shortWait(t, withKV(w.kv, "PROBE_WORKERS", "16"), cfg, nil, 300*time.Millisecond)
	err = d.Apply(ctx, fabric.StageDeploy)
	if err == nil || !strings.Contains(err.Error(), "not registered with SSM after 300ms") || !strings.Contains(err.Error(), "InvalidInstanceId") {
		t.Errorf("agent never registers: err = %v", err)
	}
}

// TestMotoMirrorFilterGeneveRule: stage 06 leaves exactly one rule — inbound,
// UDP (17) to port 6081, VPC CIDR to VPC CIDR — replacing the rules of the
// old design (on-prem CIDRs both ways, no protocol).
func TestMotoMirrorFilterGeneveRule(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageProbes, fabric.StageNLB, fabric.StageFilter); err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg)
	_, filter := mirrorIDsOnly(t, ec)
	rules, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: aws.String(filter)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.TrafficMirrorFilterRules {
		if _, err := ec.DeleteTrafficMirrorFilterRule(ctx, &ec2.DeleteTrafficMirrorFilterRuleInput{TrafficMirrorFilterRuleId: r.TrafficMirrorFilterRuleId}); err != nil {
			t.Fatal(err)
		}
	}
	// The old design's rules.
	for i, r := range [][3]string{{"ingress", "172.16.0.0/12", "10.0.0.0/16"}, {"egress", "10.0.0.0/16", "172.16.0.0/12"}, {"ingress", "0.0.0.0/0", "0.0.0.0/0"}} {
		if _, err := ec.CreateTrafficMirrorFilterRule(ctx, &ec2.CreateTrafficMirrorFilterRuleInput{TrafficMirrorFilterId: aws.String(filter),
			TrafficDirection: ec2types.TrafficDirection(r[0]), RuleNumber: aws.Int32(int32(100 * (i + 1))), RuleAction: ec2types.TrafficMirrorRuleActionAccept,
			SourceCidrBlock: aws.String(r[1]), DestinationCidrBlock: aws.String(r[2])}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Apply(ctx, fabric.StageFilter); err != nil {
		t.Fatal(err)
	}
	rules, err = ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: aws.String(filter)})
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		Dir, Action, Src, Dst string
		Num, Proto, From, To  int32
		SrcPorts              bool
	}
	var got []rule
	for _, r := range rules.TrafficMirrorFilterRules {
		x := rule{Dir: string(r.TrafficDirection), Action: string(r.RuleAction), Src: aws.ToString(r.SourceCidrBlock), Dst: aws.ToString(r.DestinationCidrBlock),
			Num: aws.ToInt32(r.RuleNumber), Proto: aws.ToInt32(r.Protocol), SrcPorts: r.SourcePortRange != nil}
		if p := r.DestinationPortRange; p != nil {
			x.From, x.To = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
		}
		got = append(got, x)
	}
	want := []rule{{Dir: "ingress", Action: "accept", Src: "10.0.0.0/16", Dst: "10.0.0.0/16", Num: 100, Proto: 17, From: 6081, To: 6081}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("filter rules (-want +got):\n%s", diff)
	}
	if fabric.FilterRuleCount() != len(want) || fabric.FilterRuleCount() > fabric.MaxRulesPerFilter {
		t.Fatalf("FilterRuleCount() = %d", fabric.FilterRuleCount())
	}
}

func mirrorIDsOnly(t *testing.T, ec *ec2.Client) (string, string) {
	t.Helper()
	ctx := context.Background()
	tf := []ec2types.Filter{{Name: aws.String("tag:Project"), Values: []string{fabrictest.Project}}}
	fl, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{Filters: tf})
	if err != nil || len(fl.TrafficMirrorFilters) != 1 {
		t.Fatalf("mirror filters: %v %v", fl, err)
	}
	return "", aws.ToString(fl.TrafficMirrorFilters[0].TrafficMirrorFilterId)
}

// sortedRoutes lists a route table's routes as "cidr → target".
func sortedRoutes(t *testing.T, ec *ec2.Client, subnet string) []string {
	t.Helper()
	out, err := ec.DescribeRouteTables(context.Background(), &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil || len(out.RouteTables) != 1 {
		t.Fatalf("route table of %s: %v %v", subnet, out, err)
	}
	var l []string
	for _, r := range out.RouteTables[0].Routes {
		if c := aws.ToString(r.DestinationCidrBlock); c != "10.0.0.0/16" {
			l = append(l, c+" → "+aws.ToString(r.GatewayId))
		}
	}
	sort.Strings(l)
	return l
}

// TestMotoApplianceWithoutProfile: an appliance without an instance profile
// (launched before appliances had a role) gets the appliance profile
// associated by stage 02, planned as a change, and only once.
func TestMotoApplianceWithoutProfile(t *testing.T) {
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	d := shortWait(t, w.kv, cfg, nil, 30*time.Second)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageGWLB); err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg)
	app := aws.ToString(instancesByRole(t, ec, fabrictest.Project, "appliance")[0].InstanceId)
	assoc := func() []string {
		out, err := ec.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{Filters: []ec2types.Filter{
			{Name: aws.String("instance-id"), Values: []string{app}}}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range out.IamInstanceProfileAssociations {
			ids = append(ids, aws.ToString(a.AssociationId))
		}
		return ids
	}
	for _, id := range assoc() {
		if _, err := ec.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	var events []fabric.Event
	d = shortWait(t, w.kv, cfg, &events, 30*time.Second)
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	planned := 0
	for _, e := range events {
		if e.Action == fabric.Change && e.Name == app && strings.Contains(e.Detail, "associate instance profile "+fabrictest.Project+"-appliance-profile") {
			planned++
		}
	}
	if planned != 1 {
		t.Errorf("plan: %d profile associations for %s, want 1: %v", planned, app, events)
	}
	if err := d.Apply(ctx, fabric.StageGWLB); err != nil {
		t.Fatal(err)
	}
	if n := len(assoc()); n != 1 {
		t.Errorf("%s has %d profile associations after stage 02, want 1", app, n)
	}
	calls.reset(0, false)
	if err := d.Apply(ctx, fabric.StageGWLB); err != nil || len(calls.list()) != 0 {
		t.Errorf("stage 02 again: %v, mutating calls %v", err, calls.list())
	}
}
