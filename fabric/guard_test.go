package fabric_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/fabric"
)

// TestDecideGuardProperties runs the guard's pure decision over random
// histories (targets dying and recovering in three AZs, cross-zone on or
// off, an operator's hold, ticks that could not read AWS, interrupted
// bypasses leaving mixed routes) and checks, at every tick, against a
// model of its own:
//   - it never bypasses an AZ whose endpoint reaches a healthy target;
//   - it always bypasses one that reaches none, unless already direct;
//   - it restores only after RestoreAfter of continuous reachable health,
//     never while held, and always once that holds.
func TestDecideGuardProperties(t *testing.T) {
	azs := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	rapid.Check(t, func(t *rapid.T) {
		cross := rapid.Bool().Draw(t, "cross")
		restoreAfter := time.Duration(rapid.IntRange(0, 300).Draw(t, "restoreAfter")) * time.Second
		now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
		paths := map[string]fabric.GuardPath{}
		for _, az := range azs {
			paths[az] = rapid.SampledFrom([]fabric.GuardPath{fabric.PathInline, fabric.PathDirect, fabric.PathMixed}).Draw(t, "path0")
		}
		var st fabric.GuardState
		since := map[string]time.Time{} // the model's start of continuous reachability
		ticks := rapid.IntRange(1, 40).Draw(t, "ticks")
		for i := 0; i < ticks; i++ {
			now = now.Add(time.Duration(rapid.IntRange(1, 120).Draw(t, "step")) * time.Second)
			if rapid.IntRange(0, 9).Draw(t, "apiDown") == 0 {
				// The loop changes nothing and forgets what it saw.
				st, since = fabric.GuardState{}, map[string]time.Time{}
				continue
			}
			if rapid.IntRange(0, 9).Draw(t, "interrupted") == 0 {
				paths[rapid.SampledFrom(azs).Draw(t, "az")] = fabric.PathMixed
			}
			healthy := map[string]int{}
			for _, az := range append(azs, "us-east-1d") { // an AZ with appliances and no business subnet
				healthy[az] = rapid.IntRange(0, 2).Draw(t, "healthy")
			}
			held := rapid.IntRange(0, 4).Draw(t, "held") == 0
			in := fabric.GuardInput{Now: now, CrossZone: cross, Held: held, RestoreAfter: restoreAfter, Healthy: healthy}
			for _, az := range azs {
				in.AZs = append(in.AZs, fabric.AZView{AZ: az, Path: paths[az]})
			}
			var ds []fabric.GuardDecision
			st, ds = fabric.DecideGuard(st, in)
			if len(ds) != len(azs) {
				t.Fatalf("%d decisions for %d AZs", len(ds), len(azs))
			}
			for _, d := range ds {
				reach := false
				for az, n := range healthy {
					reach = reach || (n > 0 && (cross || az == d.AZ))
				}
				if reach {
					if _, ok := since[d.AZ]; !ok {
						since[d.AZ] = now
					}
				} else {
					delete(since, d.AZ)
				}
				switch {
				case reach && d.Action == fabric.GuardBypass:
					t.Fatalf("tick %d: bypassed %s, which reaches a healthy appliance (%v, cross-zone %v)", i, d.AZ, healthy, cross)
				case !reach && paths[d.AZ] != fabric.PathDirect && d.Action != fabric.GuardBypass:
					t.Fatalf("tick %d: %s reaches no healthy appliance (%v, cross-zone %v), path %s, decision %s", i, d.AZ, healthy, cross, paths[d.AZ], d.Action)
				case d.Action == fabric.GuardRestore && (!reach || held || now.Sub(since[d.AZ]) < restoreAfter):
					t.Fatalf("tick %d: restored %s after %s of health (restore after %s, held %v)", i, d.AZ, now.Sub(since[d.AZ]), restoreAfter, held)
				case reach && !held && paths[d.AZ] != fabric.PathInline && now.Sub(since[d.AZ]) >= restoreAfter && d.Action != fabric.GuardRestore:
					t.Fatalf("tick %d: %s healthy for %s ≥ %s but not restored: %s", i, d.AZ, now.Sub(since[d.AZ]), restoreAfter, d.Reason)
				}
				if d.Reason == "" {
					t.Fatalf("decision without a reason: %+v", d)
				}
				switch d.Action {
				case fabric.GuardBypass:
					paths[d.AZ] = fabric.PathDirect
				case fabric.GuardRestore:
					paths[d.AZ] = fabric.PathInline
				}
			}
		}
	})
}

// TestDecideGuardCrossZone: one AZ without a healthy appliance of its own
// is served across zones when cross-zone load balancing is on and bypassed
// when it is off; a restore waits for RestoreAfter.
func TestDecideGuardCrossZone(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	in := fabric.GuardInput{Now: t0, RestoreAfter: 2 * time.Minute, Healthy: map[string]int{"a": 0, "b": 2},
		AZs: []fabric.AZView{{AZ: "b", Path: fabric.PathInline}, {AZ: "a", Path: fabric.PathInline}}}
	actions := func(ds []fabric.GuardDecision) map[string]fabric.GuardAction {
		m := map[string]fabric.GuardAction{}
		for _, d := range ds {
			m[d.AZ] = d.Action
		}
		return m
	}
	in.CrossZone = true
	_, ds := fabric.DecideGuard(fabric.GuardState{}, in)
	if diff := cmp.Diff(map[string]fabric.GuardAction{"a": fabric.GuardKeep, "b": fabric.GuardKeep}, actions(ds)); diff != "" {
		t.Errorf("cross-zone on (-want +got):\n%s", diff)
	}
	in.CrossZone = false
	st, ds := fabric.DecideGuard(fabric.GuardState{}, in)
	if diff := cmp.Diff(map[string]fabric.GuardAction{"a": fabric.GuardBypass, "b": fabric.GuardKeep}, actions(ds)); diff != "" {
		t.Errorf("cross-zone off (-want +got):\n%s", diff)
	}
	if ds[0].AZ != "a" {
		t.Errorf("decisions not sorted by AZ: %+v", ds)
	}
	// a recovers: kept direct for two minutes, then restored.
	in.AZs[1].Path, in.Healthy["a"] = fabric.PathDirect, 1
	for _, step := range []struct {
		at   time.Duration
		want fabric.GuardAction
	}{{0, fabric.GuardKeep}, {time.Minute, fabric.GuardKeep}, {2 * time.Minute, fabric.GuardRestore}} {
		in.Now = t0.Add(time.Second + step.at)
		st, ds = fabric.DecideGuard(st, in)
		if got := actions(ds)["a"]; got != step.want {
			t.Errorf("healthy for %s: %s, want %s (%s)", step.at, got, step.want, ds[0].Reason)
		}
	}
}

// TestReturnRoutesDefaultOn: both directions through the appliances unless
// RETURN_ROUTES=false says otherwise.
func TestReturnRoutesDefaultOn(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "false": false} {
		kv := goodKV()
		if v != "" {
			kv["RETURN_ROUTES"] = v
		}
		c, err := fabric.ParseConfig(kv)
		if err != nil || c.ReturnRoutes != want {
			t.Errorf("RETURN_ROUTES=%q: ReturnRoutes %v, %v; want %v", v, c.ReturnRoutes, err, want)
		}
	}
}
