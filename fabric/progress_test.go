package fabric

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPollReportsProgress: a wait that takes several polls reports Waiting
// events naming what it waits for, at most one per ProgressEvery, and
// none once it is done.
func TestPollReportsProgress(t *testing.T) {
	var got []Event
	d := testDeployer(t, &fakeMirror{})
	d.opt.Observer = func(e Event) { got = append(got, e) }
	d.opt.PollInterval, d.opt.ProgressEvery = time.Millisecond, time.Nanosecond
	r := &run{d: d, stage: StageGWLB}
	polls := 0
	err := r.poll(context.Background(), "gwlb-endpoint", "dx-gwlbe-subnet-1", "waiting for it to become available", func(context.Context) (bool, error) {
		polls++
		return polls == 4, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) > 3 {
		t.Fatalf("%d progress events for 3 unfinished polls: %v", len(got), got)
	}
	for _, e := range got {
		if e.Action != Waiting || e.Stage != StageGWLB || e.Name != "dx-gwlbe-subnet-1" || !strings.Contains(e.Detail, "waiting for it to become available, ") {
			t.Fatalf("progress event %v", e)
		}
	}

	got = nil
	d.opt.ProgressEvery = time.Hour
	polls = 0
	if err := r.poll(context.Background(), "gwlb-endpoint", "x", "w", func(context.Context) (bool, error) { polls++; return polls == 3, nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("progress within ProgressEvery: %v", got)
	}
}

// TestStageOrderGroupsEvents: events of a stage that runs beside an
// earlier one are held until the earlier one finishes.
func TestStageOrderGroupsEvents(t *testing.T) {
	var out []Stage
	o := newStageOrder([]Stage{StageInit, StageSecurity, StageGWLB, StageProbes}, func(e Event) { out = append(out, e.Stage) })
	o.event(Event{Stage: StageInit})
	o.finish(StageInit)
	o.event(Event{Stage: StageSecurity})
	o.finish(StageSecurity)
	o.event(Event{Stage: StageProbes}) // 04 runs beside 02
	o.event(Event{Stage: StageGWLB})
	o.event(Event{Stage: StageProbes})
	o.finish(StageProbes)
	o.event(Event{Stage: StageGWLB})
	o.finish(StageGWLB)
	want := []Stage{StageInit, StageSecurity, StageGWLB, StageGWLB, StageProbes, StageProbes}
	if strings.Join(stages(out), " ") != strings.Join(stages(want), " ") {
		t.Fatalf("order %v, want %v", out, want)
	}
}

func stages(s []Stage) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}
