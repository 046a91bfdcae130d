package fabric

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// verify's allowance check: did an appliance or a probe drop (or queue)
// packets past its instance's ENA allowances since the last check?
//
// dxappliance and dxprobe export the ENA driver's allowance counters on
// /metrics (package nicstat; AWS, "Monitor network performance for ENA
// settings on your EC2 instance"). verify reads them on each instance
// through SSM Run Command (AWS-RunShellScript: fetch /metrics on the
// loopback, print its dxmon_nic_ lines — a few hundred bytes, well within
// GetCommandInvocation's StandardOutputContent, "the first 24,000
// characters written by the plugin to stdout") and compares them with the
// sums it saw last, which it keeps on the instance itself, in the tag
// TagNICAllowance: no local state file, and a second operator's verify
// sees what the first one saw. Without the tag (the first check of an
// instance) the counters are compared with 0, their value when the driver
// started: a drop since boot is reported once. A counter lower than last
// seen was reset (driver reload, stop and start): its value is the
// increase. The tag is rewritten after every read, so each increase is
// reported by one verify.
//
// The tag value, "bw_in=N bw_out=N pps=N conntrack=N linklocal=N", uses
// only characters every AWS service accepts in tags ("letters, numbers,
// spaces representable in UTF-8, and the following characters: + - = . _
// : / @", AWS tagging restrictions) and stays far below the "maximum value
// length – 256 Unicode characters".
//
// A device whose driver has no allowance counters (nicstat exports
// dxmon_nic_allowance_counters_supported 0) fails the check: the drops
// would be invisible, not absent.

// TagNICAllowance on an appliance or probe instance holds the ENA allowance
// counters verify read there last.
const TagNICAllowance = "dxmon:nic-allowance"

// ApplianceMetricsPort is dxappliance's /metrics port (its -metrics
// default, which dxappliance.env does not change). dxprobe's is
// PROBE_HEALTH_PORT.
const ApplianceMetricsPort = 9102

// AllowanceCounters are the ENA allowance statistics, as nicstat names
// them, and their short names in TagNICAllowance.
var AllowanceCounters = []struct{ Stat, Short string }{
	{"bw_in_allowance_exceeded", "bw_in"},
	{"bw_out_allowance_exceeded", "bw_out"},
	{"pps_allowance_exceeded", "pps"},
	{"conntrack_allowance_exceeded", "conntrack"},
	{"linklocal_allowance_exceeded", "linklocal"},
}

// NICAllowance is what an instance's /metrics says of its ENA allowance
// counters, summed over its devices.
type NICAllowance struct {
	// Supported is true when every device read reports all five.
	Supported bool
	// Devices are the interface labels seen.
	Devices []string
	// Counters by short name (AllowanceCounters' Short).
	Counters map[string]uint64
}

// NICMetricsScript is the Run Command script that prints the dxmon_nic_
// lines of the /metrics served on port: it fails (naming the port) when
// nothing answers there.
func NICMetricsScript(port int) []string {
	return []string{
		fmt.Sprintf("out=$(curl -sf --max-time 10 http://127.0.0.1:%d/metrics) || { echo \"GET http://127.0.0.1:%d/metrics failed: is the service running?\" >&2; exit 1; }", port, port),
		"printf '%s\\n' \"$out\" | grep '^dxmon_nic_' || true",
	}
}

// ParseNICMetrics reads the dxmon_nic_ lines of a Prometheus text
// exposition. It fails when there are none (a binary without nicstat, or
// one that found no device).
func ParseNICMetrics(text string) (NICAllowance, error) {
	a := NICAllowance{Supported: true, Counters: map[string]uint64{}}
	devs := map[string]bool{}
	seen := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "dxmon_nic_") {
			continue
		}
		name, labels, value, err := splitSample(line)
		if err != nil {
			return a, err
		}
		dev := labelValue(labels, "interface")
		switch {
		case name == "dxmon_nic_allowance_counters_supported":
			seen = true
			devs[dev] = true
			if value != 1 {
				a.Supported = false
			}
		default:
			for _, c := range AllowanceCounters {
				if name == "dxmon_nic_"+c.Stat+"_total" {
					if value < 0 || value > math.MaxUint64 || value != math.Trunc(value) {
						return a, fmt.Errorf("%s: %v is not a counter value", name, value)
					}
					a.Counters[c.Short] += uint64(value)
				}
			}
		}
	}
	if !seen {
		return a, fmt.Errorf("no dxmon_nic_allowance_counters_supported line in /metrics (a binary without the ENA counters, or no network device found: see its log)")
	}
	for d := range devs {
		a.Devices = append(a.Devices, d)
	}
	sort.Strings(a.Devices)
	if a.Supported {
		for _, c := range AllowanceCounters {
			if _, ok := a.Counters[c.Short]; !ok {
				return a, fmt.Errorf("dxmon_nic_%s_total missing though the counters are said to be supported", c.Stat)
			}
		}
	}
	return a, nil
}

// splitSample splits `name{labels} value` (or `name value`).
func splitSample(line string) (name, labels string, value float64, err error) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, fmt.Errorf("metrics line %q: unbalanced braces", line)
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		f := strings.Fields(line)
		if len(f) < 2 {
			return "", "", 0, fmt.Errorf("metrics line %q: no value", line)
		}
		name, rest = f[0], strings.Join(f[1:], " ")
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", "", 0, fmt.Errorf("metrics line %q: no value", line)
	}
	value, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("metrics line %q: %w", line, err)
	}
	return name, labels, value, nil
}

// labelValue returns key's value in `a="x",b="y"` (values without quotes
// or commas, as interface names are).
func labelValue(labels, key string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// FormatAllowanceTag renders counters as TagNICAllowance's value.
func FormatAllowanceTag(counters map[string]uint64) string {
	parts := make([]string, 0, len(AllowanceCounters))
	for _, c := range AllowanceCounters {
		parts = append(parts, fmt.Sprintf("%s=%d", c.Short, counters[c.Short]))
	}
	return strings.Join(parts, " ")
}

// ParseAllowanceTag reads TagNICAllowance's value; an empty or unreadable
// one (a hand edit) reads as all zeros, the counters' start.
func ParseAllowanceTag(v string) map[string]uint64 {
	out := map[string]uint64{}
	for _, f := range strings.Fields(v) {
		k, n, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if x, err := strconv.ParseUint(n, 10, 64); err == nil {
			out[k] = x
		}
	}
	return out
}

// AllowanceIncreases returns, by short name, how much each counter grew
// from last to now; a counter below its last value was reset and grew by
// its whole value.
func AllowanceIncreases(last, now map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for _, c := range AllowanceCounters {
		n, l := now[c.Short], last[c.Short]
		switch {
		case n >= l:
			out[c.Short] = n - l
		default:
			out[c.Short] = n
		}
	}
	return out
}

// checkAllowance is verify's allowance check (see the top of this file).
func (r *run) checkAllowance(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "allowance"}}
	read := 0
	for _, role := range []struct {
		name string
		port int
	}{{"appliance", ApplianceMetricsPort}, {"probe", int(d.cfg.ProbeHealthPort)}} {
		inst, err := d.findInstances(ctx, role.name, "")
		if err != nil {
			c.problem("%s instances: %v", role.name, err)
			continue
		}
		var running []ec2types.Instance
		for _, i := range inst {
			if i.State != nil && i.State.Name == ec2types.InstanceStateNameRunning {
				running = append(running, i)
			}
		}
		if len(running) == 0 {
			continue // the infrastructure check reports missing instances
		}
		outs := r.runScript(ctx, c, role.name, running, NICMetricsScript(role.port))
		for _, i := range running {
			id := aws.ToString(i.InstanceId)
			out, ok := outs[id]
			if !ok {
				continue // runScript reported it
			}
			who := fmt.Sprintf("%s %s (%s)", role.name, id, tagValue(i.Tags, TagName))
			a, err := ParseNICMetrics(out)
			if err != nil {
				c.problem("%s: ENA allowance counters: %v", who, err)
				continue
			}
			read++
			if !a.Supported {
				c.problem("%s: the driver of %s has no ENA allowance counters: packets dropped past the instance's allowances cannot be seen",
					who, strings.Join(a.Devices, ","))
				continue
			}
			last := tagValue(i.Tags, TagNICAllowance)
			inc := AllowanceIncreases(ParseAllowanceTag(last), a.Counters)
			for _, k := range AllowanceCounters {
				if n := inc[k.Short]; n > 0 {
					c.problem("%s exceeded an ENA allowance: %s +%d packets since the last check", who, k.Stat, n)
				}
			}
			if now := FormatAllowanceTag(a.Counters); now != last {
				if _, err := d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
					Tags: []ec2types.Tag{{Key: aws.String(TagNICAllowance), Value: aws.String(now)}}}); err != nil {
					c.problem("%s: keeping the counters seen in tag %s: %v (the next check reports the same increase again)", who, TagNICAllowance, err)
				}
			}
		}
	}
	c.Detail = fmt.Sprintf("ENA allowance counters read on %d instances", read)
	return c.done()
}

// runScript runs an AWS-RunShellScript on instances and returns each
// one's standard output; an instance where it failed is a problem of c,
// named with its status and standard error, and has no output.
func (r *run) runScript(ctx context.Context, c *checker, role string, inst []ec2types.Instance, script []string) map[string]string {
	d := r.d
	var ids []string
	for _, i := range inst {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	kind := role + "-metrics"
	cmdID, err := r.sendCommand(ctx, kind, ids, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Comment:    aws.String("dxmon: verify reads the ENA allowance counters"),
		Parameters: map[string][]string{"commands": script},
	})
	if err != nil {
		c.problem("%s", err)
		return nil
	}
	outs := map[string]string{}
	for _, id := range ids {
		if err := r.waitCommand(ctx, kind, cmdID, []string{id}); err != nil {
			c.problem("%v", err)
			continue
		}
		inv, err := d.c.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(id)})
		if err != nil {
			c.problem("%s %s: command %s: %v", role, id, cmdID, err)
			continue
		}
		outs[id] = aws.ToString(inv.StandardOutputContent)
	}
	return outs
}
