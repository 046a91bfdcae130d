package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Options tune a Deployer; the zero value is production's.
type Options struct {
	// Observer receives every Event, one call at a time (never concurrently).
	Observer func(Event)
	// PollInterval is the shortest wait between two polls of a waiter
	// (instances, load balancers, endpoints, commands). Default 5s.
	PollInterval time.Duration
	// WaitTimeout bounds each wait. Default 15 minutes.
	WaitTimeout time.Duration
	// Now is the clock verify reads CloudWatch windows from. Default time.Now.
	Now func() time.Time
	// ProgressEvery is how often a long wait (load balancer, GWLB
	// endpoints, instances, Run Command) reports a Waiting event. Default
	// 15s.
	ProgressEvery time.Duration
}

// Deployer builds, plans, verifies, syncs and destroys one pipeline. Its
// methods may be called from several goroutines, though running two applies
// of the same project at once is pointless.
type Deployer struct {
	cfg Config
	c   Clients
	opt Options
	mu  sync.Mutex // serialises Observer calls
}

// New returns a Deployer for cfg. It validates cfg and makes no AWS call.
func New(cfg Config, c Clients, opt Options) (*Deployer, error) {
	cfg = cfg.withDeployDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if c.EC2 == nil || c.ELB == nil || c.IAM == nil || c.S3 == nil || c.SSM == nil || c.STS == nil || c.CloudWatch == nil {
		return nil, errors.New("fabric: every client of Clients must be set")
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 5 * time.Second
	}
	if opt.WaitTimeout <= 0 {
		opt.WaitTimeout = 15 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = 15 * time.Second
	}
	return &Deployer{cfg: cfg, c: c, opt: opt}, nil
}

// Config returns the Deployer's configuration.
func (d *Deployer) Config() Config { return d.cfg }

func (d *Deployer) emit(e Event) {
	if d.opt.Observer == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opt.Observer(e)
}

// run is one Apply, Plan, Verify, SyncENIs or Destroy: the environment read
// by stage 00 and whether mutations are allowed.
type run struct {
	d     *Deployer
	plan  bool
	env   *env
	stage Stage
	// planned lists the stages this plan covers: their missing resources
	// become placeholders for the stages after them.
	planned map[Stage]bool
	// out, when set, holds back the events of a stage until the stages
	// before it have finished, so that output is grouped by stage.
	out *stageOrder
	// creates holds the kind/name pairs a plan has already announced for
	// creation, for the resources two stages share (the artifact bucket of
	// stages 02 and 08), so that a plan counts each once.
	creates *sync.Map
}

// withStage returns a copy of r for one stage.
func (r run) withStage(s Stage) *run { r.stage = s; return &r }

// plannedPrefix marks the ID of a resource a plan would create.
const plannedPrefix = "(new "

func plannedID(name string) string { return plannedPrefix + name + ")" }

// displayID is id for people: a planned resource's name, else its ID.
func displayID(id string) string {
	if isPlanned(id) {
		return strings.TrimSuffix(strings.TrimPrefix(id, plannedPrefix), ")")
	}
	return id
}

// isPlanned reports whether id stands for a resource not created yet.
func isPlanned(id string) bool { return strings.HasPrefix(id, plannedPrefix) }

func (r *run) event(kind, name, id string, a Action, detail string) {
	e := Event{Stage: r.stage, Kind: kind, Name: name, ID: id, Action: a, Detail: detail}
	if r.out != nil {
		r.out.event(e)
		return
	}
	r.d.emit(e)
}

// fail wraps err with the stage and the resource.
func (r *run) fail(kind, name string, err error) error {
	return fmt.Errorf("stage %s: %s %s: %w", r.stage, kind, name, err)
}

// ensure finds a resource and, when it is missing, creates it (apply) or
// reports that it would (plan). It returns the resource's ID.
func (r *run) ensure(ctx context.Context, kind, name string,
	find func(context.Context) (string, error), create func(context.Context) (string, error)) (string, error) {
	return r.ensureWith(ctx, kind, name, "", find, create)
}

// ensureWith is ensure with the attributes of the resource to create (for
// example "c6g.large in subnet-… (us-east-1a)"), shown on the create and
// created events.
func (r *run) ensureWith(ctx context.Context, kind, name, attrs string,
	find func(context.Context) (string, error), create func(context.Context) (string, error)) (string, error) {
	id, err := find(ctx)
	if err != nil {
		return "", r.fail(kind, name, fmt.Errorf("find: %w", err))
	}
	if id != "" {
		r.event(kind, name, id, Exists, "")
		return id, nil
	}
	if r.plan {
		r.event(kind, name, "", Create, attrs)
		return plannedID(name), nil
	}
	id, err = create(ctx)
	if err != nil {
		return "", r.fail(kind, name, fmt.Errorf("create: %w", err))
	}
	r.event(kind, name, id, Created, attrs)
	return id, nil
}

// change applies (or, in a plan, reports) a modification of an existing
// resource, described by detail.
func (r *run) change(ctx context.Context, kind, name, id, detail string, apply func(context.Context) error) error {
	if r.plan {
		r.event(kind, name, id, Change, detail)
		return nil
	}
	if err := apply(ctx); err != nil {
		return r.fail(kind, name, fmt.Errorf("%s: %w", detail, err))
	}
	r.event(kind, name, id, Changed, detail)
	return nil
}

// need finds a prerequisite made by an earlier stage. When it is missing,
// a plan that covers the producing stage gets a placeholder; otherwise the
// error names the resource and the stage to run.
func (r *run) need(ctx context.Context, from Stage, kind, name string, find func(context.Context) (string, error)) (string, error) {
	id, err := find(ctx)
	if err != nil {
		return "", r.fail(kind, name, fmt.Errorf("find: %w", err))
	}
	if id != "" {
		return id, nil
	}
	if r.plan && r.planned[from] {
		return plannedID(name), nil
	}
	return "", fmt.Errorf("stage %s: missing prerequisite %s %s (run stage %s first)", r.stage, kind, name, from)
}
