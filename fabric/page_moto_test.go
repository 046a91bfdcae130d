package fabric_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/dxmon/dxmon/fabric"
)

// probeIngress reads the probes' group's ingress rules from the emulator,
// as "tcp/9100 192.0.2.0/24".
func probeIngress(t *testing.T, cfg aws.Config) []string {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"dxtest-probe-sg"}}}})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("probe security group: %v (%d groups)", err, len(out.SecurityGroups))
	}
	var rules []string
	for _, p := range out.SecurityGroups[0].IpPermissions {
		for _, r := range p.IpRanges {
			rules = append(rules, fabric.Rule{Protocol: aws.ToString(p.IpProtocol), From: aws.ToInt32(p.FromPort),
				To: aws.ToInt32(p.ToPort), CIDR: aws.ToString(r.CidrIp)}.String())
		}
	}
	slices.Sort(rules)
	return rules
}

// TestMotoProbePageRule: the probes' page port opens to ADMIN_CIDR only;
// with no ADMIN_CIDR there is no such rule and the plan says so; a rule
// left from an earlier ADMIN_CIDR is revoked; 0.0.0.0/0 is refused.
func TestMotoProbePageRule(t *testing.T) {
	_, cfg, _ := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	vpcOnly := []string{"tcp/9100 10.0.0.0/16", "udp/4789 10.0.0.0/16"}

	// No ADMIN_CIDR: the plan says the page stays inside the VPC.
	kv := withKey(w.kv, "ADMIN_CIDR", "")
	var events []fabric.Event
	d := newDeployer(t, kv, cfg, &events)
	if _, err := d.Plan(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e fabric.Event) bool {
		return e.Action == fabric.Skipped && strings.Contains(e.Detail, "ADMIN_CIDR is empty: the probes' page (tcp/9100) is open to the VPC only")
	}) {
		t.Fatalf("the plan does not say the page is closed to on-premises: %v", events)
	}
	if err := d.Apply(ctx, fabric.StageInit, fabric.StageSecurity); err != nil {
		t.Fatal(err)
	}
	if got := probeIngress(t, cfg); !slices.Equal(got, vpcOnly) {
		t.Fatalf("probe ingress without ADMIN_CIDR = %v, want %v", got, vpcOnly)
	}

	// ADMIN_CIDR: the page's port from there, and from nowhere else.
	d = newDeployer(t, withKey(w.kv, "ADMIN_CIDR", "192.0.2.0/24"), cfg, nil)
	if err := d.Apply(ctx, fabric.StageInit, fabric.StageSecurity); err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp/9100 10.0.0.0/16", "tcp/9100 192.0.2.0/24", "udp/4789 10.0.0.0/16"}
	if got := probeIngress(t, cfg); !slices.Equal(got, want) {
		t.Fatalf("probe ingress with ADMIN_CIDR = %v, want %v", got, want)
	}
	events = nil
	d = newDeployer(t, withKey(w.kv, "ADMIN_CIDR", "192.0.2.0/24"), cfg, &events)
	if err := d.Apply(ctx, fabric.StageInit, fabric.StageSecurity); err != nil {
		t.Fatal(err)
	}
	if n := countActions(events)[fabric.Changed]; n != 0 {
		t.Fatalf("a second apply changed %d things: %v", n, events)
	}

	// ADMIN_CIDR removed: the rule goes.
	d = newDeployer(t, kv, cfg, nil)
	if err := d.Apply(ctx, fabric.StageInit, fabric.StageSecurity); err != nil {
		t.Fatal(err)
	}
	if got := probeIngress(t, cfg); !slices.Equal(got, vpcOnly) {
		t.Fatalf("probe ingress after ADMIN_CIDR was removed = %v, want %v", got, vpcOnly)
	}

	for _, every := range []string{"0.0.0.0/0"} {
		if _, err := fabric.ParseConfig(withKey(w.kv, "ADMIN_CIDR", every)); err == nil || !strings.Contains(err.Error(), "ADMIN_CIDR") {
			t.Errorf("ADMIN_CIDR %s: %v, want a refusal naming ADMIN_CIDR", every, err)
		}
	}
}

// checkProbePages: verify's probe check lists http://<private IP>:9100/ for
// each probe instance.
func checkProbePages(t *testing.T, cfg aws.Config, c fabric.Check) {
	t.Helper()
	var want []string
	for _, p := range instancesByRole(t, ec2.NewFromConfig(cfg), "dxtest", "probe") {
		want = append(want, fabric.PageURL(aws.ToString(p.PrivateIpAddress), fabric.DefaultProbeHealthPort))
	}
	got := slices.Clone(c.Pages)
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) || !strings.Contains(c.String(), "pages "+c.Pages[0]) {
		t.Fatalf("verify's probe check lists pages %v (%q), want %v", c.Pages, c.String(), want)
	}
}

// withKey returns a copy of kv with key set to v (deleted when v is empty).
func withKey(kv map[string]string, key, v string) map[string]string {
	out := map[string]string{}
	for k, x := range kv {
		out[k] = x
	}
	delete(out, key)
	if v != "" {
		out[key] = v
	}
	return out
}
