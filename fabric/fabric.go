package fabric

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// Stage names one step of the pipeline, numbered 00 to 10 (docs/ARCHITECTURE.md).
type Stage string

// The stages. Apply runs StageInit to StageDeploy; StageVerify and
// StageSync may also be asked of Apply, which then runs Verify or SyncENIs.
const (
	StageInit     Stage = "00" // credentials, VPC, VGW, subnets, AMI (read-only)
	StageSecurity Stage = "01" // security groups
	StageGWLB     Stage = "02" // appliances, GENEVE target group, GWLB, endpoint service, GWLB endpoints
	StageRouting  Stage = "03" // VGW ingress route table, edge association, routes
	StageProbes   Stage = "04" // IAM role and profile, probe instances
	StageNLB      Stage = "05" // probe target group, internal NLB, mirror target
	StageFilter   Stage = "06" // mirror filter and rules
	StageSessions Stage = "07" // one mirror session per appliance ENI
	StageDeploy   Stage = "08" // dxprobe binary and unit through S3 and SSM Run Command
	StageVerify   Stage = "09" // read-only checks
	StageSync     Stage = "10" // ENI lifecycle sync
	StageDestroy  Stage = "99" // everything, in reverse
)

// stageDeps is the stages' DAG: 02 with 04, and 03 with 05–06, may run in
// parallel.
var stageDeps = map[Stage][]Stage{
	StageInit:     nil,
	StageSecurity: {StageInit},
	StageGWLB:     {StageSecurity},
	StageProbes:   {StageSecurity},
	StageRouting:  {StageGWLB},
	StageNLB:      {StageProbes},
	StageFilter:   {StageNLB},
	StageSessions: {StageGWLB, StageFilter},
	StageDeploy:   {StageSessions},
}

// ApplyStages lists the stages Apply runs when none is named, in order.
var ApplyStages = []Stage{StageInit, StageSecurity, StageGWLB, StageRouting, StageProbes,
	StageNLB, StageFilter, StageSessions, StageDeploy}

// ParseStage accepts "5", "05" or "05-nlb-mirror-target".
func ParseStage(s string) (Stage, error) {
	num, _, _ := strings.Cut(s, "-")
	if len(num) == 1 {
		num = "0" + num
	}
	st := Stage(num)
	if _, ok := stageDeps[st]; ok || st == StageVerify || st == StageSync {
		return st, nil
	}
	return "", fmt.Errorf("stage %q: want 00-10", s)
}

// Action says what happened, or in a plan what would happen, to a resource.
type Action string

// Actions. A plan reports Create, Exists and Change; apply reports Created,
// Exists and Changed; sync and destroy report Deleted. Waiting is a
// progress line during a long wait; Warning is something fabric will not
// repair by itself (another tool's mirror session that takes the traffic
// first).
const (
	Create  Action = "create"
	Change  Action = "change"
	Exists  Action = "exists"
	Created Action = "created"
	Changed Action = "changed"
	Deleted Action = "deleted"
	Waiting Action = "waiting"
	Warning Action = "warning"
	// Skipped reports a step left out by the configuration (APPLIANCE_BINARY
	// unset, RETURN_ROUTES off); the detail says why.
	Skipped Action = "skipped"
)

// Event is one progress line: a resource, what was done to it, its ID.
type Event struct {
	Stage  Stage  `json:"stage"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	ID     string `json:"id,omitempty"`
	Action Action `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// String renders the event as one line for people.
func (e Event) String() string {
	s := fmt.Sprintf("%s %-8s %-26s %s", e.Stage, e.Action, e.Kind, e.Name)
	if e.ID != "" && e.ID != e.Name && !isPlanned(e.ID) {
		s += " " + e.ID
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

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

// runDAG runs the stages, each when its predecessors in the list have
// finished, independent ones in parallel. A failed stage skips the stages
// that depend on it; all errors are joined.
func runDAG(ctx context.Context, stages []Stage, do func(context.Context, Stage) error) error {
	in := map[Stage]bool{}
	for _, s := range stages {
		in[s] = true
	}
	done := map[Stage]chan struct{}{}
	failed := map[Stage]bool{}
	for _, s := range stages {
		done[s] = make(chan struct{})
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, s := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[s])
			var depFailed []string
			for _, dep := range stageDeps[s] {
				if !in[dep] {
					continue
				}
				<-done[dep]
				mu.Lock()
				if failed[dep] {
					depFailed = append(depFailed, string(dep))
				}
				mu.Unlock()
			}
			var err error
			if len(depFailed) > 0 {
				err = fmt.Errorf("stage %s: skipped: stage %s failed", s, strings.Join(depFailed, ", "))
			} else if err = ctx.Err(); err == nil {
				err = do(ctx, s)
			} else {
				err = fmt.Errorf("stage %s: %w", s, err)
			}
			if err != nil {
				mu.Lock()
				failed[s] = true
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Tag keys fabric sets on every resource (see the package documentation).
const (
	TagProject = "Project"
	TagName    = "Name"
	TagRole    = "dxmon:role"
	// TagProbeVersion on a probe instance records the dxprobe build stage 08
	// installed there.
	TagProbeVersion = "dxmon:probe-version"
)

// name builds a resource name: the project tag, then the parts.
func (d *Deployer) name(parts ...string) string {
	return d.cfg.ProjectTag + "-" + strings.Join(parts, "-")
}

// clientToken is a fresh ClientToken for the creation calls whose SDK
// input has no idempotency auto-fill (CreateVpcEndpoint,
// CreateVpcEndpointServiceConfiguration): like the SDK's own, it is made
// once per call, so the SDK's retries of that call share it, and a later
// run never replays it (see "Client tokens" in the package documentation).
func clientToken() *string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return aws.String(hex.EncodeToString(b))
}

func (d *Deployer) tags(name, role string) []ec2types.Tag {
	return []ec2types.Tag{
		{Key: aws.String(TagProject), Value: aws.String(d.cfg.ProjectTag)},
		{Key: aws.String(TagName), Value: aws.String(name)},
		{Key: aws.String(TagRole), Value: aws.String(role)},
	}
}

func (d *Deployer) tagSpec(rt ec2types.ResourceType, name, role string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: d.tags(name, role)}}
}

// byName filters on the project and Name tags.
func (d *Deployer) byName(name string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.cfg.ProjectTag}},
		{Name: aws.String("tag:" + TagName), Values: []string{name}},
	}
}

// byRole filters on the project and role tags.
func (d *Deployer) byRole(role string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.cfg.ProjectTag}},
		{Name: aws.String("tag:" + TagRole), Values: []string{role}},
	}
}

// owns reports whether tags carry this project's Project tag and, when
// name is not empty, that Name. fabric checks it on everything Describe
// returns: a tag filter narrows the answer, but an emulator (or a filter
// typo) that ignores it must never make fabric adopt, modify or delete
// another's resource.
func (d *Deployer) owns(tags []ec2types.Tag, name string) bool {
	return tagValue(tags, TagProject) == d.cfg.ProjectTag && (name == "" || tagValue(tags, TagName) == name)
}

// ownsRole is owns for a role instead of a name.
func (d *Deployer) ownsRole(tags []ec2types.Tag, role string) bool {
	return tagValue(tags, TagProject) == d.cfg.ProjectTag && tagValue(tags, TagRole) == role
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err says the resource does not exist.
func isNotFound(err error) bool {
	c := errorCode(err)
	return strings.Contains(c, "NotFound") || c == "NoSuchEntity" || c == "NoSuchBucket" || c == "NoSuchKey"
}

// poll calls check every PollInterval until it reports done, the context
// ends, or WaitTimeout passes; what names the wait in the error. It is for
// the waits the SDK has no waiter for.
func (d *Deployer) poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d.opt.WaitTimeout)
	defer cancel()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
		ok, err := check(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		t.Reset(d.opt.PollInterval)
	}
}

// waitDelays returns the MinDelay and MaxDelay for the SDK's waiters.
func (d *Deployer) waitDelays() (time.Duration, time.Duration) {
	return d.opt.PollInterval, 4 * d.opt.PollInterval
}
