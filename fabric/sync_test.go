package fabric

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// fakeMirror is an in-memory EC2 holding appliances, their ENIs and mirror
// sessions: the part of EC2API the ENI sync uses. Other methods panic
// through the nil embedded interface.
type fakeMirror struct {
	EC2API
	enis     map[string]string // ENI → appliance instance
	sessions map[string]ec2types.TrafficMirrorSession
	// vanish lists sessions AWS deletes between Describe and Delete, as it
	// does when their ENI goes.
	vanish    map[string]bool
	mutations int
	seq       int
}

func (f *fakeMirror) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	seen := map[string]bool{}
	var inst []ec2types.Instance
	for _, i := range f.enis {
		if !seen[i] {
			seen[i] = true
			inst = append(inst, ec2types.Instance{InstanceId: aws.String(i), Tags: []ec2types.Tag{
				{Key: aws.String(TagProject), Value: aws.String("t")}, {Key: aws.String(TagRole), Value: aws.String("appliance")}}})
		}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: inst}}}, nil
}

func (f *fakeMirror) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	want := map[string]bool{}
	for _, v := range in.Filters[0].Values {
		want[v] = true
	}
	var out []ec2types.NetworkInterface
	for e, i := range f.enis {
		if want[i] {
			out = append(out, ec2types.NetworkInterface{NetworkInterfaceId: aws.String(e)})
		}
	}
	return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: out}, nil
}

func (f *fakeMirror) DescribeTrafficMirrorTargets(context.Context, *ec2.DescribeTrafficMirrorTargetsInput, ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorTargetsOutput, error) {
	return &ec2.DescribeTrafficMirrorTargetsOutput{TrafficMirrorTargets: []ec2types.TrafficMirrorTarget{{TrafficMirrorTargetId: aws.String("tmt-1"),
		Tags: []ec2types.Tag{{Key: aws.String(TagProject), Value: aws.String("t")}, {Key: aws.String(TagName), Value: aws.String("t-mirror-target")}}}}}, nil
}

func (f *fakeMirror) DescribeTrafficMirrorFilters(context.Context, *ec2.DescribeTrafficMirrorFiltersInput, ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorFiltersOutput, error) {
	return &ec2.DescribeTrafficMirrorFiltersOutput{TrafficMirrorFilters: []ec2types.TrafficMirrorFilter{{TrafficMirrorFilterId: aws.String("tmf-1"),
		Tags: []ec2types.Tag{{Key: aws.String(TagProject), Value: aws.String("t")}, {Key: aws.String(TagName), Value: aws.String("t-mirror-filter")}}}}}, nil
}

func (f *fakeMirror) DescribeTrafficMirrorSessions(_ context.Context, in *ec2.DescribeTrafficMirrorSessionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTrafficMirrorSessionsOutput, error) {
	var out []ec2types.TrafficMirrorSession
	for _, s := range f.sessions {
		ok := true
		for _, flt := range in.Filters {
			switch aws.ToString(flt.Name) {
			case "network-interface-id":
				ok = ok && aws.ToString(s.NetworkInterfaceId) == flt.Values[0]
			case "tag:" + TagRole:
				ok = ok && tagValue(s.Tags, TagRole) == flt.Values[0]
			case "tag:" + TagProject:
				ok = ok && tagValue(s.Tags, TagProject) == flt.Values[0]
			default:
				panic("filter " + aws.ToString(flt.Name))
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return aws.ToString(out[i].TrafficMirrorSessionId) < aws.ToString(out[j].TrafficMirrorSessionId)
	})
	return &ec2.DescribeTrafficMirrorSessionsOutput{TrafficMirrorSessions: out}, nil
}

func (f *fakeMirror) CreateTrafficMirrorSession(_ context.Context, in *ec2.CreateTrafficMirrorSessionInput, _ ...func(*ec2.Options)) (*ec2.CreateTrafficMirrorSessionOutput, error) {
	f.mutations++
	n := 0
	for _, s := range f.sessions {
		if aws.ToString(s.NetworkInterfaceId) == aws.ToString(in.NetworkInterfaceId) {
			n++
			if aws.ToInt32(s.SessionNumber) == aws.ToInt32(in.SessionNumber) {
				return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "session number in use"}
			}
		}
	}
	if n >= MaxSessionsPerENI {
		return nil, &smithy.GenericAPIError{Code: "TrafficMirrorSessionsPerInterfaceLimitExceeded"}
	}
	f.seq++
	s := ec2types.TrafficMirrorSession{TrafficMirrorSessionId: aws.String(fmt.Sprintf("tms-%d", f.seq)), NetworkInterfaceId: in.NetworkInterfaceId,
		SessionNumber: in.SessionNumber, TrafficMirrorTargetId: in.TrafficMirrorTargetId, TrafficMirrorFilterId: in.TrafficMirrorFilterId,
		VirtualNetworkId: in.VirtualNetworkId, PacketLength: in.PacketLength}
	for _, ts := range in.TagSpecifications {
		s.Tags = append(s.Tags, ts.Tags...)
	}
	f.sessions[aws.ToString(s.TrafficMirrorSessionId)] = s
	return &ec2.CreateTrafficMirrorSessionOutput{TrafficMirrorSession: &s}, nil
}

func (f *fakeMirror) DeleteTrafficMirrorSession(_ context.Context, in *ec2.DeleteTrafficMirrorSessionInput, _ ...func(*ec2.Options)) (*ec2.DeleteTrafficMirrorSessionOutput, error) {
	f.mutations++
	id := aws.ToString(in.TrafficMirrorSessionId)
	if _, ok := f.sessions[id]; !ok || f.vanish[id] {
		delete(f.sessions, id)
		return nil, &smithy.GenericAPIError{Code: "InvalidTrafficMirrorSessionId.NotFound"}
	}
	delete(f.sessions, id)
	return &ec2.DeleteTrafficMirrorSessionOutput{TrafficMirrorSessionId: in.TrafficMirrorSessionId}, nil
}

var _ MirrorAPI = (*fakeMirror)(nil)

func testDeployer(t interface{ Fatal(...any) }, ec EC2API) *Deployer {
	cfg := Config{Region: "us-east-1", VPCID: "vpc-1", VPCCIDR: netip.MustParsePrefix("10.0.0.0/16"), VGWID: "vgw-1",
		OnPremCIDRs: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}, WorkloadSubnets: []string{"subnet-1"},
		GWLBESubnets: []string{"subnet-2"}, BusinessCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")},
		ApplianceInstanceType: "c6g.large", ProbeInstanceType: "c6gn.2xlarge", MirrorVNI: 12345, ProjectTag: "t", ProbeHealthPort: 9100}
	d, err := New(cfg, Clients{EC2: ec, ELB: nopELB{}, IAM: nopIAM{}, S3: nopS3{}, SSM: nopSSM{}, STS: nopSTS{}, CloudWatch: nopCW{}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type (
	nopELB struct{ ELBAPI }
	nopIAM struct{ IAMAPI }
	nopS3  struct{ S3API }
	nopSSM struct{ SSMAPI }
	nopSTS struct{ STSAPI }
	nopCW  struct{ CloudWatchAPI }
)

// TestSyncConverges: whatever appliance ENIs come and go, whatever foreign
// sessions occupy them and whichever of this project's sessions AWS deleted
// with their ENI, one sync leaves exactly one session of ours on every ENI
// that had room, none elsewhere, reports the full ones and those where a
// foreign session of a lower number is evaluated first, and a second sync
// makes no call that changes anything.
func TestSyncConverges(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := &fakeMirror{enis: map[string]string{}, sessions: map[string]ec2types.TrafficMirrorSession{}, vanish: map[string]bool{}}
		d := testDeployer(rt, f)
		ctx := context.Background()
		for round := range rapid.IntRange(1, 4).Draw(rt, "rounds") {
			// Appliance ENIs go (AWS may already have deleted their
			// sessions) and come, some with another tool's sessions.
			for _, e := range sortedKeys(f.enis) {
				if rapid.Bool().Draw(rt, "remove "+e) {
					delete(f.enis, e)
					for _, id := range sortedKeys(f.sessions) {
						if aws.ToString(f.sessions[id].NetworkInterfaceId) == e && rapid.Bool().Draw(rt, "vanish "+id) {
							f.vanish[id] = true
						}
					}
				}
			}
			for i := range rapid.IntRange(0, 5).Draw(rt, "add") {
				e := fmt.Sprintf("eni-%d-%d", round, i)
				f.enis[e] = fmt.Sprintf("i-%d", i%2)
				for n := range rapid.IntRange(0, 3).Draw(rt, "foreign "+e) {
					f.seq++
					id := fmt.Sprintf("foreign-%d", f.seq)
					f.sessions[id] = ec2types.TrafficMirrorSession{TrafficMirrorSessionId: aws.String(id), NetworkInterfaceId: aws.String(e), SessionNumber: aws.Int32(int32(n*7 + 1))}
				}
			}
			res, err := d.SyncENIs(ctx)
			full := map[string]bool{}
			for _, e := range res.Full {
				full[e] = true
			}
			if (len(res.Full) > 0) != errors.Is(err, ErrENIFull) {
				rt.Fatalf("full %v but err %v", res.Full, err)
			}
			if err != nil && !errors.Is(err, ErrENIFull) && !errors.Is(err, ErrSessionShadowed) {
				rt.Fatalf("sync: %v", err)
			}
			shadowed := false
			for _, s := range f.sessions {
				if tagValue(s.Tags, TagRole) != "session" {
					continue
				}
				for _, o := range f.sessions {
					shadowed = shadowed || (tagValue(o.Tags, TagRole) != "session" && aws.ToString(o.NetworkInterfaceId) == aws.ToString(s.NetworkInterfaceId) &&
						aws.ToInt32(o.SessionNumber) < aws.ToInt32(s.SessionNumber))
				}
			}
			if shadowed != errors.Is(err, ErrSessionShadowed) {
				rt.Fatalf("a foreign session evaluated first: %v, but err %v", shadowed, err)
			}
			ours := map[string]int{}
			numbers := map[string]map[int32]bool{}
			for _, s := range f.sessions {
				e := aws.ToString(s.NetworkInterfaceId)
				if numbers[e] == nil {
					numbers[e] = map[int32]bool{}
				}
				if numbers[e][aws.ToInt32(s.SessionNumber)] {
					rt.Fatalf("session number %d used twice on %s", aws.ToInt32(s.SessionNumber), e)
				}
				numbers[e][aws.ToInt32(s.SessionNumber)] = true
				if tagValue(s.Tags, TagRole) == "session" {
					ours[e]++
					if aws.ToInt32(s.VirtualNetworkId) != 12345 || aws.ToInt32(s.PacketLength) != MirrorPacketLength {
						rt.Fatalf("session %v: wrong VNI or packet length", s)
					}
				}
			}
			for e := range f.enis {
				if want := map[bool]int{true: 0, false: 1}[full[e]]; ours[e] != want {
					rt.Fatalf("ENI %s has %d sessions of ours, want %d (full: %v)", e, ours[e], want, full[e])
				}
			}
			for e, n := range ours {
				if _, ok := f.enis[e]; !ok {
					rt.Fatalf("ENI %s is gone but has %d sessions of ours", e, n)
				}
			}
			before := f.mutations
			res2, _ := d.SyncENIs(ctx)
			if f.mutations != before && len(res.Full) == 0 {
				rt.Fatalf("second sync made %d mutating calls: %+v", f.mutations-before, res2)
			}
			if diff := cmp.Diff(res.Full, res2.Full); diff != "" {
				rt.Fatalf("second sync's full ENIs differ:\n%s", diff)
			}
		}
	})
}

func TestFreeSessionNumber(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		used := rapid.SliceOfNDistinct(rapid.Int32Range(1, 6), 0, 4, rapid.ID).Draw(rt, "used")
		n, ok := FreeSessionNumber(used)
		if ok != (len(used) < MaxSessionsPerENI) {
			rt.Fatalf("FreeSessionNumber(%v) ok = %v", used, ok)
		}
		if !ok {
			return
		}
		for _, u := range used {
			if u == n {
				rt.Fatalf("FreeSessionNumber(%v) = %d, in use", used, n)
			}
		}
		for m := int32(1); m < n; m++ {
			free := true
			for _, u := range used {
				free = free && u != m
			}
			if free {
				rt.Fatalf("FreeSessionNumber(%v) = %d, but %d is lower and free", used, n, m)
			}
		}
	})
}

// TestDiffFilter: applying the diff to any set of existing rules gives the
// wanted set, and a rule with a protocol (such as --protocol 0, HOPOPT) is
// always replaced.
func TestDiffFilter(t *testing.T) {
	d := testDeployer(t, &fakeMirror{})
	want := d.FilterRules()
	rapid.Check(t, func(rt *rapid.T) {
		var have []haveRule
		for i, w := range want {
			if rapid.Bool().Draw(rt, fmt.Sprint("keep ", i)) {
				have = append(have, haveRule{id: fmt.Sprint("r", i), rule: w, extra: rapid.Bool().Draw(rt, fmt.Sprint("protocol ", i))})
			}
		}
		for i := range rapid.IntRange(0, 3).Draw(rt, "strays") {
			have = append(have, haveRule{id: fmt.Sprint("s", i), rule: FilterRule{Direction: ec2types.TrafficDirectionIngress, Number: int32(1000 + i),
				Action: ec2types.TrafficMirrorRuleActionAccept, Source: "10.9.0.0/16", Destination: "10.0.0.0/16"}})
		}
		create, del := diffFilter(want, have)
		gone := map[string]bool{}
		for _, id := range del {
			gone[id] = true
		}
		var got []FilterRule
		for _, h := range have {
			if !gone[h.id] {
				if h.extra {
					rt.Fatalf("rule %v with a protocol kept", h.rule)
				}
				got = append(got, h.rule)
			}
		}
		got = append(got, create...)
		key := func(r FilterRule) string { return r.String() }
		sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
		w := append([]FilterRule{}, want...)
		sort.Slice(w, func(i, j int) bool { return key(w[i]) < key(w[j]) })
		if diff := cmp.Diff(w, got); diff != "" {
			rt.Fatalf("after diff (-want +got):\n%s", diff)
		}
	})
}

func TestFilterRulesHaveNoProtocolAndFitTheLimit(t *testing.T) {
	d := testDeployer(t, &fakeMirror{})
	rules := d.FilterRules()
	if len(rules) != FilterRuleCount() || len(rules) > MaxRulesPerFilter {
		t.Fatalf("%d rules for 1 on-prem CIDR", len(rules))
	}
	for _, r := range rules {
		if r.Number < 1 || r.Number > 32766 {
			t.Errorf("rule %v: number outside 1-32766", r)
		}
	}
}

// TestRunDAG: every stage runs after its predecessors, 02 and 04 may
// overlap, and a failure skips exactly the stages that depend on it.
func TestRunDAG(t *testing.T) {
	started := make(chan Stage, len(ApplyStages))
	release04 := make(chan struct{})
	done := map[Stage]bool{}
	var order []Stage
	var mu sync.Mutex
	err := runDAG(context.Background(), ApplyStages, func(_ context.Context, s Stage) error {
		started <- s
		mu.Lock()
		for _, dep := range stageDeps[s] {
			if !done[dep] {
				mu.Unlock()
				return fmt.Errorf("%s started before %s finished", s, dep)
			}
		}
		mu.Unlock()
		if s == StageGWLB {
			// 02 waits for 04 to start: they run side by side.
			for st := range started {
				if st == StageProbes {
					break
				}
			}
			close(release04)
		}
		if s == StageProbes {
			<-release04
		}
		mu.Lock()
		done[s] = true
		order = append(order, s)
		mu.Unlock()
		if s == StageFilter {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"boom", "stage 07: skipped: stage 06 failed", "stage 08: skipped: stage 07 failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	for _, s := range []Stage{StageRouting, StageNLB} {
		if !done[s] {
			t.Errorf("stage %s did not run (it does not depend on 06)", s)
		}
	}
	if done[StageSessions] || done[StageDeploy] {
		t.Errorf("stages after the failed 06 ran: %v", order)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
