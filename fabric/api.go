package fabric

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// newRun starts a run; stage 00 (read-only) fills its environment.
func (d *Deployer) newRun(ctx context.Context, plan bool, stages []Stage) (*run, error) {
	r := &run{d: d, plan: plan, planned: map[Stage]bool{}, stage: StageInit, creates: &sync.Map{}}
	for _, s := range stages {
		r.planned[s] = true
	}
	if len(stages) > 0 {
		r.out = newStageOrder(stages, d.emit)
	}
	env, err := r.initEnv(ctx)
	if err != nil {
		return nil, err
	}
	r.env = env
	return r, nil
}

// ordered wraps a stage function so that a stage's end releases the events
// the stages after it held back.
func (r *run) ordered(do func(context.Context, Stage) error) func(context.Context, Stage) error {
	return func(ctx context.Context, s Stage) error {
		if r.out != nil {
			if s != StageInit {
				r.out.finish(StageInit)
			}
			defer r.out.finish(s)
		}
		return do(ctx, s)
	}
}

func nonNil(e []Event) []Event {
	if e == nil {
		return []Event{}
	}
	return e
}

func (r *run) stage1(ctx context.Context, s Stage) error {
	rs := r.withStage(s)
	switch s {
	case StageInit:
		return nil // done by newRun
	case StageSecurity:
		return rs.stageSecurity(ctx)
	case StageGWLB:
		return rs.stageGWLB(ctx)
	case StageRouting:
		return rs.stageRouting(ctx)
	case StageProbes:
		return rs.stageProbes(ctx)
	case StageNLB:
		return rs.stageNLB(ctx)
	case StageFilter:
		return rs.stageFilter(ctx)
	case StageSessions:
		_, err := rs.syncSessions(ctx)
		return err
	case StageDeploy:
		return rs.stageDeploy(ctx)
	}
	return fmt.Errorf("stage %s: not a stage Apply runs", s)
}

// Plan reports, through the Observer and in its result, what Apply would do
// to each resource of stages 00–08: create, exists or change. It makes no
// mutating call. Stage 08 is planned only when PROBE_BINARY and PROBE_UNIT
// are set.
func (d *Deployer) Plan(ctx context.Context) ([]Event, error) {
	var (
		mu     sync.Mutex
		events []Event
	)
	opt := d.opt
	pd := &Deployer{cfg: d.cfg, c: d.c, opt: opt}
	pd.opt.Observer = func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		d.emit(e)
	}
	stages := ApplyStages
	if d.cfg.ProbeBinary == "" {
		stages = stages[:len(stages)-1]
	}
	r, err := pd.newRun(ctx, true, stages)
	if err != nil {
		return nonNil(events), err
	}
	err = runDAG(ctx, stages, r.ordered(r.stage1))
	r.out.finishAll()
	return nonNil(events), err
}

// Apply makes every resource of the given stages exist as planned, reading
// what exists first; with no stage it runs 00–08, independent stages in
// parallel. StageVerify runs Verify and fails unless every check passes;
// StageSync runs SyncENIs. Apply may be interrupted at any point and run
// again: it converges without duplicates, the tags on AWS being the state.
func (d *Deployer) Apply(ctx context.Context, stages ...Stage) error {
	if len(stages) == 0 {
		stages = ApplyStages
	}
	var build []Stage
	for _, s := range stages {
		switch s {
		case StageVerify:
			cs, err := d.Verify(ctx)
			if err != nil {
				return err
			}
			if !cs.OK() {
				return fmt.Errorf("stage %s: verify failed", StageVerify)
			}
		case StageSync:
			if _, err := d.SyncENIs(ctx); err != nil {
				return err
			}
		case StageDestroy:
			return fmt.Errorf("stage %s: use Destroy", StageDestroy)
		default:
			if _, ok := stageDeps[s]; !ok {
				return fmt.Errorf("stage %q: unknown", s)
			}
			build = append(build, s)
		}
	}
	if len(build) == 0 {
		return nil
	}
	r, err := d.newRun(ctx, false, append([]Stage{StageInit}, build...))
	if err != nil {
		return err
	}
	err = runDAG(ctx, build, r.ordered(r.stage1))
	r.out.finishAll() // stages skipped after a failure never finished
	return err
}

// Verify runs stage 09's checks: infrastructure, routing, mirror (with
// CloudWatch's NetworkPacketsSkipMirrorIn/Out of the appliances), probe,
// traffic, fleet (every probe's summaries in the fleet table) and allowance
// (the ENA allowance counters of every appliance and probe, read through
// Run Command, against the dxmon:nic-allowance tag: see TagNICAllowance).
// All but the last are read-only; the last runs a read-only script on the
// instances and rewrites that tag. With names (CheckNames) it runs only
// those, still in that order: for example "allowance" alone, from a
// periodic job. The error is for a failure to check at all, or an unknown
// name; failed checks are in the result.
func (d *Deployer) Verify(ctx context.Context, names ...string) (Checks, error) {
	only, err := checkSet(names)
	if err != nil {
		return nil, err
	}
	r, err := d.newRun(ctx, true, nil)
	if err != nil {
		return nil, err
	}
	return r.withStage(StageVerify).verify(ctx, only), nil
}

// SyncENIs is stage 10: it creates a mirror session for each appliance ENI
// that has none (on the lowest free session number) and deletes this
// project's sessions whose ENI is no longer an appliance's, tolerating
// sessions AWS already removed with their ENI. ENIs that already hold
// MaxSessionsPerENI sessions are listed in Full and make the error wrap
// ErrENIFull.
func (d *Deployer) SyncENIs(ctx context.Context) (SyncResult, error) {
	r := &run{d: d, stage: StageSync, env: &env{}}
	return r.syncSessions(ctx)
}

// Destroy is stage 99: it deletes every resource carrying the project tag,
// in the reverse order of creation, waiting for each deletion that a later
// one depends on. Resources that are already gone are skipped, so Destroy
// may be run again after an interruption.
func (d *Deployer) Destroy(ctx context.Context) error {
	r := &run{d: d, stage: StageDestroy, env: &env{}}
	err := r.destroy(ctx)
	if err != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("stage %s: interrupted: %w", StageDestroy, err)
	}
	return err
}
