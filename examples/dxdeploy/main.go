// Command dxdeploy builds dxmon's AWS pipeline with package fabric: it reads
// config/dx-monitor.conf, applies command-line overrides, and prints one
// line per resource.
//
//	dxdeploy plan      [-config FILE] [-json] [-v] [-set KEY=VALUE …] [-KEY value …]
//	dxdeploy apply     [-stage NN] …
//	dxdeploy verify    [-check allowance,…] …
//	dxdeploy sync-enis [-every 2m] …
//	dxdeploy destroy   -force …
//	dxdeploy bypass    …
//	dxdeploy restore   …
//	dxdeploy guard     [-every 5s] [-restore-after 2m] [-tick-timeout 10s] …
//
// bypass takes the appliances out of the traffic path in every AZ (the
// VGW's ingress routes and the return routes go direct) and holds it so;
// restore puts them back behind stage 03's health gate; guard does both by
// itself from the GWLB's target health, AZ by AZ, until interrupted (see
// "Failing open" in the README).
//
// Every configuration key has a flag: AWS_REGION is -aws-region, VPC_ID is
// -vpc-id, and so on; -set KEY=VALUE (repeatable) does the same for any
// key. AWS endpoints, credentials and the profile come from the SDK's
// default chain (AWS_PROFILE, AWS_ENDPOINT_URL, …).
//
// The region is, first to last: -aws-region or -set AWS_REGION=…, the
// configuration file's AWS_REGION, then the SDK's own (the AWS_REGION
// environment variable, then the region of AWS_PROFILE's profile). The
// file comes before the environment because the VPC, VGW and subnets it
// names exist in one region only; when the environment names another,
// dxdeploy says which one it uses. -v logs every AWS request and response
// (without bodies, with the Authorization and X-Amz-Security-Token headers
// redacted) and retries to stderr.
//
// The exit status is 0 only when everything asked for holds; 2 is a usage
// or configuration error, found before any AWS call.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/dxmon/dxmon/fabric"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: dxdeploy <plan|apply|verify|sync-enis|destroy|bypass|restore|guard> [flags]
run "dxdeploy <command> -h" for the flags`

// flagName is the flag of a configuration key: VPC_ID → vpc-id.
func flagName(key string) string { return strings.ToLower(strings.ReplaceAll(key, "_", "-")) }

// run is dxdeploy; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "plan", "apply", "verify", "sync-enis", "destroy", "bypass", "restore", "guard":
	default:
		fmt.Fprintf(stderr, "dxdeploy: unknown command %q\n%s\n", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("dxdeploy "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	confPath := fs.String("config", "config/dx-monitor.conf", `configuration file (KEY=VALUE); "" for flags only`)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	verbose := fs.Bool("v", false, "log every AWS request and response (no bodies) and retry to stderr")
	var sets setFlags
	fs.Var(&sets, "set", "KEY=VALUE: overrides a configuration key (repeatable)")
	poll := fs.Duration("poll", 5*time.Second, "shortest wait between polls of AWS")
	timeout := fs.Duration("wait-timeout", 15*time.Minute, "longest wait for one resource")
	stage := fs.String("stage", "", "apply: run only this stage (00-10)")
	checks := fs.String("check", "", "verify: run only these checks, comma-separated ("+strings.Join(fabric.CheckNames(), ",")+")")
	every := fs.Duration("every", 0, "sync-enis: repeat at this interval until interrupted; guard: tick interval (0: 5s)")
	restoreAfter := fs.Duration("restore-after", fabric.DefaultGuardRestoreAfter, "guard: restore an AZ after its appliances have been healthy this long")
	tickTimeout := fs.Duration("tick-timeout", fabric.DefaultGuardTickTimeout, "guard: bound on each tick's AWS calls")
	force := fs.Bool("force", false, "destroy: required")
	overrides := map[string]*string{}
	for _, k := range fabric.ConfigKeys() {
		overrides[k] = fs.String(flagName(k), "", "overrides "+k)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dxdeploy %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}

	kv := map[string]string{}
	if *confPath != "" {
		f, err := os.Open(*confPath)
		switch {
		case err == nil:
			kv, err = fabric.ReadKeyValues(f)
			f.Close()
			if err != nil {
				fmt.Fprintf(stderr, "dxdeploy: config %s: %v\n", *confPath, err)
				return 2
			}
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stderr, "dxdeploy: config file %s does not exist (name one with -config FILE, or -config \"\" to give every key as a flag)\n", *confPath)
			return 2
		default:
			fmt.Fprintf(stderr, "dxdeploy: config: %v\n", err)
			return 2
		}
	}
	fileRegion := kv["AWS_REGION"]
	fs.Visit(func(fl *flag.Flag) {
		for k, v := range overrides {
			if fl.Name == flagName(k) {
				kv[k] = *v
			}
		}
	})
	for _, s := range sets {
		kv[s.key] = s.value
	}
	st, msg := stageFlag(cmd, *stage)
	if msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}
	only, msg := checkFlag(cmd, *checks)
	if msg != "" {
		fmt.Fprintln(stderr, msg)
		return 2
	}

	// The SDK's configuration is read (environment and shared files, no
	// AWS call) before the region is settled: it may supply it.
	var opts []func(*config.LoadOptions) error
	if *verbose {
		opts = append(opts, config.WithClientLogMode(aws.LogRequest|aws.LogResponse|aws.LogRetries),
			config.WithLogger(redacting{logging.NewStandardLogger(stderr)}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy: AWS configuration: %v\n", err)
		return 2
	}
	switch {
	case kv["AWS_REGION"] == "" && awsCfg.Region != "":
		kv["AWS_REGION"] = awsCfg.Region
	case kv["AWS_REGION"] == "":
		fmt.Fprintln(stderr, "dxdeploy: AWS_REGION is missing: set it in the config file, with -set AWS_REGION=…, in the environment or in the AWS_PROFILE's profile")
		return 2
	case awsCfg.Region != "" && awsCfg.Region != kv["AWS_REGION"]:
		from := "the config file"
		if kv["AWS_REGION"] != fileRegion {
			from = "the command line"
		}
		fmt.Fprintf(stderr, "dxdeploy: using AWS_REGION=%s from %s, not %s from the environment or profile\n", kv["AWS_REGION"], from, awsCfg.Region)
	}
	conf, err := fabric.ParseConfig(kv)
	if err != nil {
		where := *confPath
		if where == "" {
			where = "(flags)"
		}
		fmt.Fprintf(stderr, "dxdeploy: config %s: %v\n", where, err)
		return 2
	}
	awsCfg.Region = conf.Region
	if cmd == "destroy" && !*force {
		fmt.Fprintln(stderr, "dxdeploy destroy: deletes every resource tagged Project="+conf.ProjectTag+"; add -force to confirm")
		return 2
	}

	out := &printer{w: stdout, json: *asJSON}
	d, err := fabric.New(conf, fabric.NewClients(awsCfg), fabric.Options{
		Observer: out.event, PollInterval: *poll, WaitTimeout: *timeout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy: %v\n", err)
		return 2
	}
	if cmd == "guard" {
		gc := fabric.GuardConfig{Every: *every, RestoreAfter: *restoreAfter, TickTimeout: *tickTimeout}
		if err := gc.Validate(); err != nil {
			fmt.Fprintf(stderr, "dxdeploy %v\n", err)
			return 2
		}
	}

	switch cmd {
	case "plan":
		if _, err = d.Plan(ctx); err == nil {
			out.summary(fabric.Summarize(out.events).PlanLine())
		}
	case "apply":
		if st != "" {
			err = d.Apply(ctx, st)
		} else {
			err = d.Apply(ctx)
		}
		if err == nil && len(out.events) > 0 {
			out.summary(fabric.Summarize(out.events).ApplyLine())
		}
	case "verify":
		var cs fabric.Checks
		if cs, err = d.Verify(ctx, only...); err == nil {
			for _, c := range cs {
				out.check(c)
			}
			if !cs.OK() {
				err = errors.New("verify failed")
			}
		}
	case "sync-enis":
		err = syncENIs(ctx, d, *every, out, stderr)
	case "destroy":
		if err = d.Destroy(ctx); err == nil {
			out.summary(destroyLine(conf, out.events))
		}
	case "bypass":
		err = bypass(ctx, d, out)
	case "restore":
		err = restore(ctx, d, out)
	case "guard":
		err = guard(ctx, d, awsCfg, guardFlags{*every, *restoreAfter, *tickTimeout}, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// syncENIs runs the sync once, or every interval until ctx ends; the result
// is the last run's.
func syncENIs(ctx context.Context, d *fabric.Deployer, every time.Duration, out *printer, stderr io.Writer) error {
	for {
		res, err := d.SyncENIs(ctx)
		out.sync(res)
		if every <= 0 {
			return err
		}
		if err != nil {
			fmt.Fprintf(stderr, "dxdeploy sync-enis: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(every):
		}
	}
}

// redacting is -v's logger: the SDK logs requests with their headers, and
// the signature and session token in them are credentials.
type redacting struct{ next logging.Logger }

var secretHeader = regexp.MustCompile(`(?mi)^(Authorization|X-Amz-Security-Token):.*$`)

func (r redacting) Logf(c logging.Classification, format string, v ...any) {
	r.next.Logf(c, "%s", secretHeader.ReplaceAllString(fmt.Sprintf(format, v...), "$1: (redacted)"))
}

// stageFlag checks -stage against the command: only apply takes one, and
// 09, 10 and 99 have commands of their own. msg is the usage error.
func stageFlag(cmd, stage string) (fabric.Stage, string) {
	if stage == "" {
		return "", ""
	}
	if cmd != "apply" {
		return "", fmt.Sprintf("dxdeploy %s: -stage %q: only dxdeploy apply takes -stage; %s covers its stages itself", cmd, stage, cmd)
	}
	st, err := fabric.ParseStage(stage)
	if err != nil {
		if num, _, _ := strings.Cut(stage, "-"); num == "99" {
			return "", fmt.Sprintf("dxdeploy apply: -stage %q: stage 99 is dxdeploy destroy -force", stage)
		}
		return "", fmt.Sprintf("dxdeploy apply: -stage %q: want a stage 00-10 (09 is dxdeploy verify, 10 is dxdeploy sync-enis)", stage)
	}
	return st, ""
}

// checkFlag parses -check: verify's check names, comma-separated; a
// message when another command has it or a name is not a check.
func checkFlag(cmd, list string) ([]string, string) {
	if list == "" {
		return nil, ""
	}
	if cmd != "verify" {
		return nil, fmt.Sprintf("dxdeploy %s: -check %q: only dxdeploy verify takes -check", cmd, list)
	}
	names := strings.Split(list, ",")
	if fabric.ValidateChecks(names) != nil {
		return nil, fmt.Sprintf("dxdeploy verify: -check %q: want check names, each once, comma-separated, from %s", list, strings.Join(fabric.CheckNames(), ","))
	}
	return names, ""
}

// setFlags is -set KEY=VALUE, repeatable.
type setFlags []struct{ key, value string }

func (s *setFlags) String() string { return "" }

func (s *setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || strings.ToUpper(k) != k {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*s = append(*s, struct{ key, value string }{k, val})
	return nil
}

// destroyLine sums up a destroy, and says what it looked for when it found
// nothing.
func destroyLine(conf fabric.Config, events []fabric.Event) string {
	s := fabric.Summarize(events)
	if s.Delete == 0 {
		line := fmt.Sprintf("Nothing to destroy: no resource tagged %s=%s in %s (looked for mirror sessions, filters and targets, load balancers, target groups, instances, IAM role and profile, S3 bucket, route table, GWLB endpoints and service, security groups).",
			fabric.TagProject, conf.ProjectTag, conf.Region)
		if s.Warnings > 0 {
			line += fmt.Sprintf(" %d found without the tag, left alone.", s.Warnings)
		}
		return line
	}
	line := fmt.Sprintf("Destroy complete: %d deleted.", s.Delete)
	if s.Warnings > 0 {
		line += fmt.Sprintf(" %d found without the tag, left alone.", s.Warnings)
	}
	return line
}

// printer writes progress lines, as text or JSON, and keeps the events
// for the summary.
type printer struct {
	w      io.Writer
	json   bool
	events []fabric.Event
}

func (p *printer) summary(line string) {
	s := fabric.Summarize(p.events)
	p.line(struct {
		Type string `json:"type"`
		fabric.Summary
		Text string `json:"text"`
	}{"summary", s, line}, line)
}

func (p *printer) line(v any, text string) {
	if p.json {
		b, _ := json.Marshal(v)
		fmt.Fprintln(p.w, string(b))
		return
	}
	fmt.Fprintln(p.w, text)
}

func (p *printer) event(e fabric.Event) {
	p.events = append(p.events, e)
	p.line(struct {
		Type string `json:"type"`
		fabric.Event
	}{"resource", e}, e.String())
}

func (p *printer) check(c fabric.Check) {
	p.line(struct {
		Type string `json:"type"`
		fabric.Check
	}{"check", c}, c.String())
}

func (p *printer) sync(r fabric.SyncResult) {
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	p.line(struct {
		Type     string   `json:"type"`
		Created  []string `json:"created"`
		Deleted  []string `json:"deleted"`
		Full     []string `json:"full"`
		Repaired []string `json:"repaired"`
	}{"sync", nonNil(r.Created), nonNil(r.Deleted), nonNil(r.Full), nonNil(r.Repaired)},
		fmt.Sprintf("sync: %d sessions created, %d deleted, %d repaired, %d ENIs full %v", len(r.Created), len(r.Deleted), len(r.Repaired), len(r.Full), r.Full))
}
