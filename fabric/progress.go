package fabric

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// stageOrder groups a run's events by stage while stages run in parallel:
// the events of the first unfinished stage (in the run's order) go out at
// once, those of later stages wait until every stage before them has
// finished, then go out in the order they happened.
type stageOrder struct {
	mu    sync.Mutex
	emit  func(Event)
	order []Stage
	done  map[Stage]bool
	held  map[Stage][]Event
}

func newStageOrder(stages []Stage, emit func(Event)) *stageOrder {
	return &stageOrder{emit: emit, order: stages, done: map[Stage]bool{}, held: map[Stage][]Event{}}
}

// head is the first stage not finished, or "" when all are.
func (o *stageOrder) head() Stage {
	for _, s := range o.order {
		if !o.done[s] {
			return s
		}
	}
	return ""
}

func (o *stageOrder) inOrder(s Stage) bool {
	for _, x := range o.order {
		if x == s {
			return true
		}
	}
	return false
}

func (o *stageOrder) event(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.inOrder(e.Stage) || e.Stage == o.head() || o.done[e.Stage] {
		o.emit(e)
		return
	}
	o.held[e.Stage] = append(o.held[e.Stage], e)
}

// finish marks a stage finished and releases what the new head stages
// held back.
func (o *stageOrder) finish(s Stage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[s] = true
	for _, x := range o.order {
		for _, e := range o.held[x] {
			o.emit(e)
		}
		delete(o.held, x)
		if !o.done[x] {
			return
		}
	}
}

// finishAll releases every held event, in stage order.
func (o *stageOrder) finishAll() {
	if o == nil {
		return
	}
	for _, s := range o.order {
		o.finish(s)
	}
}

// ticker reports a long wait as Waiting events, at most one per
// ProgressEvery: call it on every poll of the wait.
func (r *run) ticker(kind, name, what string) func() {
	start := time.Now()
	last := start
	return func() {
		now := time.Now()
		if now.Sub(last) < r.d.opt.ProgressEvery {
			return
		}
		last = now
		r.event(kind, name, "", Waiting, fmt.Sprintf("%s, %s so far", what, now.Sub(start).Round(time.Second)))
	}
}

// poll is Deployer.poll with progress lines: kind and name say what the
// wait is for.
func (r *run) poll(ctx context.Context, kind, name, what string, check func(context.Context) (bool, error)) error {
	tick := r.ticker(kind, name, what)
	return r.d.poll(ctx, what, func(ctx context.Context) (bool, error) {
		ok, err := check(ctx)
		if !ok && err == nil {
			tick()
		}
		return ok, err
	})
}

// ticking wraps an SDK waiter's Retryable so that every retry, a wait that
// goes on, calls tick.
func ticking[I, O any](next func(context.Context, *I, *O, error) (bool, error), tick func()) func(context.Context, *I, *O, error) (bool, error) {
	return func(ctx context.Context, in *I, out *O, err error) (bool, error) {
		retry, err := next(ctx, in, out, err)
		if retry {
			tick()
		}
		return retry, err
	}
}

// Summary counts a run's events by what they mean to a person.
type Summary struct {
	Create    int `json:"create"`    // to create (plan) or created (apply)
	Change    int `json:"change"`    // to change or changed
	Unchanged int `json:"unchanged"` // exists as configured
	Delete    int `json:"delete"`    // deleted (destroy, sync)
	Warnings  int `json:"warnings"`  // things fabric does not repair
}

// Summarize counts events; Waiting lines are not counted.
func Summarize(events []Event) Summary {
	var s Summary
	for _, e := range events {
		switch e.Action {
		case Create, Created:
			s.Create++
		case Change, Changed:
			s.Change++
		case Exists:
			s.Unchanged++
		case Deleted:
			s.Delete++
		case Warning:
			s.Warnings++
		}
	}
	return s
}

// PlanLine is terraform's summary of a plan: "Plan: 37 to create, 9 to
// change, 5 unchanged." or "No changes. …" when nothing would change.
func (s Summary) PlanLine() string {
	w := ""
	if s.Warnings > 0 {
		w = fmt.Sprintf(" %d warning%s.", s.Warnings, plural(s.Warnings))
	}
	if s.Create+s.Change == 0 {
		return fmt.Sprintf("No changes. %d resources exist as configured.%s", s.Unchanged, w)
	}
	return fmt.Sprintf("Plan: %d to create, %d to change, %d unchanged.%s", s.Create, s.Change, s.Unchanged, w)
}

// ApplyLine summarises an apply: "Apply complete: 37 created, 9 changed, 5 unchanged."
func (s Summary) ApplyLine() string {
	parts := []string{fmt.Sprintf("%d created", s.Create), fmt.Sprintf("%d changed", s.Change), fmt.Sprintf("%d unchanged", s.Unchanged)}
	if s.Delete > 0 {
		parts = append(parts, fmt.Sprintf("%d deleted", s.Delete))
	}
	line := "Apply complete: " + strings.Join(parts, ", ") + "."
	if s.Warnings > 0 {
		line += fmt.Sprintf(" %d warning%s.", s.Warnings, plural(s.Warnings))
	}
	return line
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
