package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/dxmon/dxmon/fleet"
)

// The guard's loop. Each tick reads, within TickTimeout: the GWLB's
// cross-zone attribute, its target group's health (DescribeTargetHealth),
// the appliances' AZs, the GWLB endpoints and the routes stage 03 writes;
// DecideGuard decides; the tick then bypasses or restores AZs and reports
// each change to the log and to Notify.
//
// The bound. From the moment the GWLB marks the last reachable target
// unhealthy (its own detection: HealthCheckIntervalSeconds ×
// UnhealthyThresholdCount, "Health checks for Gateway Load Balancer target
// groups") to the routes pointing direct, at most
//
//	max(Every, TickTimeout) + TickTimeout
//
// passes: the tick running when the change appears in DescribeTargetHealth
// may just have read the old state and last up to TickTimeout; the next
// starts at most max(Every, TickTimeout) after it started (a time.Ticker
// drops the ticks a slow tick missed) and has written the routes within
// its own TickTimeout, SDK retries included. With the defaults (Every 5 s,
// TickTimeout 10 s) that is 20 s. AWS documents no delay for a route
// change to take effect, nor for DescribeTargetHealth to show a new state;
// the remaining 10 s of the 30 s this package promises are for those.
// GuardConfig.Validate refuses settings whose bound exceeds MaxGuardBound.
//
// What a tick reads. The guard runs on every probe, each ticking every
// Every, and AWS throttles each EC2 API per account and Region, other
// tools' requests included: "the token bucket size for DescribeHosts, a
// non-mutating API action, is 100 tokens ... refill rate of 20 tokens per
// second" ("Request throttling for the Amazon EC2 API", Amazon EC2
// Developer Guide). Reading the routes, subnets, endpoints and appliances
// on every tick cost ten EC2 requests, five of them DescribeRouteTables:
// ten probes at the default 5 s would take half the account's refill of
// that API for themselves, and a throttled guard cannot bypass. So a tick
// reads only what changes its decision, the cross-zone attribute and the
// target health (two Elastic Load Balancing requests), and keeps the rest
// (routes, endpoints, the appliances' AZs, the load balancer's and target
// group's ARNs) from its last full read, which it repeats every
// RefreshEvery (default 1 min), after a failed read or write, after any
// route change, when the health names a target it cannot place, and always
// before acting: a bypass or restore is decided again, and written, from
// routes read in the same tick. What a kept view can delay is only what a
// tick reports (GuardTick.Held, the reasons) after an operator's bypass or
// restore, by at most RefreshEvery.
//
// A tick that cannot read or write AWS changes nothing more and says so
// once; one that cannot read also forgets the health it had seen (a
// restore then needs RestoreAfter of health seen again from scratch): the first failed tick sends a notice, the
// following ones only log, and the first tick that succeeds again sends
// one more.

// Defaults and limits of GuardConfig.
const (
	DefaultGuardEvery        = 5 * time.Second
	DefaultGuardRestoreAfter = 2 * time.Minute
	DefaultGuardTickTimeout  = 10 * time.Second
	DefaultGuardRefreshEvery = time.Minute
	// MaxGuardBound is the longest GuardBound allowed: from the GWLB's own
	// detection to traffic flowing direct.
	MaxGuardBound = 30 * time.Second
)

// GuardConfig tunes a Guard; zero fields take the defaults.
type GuardConfig struct {
	// Every is the interval between ticks (dxdeploy guard -every).
	Every time.Duration
	// RestoreAfter is how long an AZ's endpoint must reach a healthy
	// appliance before its routes are restored (-restore-after).
	RestoreAfter time.Duration
	// TickTimeout bounds each tick's AWS calls and route writes.
	TickTimeout time.Duration
	// RefreshEvery is how old the routes, endpoints and appliances a tick
	// decides from may be when it does not act (see "What a tick reads"
	// above); a tick that acts always reads them first.
	RefreshEvery time.Duration
	// Now is the clock of the decisions. Default time.Now.
	Now func() time.Time
	// Notify receives every bypass and restore, and the loss and return
	// of the AWS API, one call at a time and in order; it must not block.
	// Nil: log only.
	Notify func(GuardNotice)
	// Claims, when not nil, makes the guards of every probe send one
	// notice per change between them. A guard runs on each probe, and
	// two that read the routes before either wrote both change them and
	// both report it. So before notifying a bypass or restore the guard
	// claims it in the fleet table (fleet.Store.ClaimGuardNotice, held
	// for GuardBound) and notifies only if its claim wins. A claim that
	// fails for another reason (the table unreachable or slow past
	// TickTimeout) still notifies: a duplicate rather than a lost
	// message. The claims are made after the tick, on a goroutine of
	// their own, so they never delay a route write or the next tick
	// (Guard.WaitNotices waits for them). Nil: each guard notifies what
	// it changed, within the tick.
	Claims *fleet.Store
	// Name names this guard in its claims (default: the host name).
	Name string
	// Log receives one line per change and per failed tick. Nil: discard.
	Log *slog.Logger
}

func (c GuardConfig) withDefaults() GuardConfig {
	if c.Every == 0 {
		c.Every = DefaultGuardEvery
	}
	if c.RestoreAfter == 0 {
		c.RestoreAfter = DefaultGuardRestoreAfter
	}
	if c.TickTimeout == 0 {
		c.TickTimeout = DefaultGuardTickTimeout
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = DefaultGuardRefreshEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	return c
}

// GuardBound is the longest time from the GWLB's detection of the last
// reachable target's failure to the routes pointing direct (see the top of
// guardloop.go).
func GuardBound(every, tickTimeout time.Duration) time.Duration {
	return max(every, tickTimeout) + tickTimeout
}

// Validate checks the settings, naming the flag.
func (c GuardConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Every < time.Second:
		return fmt.Errorf("guard -every %s: want at least 1s", c.Every)
	case c.RestoreAfter < 0:
		return fmt.Errorf("guard -restore-after %s: must not be negative", c.RestoreAfter)
	case c.TickTimeout < time.Second:
		return fmt.Errorf("guard -tick-timeout %s: want at least 1s", c.TickTimeout)
	case c.RefreshEvery < 0:
		return fmt.Errorf("guard RefreshEvery %s: must not be negative", c.RefreshEvery)
	case GuardBound(c.Every, c.TickTimeout) > MaxGuardBound:
		return fmt.Errorf("guard -every %s -tick-timeout %s: the bound max(every, tick-timeout) + tick-timeout is %s, over %s",
			c.Every, c.TickTimeout, GuardBound(c.Every, c.TickTimeout), MaxGuardBound)
	}
	return nil
}

// GuardNotice is one notification of the guard.
type GuardNotice struct {
	// Kind is "bypass", "restore", "api-unreachable" (a read or a write
	// failed) or "api-reachable" (a tick succeeded again).
	Kind    string
	AZ      string // for bypass and restore
	Subject string // one line
	Body    string
	Changes []RouteChange
}

// GuardTick is what one tick saw and did.
type GuardTick struct {
	At        time.Time
	CrossZone bool
	Held      bool
	Healthy   map[string]int
	Decisions []GuardDecision
	Changes   []RouteChange
	// RoutesRead is true when the tick read the routes, endpoints and
	// appliances, false when it decided from the view it kept.
	RoutesRead bool
}

// Guard bypasses the appliances of every AZ whose GWLB endpoint reaches
// no healthy appliance, and restores them after RestoreAfter of health.
// Make it with NewGuard; Tick and Run must not be called concurrently.
type Guard struct {
	d       *Deployer
	cfg     GuardConfig
	st      GuardState
	apiDown bool
	view    *guardView // the last full read; nil: read everything next tick
	// With Claims: the tick's notices, sent after it (sendQueued); sent
	// is closed when the last tick's have been.
	queued []queuedNotice
	sent   chan struct{}
}

// queuedNotice is a notice to send after the tick, claimed first when
// claim is set.
type queuedNotice struct {
	n     GuardNotice
	at    time.Time
	claim bool
}

// guardView is a tick's full read: the routes and what names the health.
type guardView struct {
	at    time.Time
	paths pathView
	lbARN string            // "" when the GWLB does not exist
	tgARN string            // "" when its target group does not exist
	azOf  map[string]string // appliance instance ID → AZ
}

// NewGuard returns a guard of d's deployment.
func (d *Deployer) NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Guard{d: d, cfg: cfg.withDefaults()}, nil
}

// Config returns the guard's settings, defaults filled in.
func (g *Guard) Config() GuardConfig { return g.cfg }

// Run ticks every Every until ctx ends, then returns nil. Failed ticks are
// logged and notified (once), never fatal.
func (g *Guard) Run(ctx context.Context) error {
	t := time.NewTicker(g.cfg.Every)
	defer t.Stop()
	defer g.WaitNotices() // the last notices go out before Run returns
	for {
		_, _ = g.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// WaitNotices waits until the notices of past ticks have been claimed and
// handed to Notify (with GuardConfig.Claims; without, Tick sends them
// itself). Call it from the goroutine that calls Tick.
func (g *Guard) WaitNotices() {
	if g.sent != nil {
		<-g.sent
	}
}

// sendQueued sends the tick's queued notices on a goroutine, after those
// of earlier ticks: each claimed first when it must be (report), within
// TickTimeout, and handed to Notify if the claim did not fail as taken.
func (g *Guard) sendQueued(ctx context.Context) {
	if len(g.queued) == 0 {
		return
	}
	items, prev, done := g.queued, g.sent, make(chan struct{})
	g.queued, g.sent = nil, done
	ctx = context.WithoutCancel(ctx) // a stop does not cut the last notices short
	hold := GuardBound(g.cfg.Every, g.cfg.TickTimeout)
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		for _, q := range items {
			if q.claim {
				cctx, cancel := context.WithTimeout(ctx, g.cfg.TickTimeout)
				err := g.cfg.Claims.ClaimGuardNotice(cctx, q.n.AZ, q.n.Kind, g.cfg.Name, q.at, hold)
				cancel()
				switch {
				case errors.Is(err, fleet.ErrClaimed):
					g.cfg.Log.Info("guard: another probe's guard sent the notice of this "+q.n.Kind, "az", q.n.AZ)
					continue
				case err != nil:
					g.cfg.Log.Warn("guard: could not claim the notice; sending it (another guard may send it too)", "az", q.n.AZ, "err", err)
				}
			}
			if g.cfg.Notify != nil {
				g.cfg.Notify(q.n)
			}
		}
	}()
}

// Tick reads health (and, when it must, the routes: see "What a tick
// reads"), decides, and bypasses or restores AZs. The error is a failure
// to read or write AWS; the tick then changed nothing beyond the writes
// listed in the result. Its notices reach Notify before it returns, or,
// with GuardConfig.Claims, after (WaitNotices).
func (g *Guard) Tick(ctx context.Context) (GuardTick, error) {
	res, err := g.tick(ctx)
	g.sendQueued(ctx)
	return res, err
}

// tick is Tick but for sending the notices it queued (with Claims).
func (g *Guard) tick(ctx context.Context) (GuardTick, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.TickTimeout)
	defer cancel()
	res := GuardTick{At: g.cfg.Now()}
	health, cross, err := g.observe(ctx, &res)
	if err != nil {
		g.st, g.view = GuardState{}, nil // health not seen: a restore needs RestoreAfter of it again
		return res, g.failed("cannot reach the AWS API", err)
	}
	in, byAZ := g.input(res.At, cross, health)
	if _, decs := DecideGuard(g.st, in); acts(decs) && !res.RoutesRead {
		// Act only on routes read now: read them, and decide again.
		if err := g.refresh(ctx, res.At, &res); err != nil {
			g.st, g.view = GuardState{}, nil
			return res, g.failed("cannot reach the AWS API", err)
		}
		in, byAZ = g.input(res.At, cross, health)
	}
	v := g.view.paths
	res.CrossZone, res.Held, res.Healthy = cross, v.held(), health
	if v.ingress == nil {
		g.recovered()
		g.cfg.Log.Info("guard: nothing to guard: route table missing (stage 03 not applied)", "route_table", g.d.routeTableName())
		return res, nil
	}
	g.st, res.Decisions = DecideGuard(g.st, in)
	var errs []error
	for _, dec := range res.Decisions {
		var done []RouteChange
		var err error
		switch dec.Action {
		case GuardBypass:
			done, err = g.d.bypassAZ(ctx, v, byAZ[dec.AZ])
		case GuardRestore:
			done, err = g.d.restoreAZ(ctx, v, byAZ[dec.AZ])
		default:
			continue
		}
		res.Changes = append(res.Changes, done...)
		if len(done) > 0 {
			g.report(res.At, dec, done, cross, health)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", dec.Action, dec.AZ, err))
		}
	}
	if len(res.Changes) > 0 || len(errs) > 0 {
		g.view = nil // the routes changed, or may have: read them next tick
	}
	if err := errors.Join(errs...); err != nil {
		return res, g.failed("could not write every route", err)
	}
	g.recovered()
	return res, nil
}

// acts reports whether a decision changes routes.
func acts(decs []GuardDecision) bool {
	for _, d := range decs {
		if d.Action != GuardKeep {
			return true
		}
	}
	return false
}

// input is DecideGuard's input from the kept view and this tick's health,
// with the view's routes by AZ.
func (g *Guard) input(now time.Time, cross bool, health map[string]int) (GuardInput, map[string]azRoutes) {
	v := g.view.paths
	in := GuardInput{Now: now, CrossZone: cross, Held: v.held(), RestoreAfter: g.cfg.RestoreAfter, Healthy: health}
	byAZ := map[string]azRoutes{}
	for _, a := range v.azs {
		in.AZs = append(in.AZs, AZView{AZ: a.az, Path: g.d.path(v, a)})
		byAZ[a.az] = a
	}
	return in, byAZ
}

// observe reads the health: the GWLB's cross-zone attribute and its
// healthy targets by AZ. It first reads everything else again when the
// kept view is missing or older than RefreshEvery, and once more when the
// health cannot be read with the kept ARNs (a load balancer replaced or
// deleted) or names a target the view cannot place.
func (g *Guard) observe(ctx context.Context, res *GuardTick) (map[string]int, bool, error) {
	if g.view == nil || res.At.Sub(g.view.at) >= g.cfg.RefreshEvery || res.At.Before(g.view.at) {
		if err := g.refresh(ctx, res.At, res); err != nil {
			return nil, false, err
		}
	}
	health, cross, placed, err := g.health(ctx)
	if (err != nil || !placed) && !res.RoutesRead {
		if err := g.refresh(ctx, res.At, res); err != nil {
			return nil, false, err
		}
		health, cross, _, err = g.health(ctx)
	}
	return health, cross, err
}

// refresh reads the routes, the GWLB's and target group's ARNs and the
// appliances' AZs into g.view. A GWLB or target group that does not exist
// leaves its ARN empty: it has no healthy target.
func (g *Guard) refresh(ctx context.Context, now time.Time, res *GuardTick) error {
	d := g.d
	res.RoutesRead = true
	v := &guardView{at: now, azOf: map[string]string{}}
	var err error
	if v.paths, err = d.readPaths(ctx); err != nil {
		return err
	}
	lb, err := d.findLB(ctx, d.gwlbName())
	if err != nil {
		return fmt.Errorf("load balancer %s: %w", d.gwlbName(), err)
	}
	if lb != nil {
		v.lbARN = aws.ToString(lb.LoadBalancerArn)
	}
	if v.tgARN, err = d.findTG(d.gwlbTGName())(ctx); err != nil {
		return fmt.Errorf("target group %s: %w", d.gwlbTGName(), err)
	}
	apps, err := d.findInstances(ctx, "appliance", "")
	if err != nil {
		return fmt.Errorf("appliances: %w", err)
	}
	for _, i := range apps {
		if i.Placement != nil {
			v.azOf[aws.ToString(i.InstanceId)] = aws.ToString(i.Placement.AvailabilityZone)
		}
	}
	g.view = v
	return nil
}

// health reads the cross-zone attribute and the healthy targets by AZ
// with the kept view's ARNs (two requests). placed is false when a
// healthy target is not one of the view's appliances.
func (g *Guard) health(ctx context.Context) (health map[string]int, cross, placed bool, err error) {
	d, v := g.d, g.view
	health, placed = map[string]int{}, true
	if v.lbARN == "" {
		return health, false, true, nil
	}
	attrs, err := d.c.ELB.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(v.lbARN)})
	if err != nil {
		return nil, false, false, fmt.Errorf("load balancer %s attributes: %w", d.gwlbName(), err)
	}
	for _, a := range attrs.Attributes {
		if aws.ToString(a.Key) == "load_balancing.cross_zone.enabled" {
			cross = aws.ToString(a.Value) == "true"
		}
	}
	if v.tgARN == "" {
		return health, cross, true, nil
	}
	states, err := d.targetStates(ctx, v.tgARN)
	if err != nil {
		return nil, false, false, fmt.Errorf("target health of %s: %w", d.gwlbTGName(), err)
	}
	for _, s := range states {
		if s.State == string(elbtypes.TargetHealthStateEnumHealthy) {
			// A healthy target that is not one of our appliances has no
			// AZ here: it counts only with cross-zone on.
			az, ok := v.azOf[s.ID]
			placed = placed && ok
			health[az]++
		}
	}
	return health, cross, placed, nil
}

// report logs and notifies one bypass or restore (with Claims, after the
// tick and unless another guard claimed its notice).
func (g *Guard) report(at time.Time, dec GuardDecision, done []RouteChange, cross bool, health map[string]int) {
	var lines []string
	for _, c := range done {
		lines = append(lines, c.String())
	}
	var hs []string
	for az, n := range health {
		if az == "" {
			az = "(no AZ)"
		}
		hs = append(hs, fmt.Sprintf("%s=%d", az, n))
	}
	sort.Strings(hs)
	if len(hs) == 0 {
		hs = []string{"none"}
	}
	cz := "off"
	if cross {
		cz = "on"
	}
	subject := fmt.Sprintf("dxmon guard: %s bypassed: appliances out of the path, traffic flows direct and unobserved", dec.AZ)
	if dec.Action == GuardRestore {
		subject = fmt.Sprintf("dxmon guard: %s restored: traffic flows through the appliances again", dec.AZ)
	}
	body := fmt.Sprintf("project %s, %s: %s\nhealthy appliances by AZ: %s (cross-zone load balancing %s)\nroutes:\n  %s",
		g.d.cfg.ProjectTag, dec.AZ, dec.Reason, strings.Join(hs, " "), cz, strings.Join(lines, "\n  "))
	g.cfg.Log.Warn("guard: "+string(dec.Action), "az", dec.AZ, "reason", dec.Reason, "routes", lines)
	g.notify(GuardNotice{Kind: string(dec.Action), AZ: dec.AZ, Subject: subject, Body: body, Changes: done}, at, true)
}

// failed handles a tick that could not read or write AWS: it logs, and
// notifies the first failure only. (A failed read also forgets the health
// seen so far; a failed write does not, so the next tick completes an
// interrupted restore at once.)
func (g *Guard) failed(what string, err error) error {
	g.cfg.Log.Error("guard: "+what+": changing nothing more", "err", err)
	if !g.apiDown {
		g.apiDown = true
		g.notify(GuardNotice{Kind: "api-unreachable",
			Subject: "dxmon guard: " + what + ": it changes nothing more until it can",
			Body: fmt.Sprintf("project %s: %v\nThe routes stay as they are; a restore waits for %s of health seen again.",
				g.d.cfg.ProjectTag, err, g.cfg.RestoreAfter)}, time.Time{}, false)
	}
	return err
}

func (g *Guard) recovered() {
	if !g.apiDown {
		return
	}
	g.apiDown = false
	g.cfg.Log.Info("guard: AWS API reachable again")
	g.notify(GuardNotice{Kind: "api-reachable", Subject: "dxmon guard: AWS API reachable again",
		Body: "project " + g.d.cfg.ProjectTag + ": the guard watches target health again"}, time.Time{}, false)
}

// notify sends n now, or with Claims queues it for after the tick (so
// that notices keep their order), claimed first when claim is set.
func (g *Guard) notify(n GuardNotice, at time.Time, claim bool) {
	switch {
	case g.cfg.Claims != nil:
		g.queued = append(g.queued, queuedNotice{n: n, at: at, claim: claim})
	case g.cfg.Notify != nil:
		g.cfg.Notify(n)
	}
}
