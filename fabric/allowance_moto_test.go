package fabric_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/internal/mototest"
)

// TestMotoAllowance: verify reads the ENA allowance counters of every
// appliance and probe through Run Command and FAILs, naming the instance,
// the counter and the increase, when one grew since the last check; it
// keeps what it saw in the instance's dxmon:nic-allowance tag, so the next
// verify passes unless they grow again; a counter reset counts from 0; a
// device without the counters, or an instance where the command fails,
// fails the check too. The first verify runs every check (allowance is the
// last); the others run the allowance check alone (Verify's names), as a
// periodic job would, with a fraction of the requests.
func TestMotoAllowance(t *testing.T) {
	proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	var events []fabric.Event
	d := newDeployer(t, w.kv, cfg, &events)
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ec := ec2.NewFromConfig(cfg)
	apps := instancesByRole(t, ec, "dxtest", "appliance")
	probes := instancesByRole(t, ec, "dxtest", "probe")
	a0, p0 := aws.ToString(apps[0].InstanceId), aws.ToString(probes[0].InstanceId)
	requests := map[bool]int{} // by whether every check ran: the first verify's
	allowance := func(wantOK bool, want ...string) {
		t.Helper()
		var names []string
		if len(requests) > 0 {
			names = []string{"allowance"}
		}
		before := len(calls.sequence(0))
		checks, err := d.Verify(ctx, names...)
		if err != nil {
			t.Fatal(err)
		}
		requests[names == nil] = len(calls.sequence(before))
		var got []string
		for _, c := range checks {
			got = append(got, c.Name)
		}
		if wantNames := map[bool][]string{true: fabric.CheckNames(), false: names}[names == nil]; !slices.Equal(got, wantNames) {
			t.Fatalf("Verify(%q) ran checks %v, want %v", names, got, wantNames)
		}
		c := checks[len(checks)-1]
		if c.Name != "allowance" || c.OK != wantOK {
			t.Fatalf("allowance check %v, want ok=%v", c, wantOK)
		}
		for _, s := range want {
			if !strings.Contains(c.String(), s) {
				t.Errorf("%q lacks %q", c.String(), s)
			}
		}
	}
	tag := func(id string) string {
		t.Helper()
		out, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.Reservations[0].Instances[0].Tags {
			if aws.ToString(tg.Key) == fabric.TagNICAllowance {
				return aws.ToString(tg.Value)
			}
		}
		return ""
	}

	n := len(apps) + len(probes)
	allowance(true, "ENA allowance counters read on "+itoa(n)+" instances")
	if got := tag(a0); got != "bw_in=0 bw_out=0 pps=0 conntrack=0 linklocal=0" {
		t.Errorf("tag after the first check: %q", got)
	}

	proxy.SetNICMetrics(a0, mototest.NICAllowanceLines("ens5", 0, 7, 1234, 0, 0))
	allowance(false, a0, "pps_allowance_exceeded +1234 packets since the last check", "bw_out_allowance_exceeded +7 packets")
	if got := tag(a0); got != "bw_in=0 bw_out=7 pps=1234 conntrack=0 linklocal=0" {
		t.Errorf("tag after the increase: %q", got)
	}
	allowance(true) // nothing new since

	proxy.SetNICMetrics(a0, mototest.NICAllowanceLines("ens5", 0, 7, 1300, 0, 0))
	allowance(false, "pps_allowance_exceeded +66 packets")
	proxy.SetNICMetrics(a0, mototest.NICAllowanceLines("ens5", 0, 0, 10, 0, 0)) // the driver restarted
	allowance(false, "pps_allowance_exceeded +10 packets")
	allowance(true)

	proxy.SetNICMetrics(p0, `dxmon_nic_allowance_counters_supported{interface="eth0"} 0`+"\n")
	allowance(false, p0, "the driver of eth0 has no ENA allowance counters")
	proxy.SetNICMetrics(p0, "")
	proxy.FailCommands(p0, "GET http://127.0.0.1:9100/metrics failed: is the service running?")
	allowance(false, p0, "is the service running?")
	proxy.FailCommands(p0, "")
	allowance(true)
	if proxy.Hits()["SSM.GetCommandInvocation.metrics"] == 0 {
		t.Error("verify never read the metrics through the proxy's Run Command")
	}
	t.Logf("requests of a verify: every check %d, allowance alone %d", requests[true], requests[false])
	if requests[false] >= requests[true] {
		t.Errorf("the allowance check alone made %d requests, a full verify %d: the other checks still ran", requests[false], requests[true])
	}
	if _, err := d.Verify(ctx, "allowance", "bogus"); err == nil || !strings.Contains(err.Error(), `unknown check "bogus"`) {
		t.Errorf("Verify with an unknown check: %v, want an error naming it", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
