// Command dxdeploy builds dxmon's AWS pipeline with package fabric: it reads
// config/dx-monitor.conf, applies command-line overrides, and prints one
// line per resource.
//
//	dxdeploy plan      [-config FILE] [-json] [-KEY value …]
//	dxdeploy apply     [-stage NN] …
//	dxdeploy verify    …
//	dxdeploy sync-enis [-every 2m] …
//	dxdeploy destroy   -force …
//
// Every configuration key has a flag: AWS_REGION is -aws-region, VPC_ID is
// -vpc-id, and so on. AWS endpoints and credentials come from the SDK's
// default chain, so AWS_ENDPOINT_URL points dxdeploy at an emulator. The
// exit status is 0 only when everything asked for holds; 2 is a usage or
// configuration error, found before any AWS call.
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
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/dxmon/dxmon/fabric"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: dxdeploy <plan|apply|verify|sync-enis|destroy> [flags]
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
	case "plan", "apply", "verify", "sync-enis", "destroy":
	default:
		fmt.Fprintf(stderr, "dxdeploy: unknown command %q\n%s\n", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("dxdeploy "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	confPath := fs.String("config", "config/dx-monitor.conf", "configuration file (KEY=VALUE)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	poll := fs.Duration("poll", 5*time.Second, "shortest wait between polls of AWS")
	timeout := fs.Duration("wait-timeout", 15*time.Minute, "longest wait for one resource")
	stage := fs.String("stage", "", "apply: run only this stage (00-10)")
	every := fs.Duration("every", 0, "sync-enis: repeat at this interval until interrupted")
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
	f, err := os.Open(*confPath)
	switch {
	case err == nil:
		kv, err = fabric.ReadKeyValues(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "dxdeploy: config %s: %v\n", *confPath, err)
			return 2
		}
	case errors.Is(err, os.ErrNotExist) && !flagSet(fs, "config"):
		// No file: every key comes from flags.
	default:
		fmt.Fprintf(stderr, "dxdeploy: config: %v\n", err)
		return 2
	}
	fs.Visit(func(fl *flag.Flag) {
		for k, v := range overrides {
			if fl.Name == flagName(k) {
				kv[k] = *v
			}
		}
	})
	conf, err := fabric.ParseConfig(kv)
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy: config %s: %v\n", *confPath, err)
		return 2
	}
	var st fabric.Stage
	if *stage != "" {
		if st, err = fabric.ParseStage(*stage); err != nil || cmd != "apply" {
			fmt.Fprintf(stderr, "dxdeploy %s: -stage %q: only apply takes a stage 00-10\n", cmd, *stage)
			return 2
		}
	}
	if cmd == "destroy" && !*force {
		fmt.Fprintln(stderr, "dxdeploy destroy: deletes every resource tagged Project="+conf.ProjectTag+"; add -force to confirm")
		return 2
	}

	out := printer{w: stdout, json: *asJSON}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(conf.Region))
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy: AWS configuration: %v\n", err)
		return 1
	}
	d, err := fabric.New(conf, fabric.NewClients(awsCfg), fabric.Options{
		Observer: out.event, PollInterval: *poll, WaitTimeout: *timeout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy: %v\n", err)
		return 2
	}

	switch cmd {
	case "plan":
		_, err = d.Plan(ctx)
	case "apply":
		if st != "" {
			err = d.Apply(ctx, st)
		} else {
			err = d.Apply(ctx)
		}
	case "verify":
		var cs fabric.Checks
		if cs, err = d.Verify(ctx); err == nil {
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
		err = d.Destroy(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dxdeploy %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// syncENIs runs the sync once, or every interval until ctx ends; the result
// is the last run's.
func syncENIs(ctx context.Context, d *fabric.Deployer, every time.Duration, out printer, stderr io.Writer) error {
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

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// printer writes progress lines, as text or JSON.
type printer struct {
	w    io.Writer
	json bool
}

func (p printer) line(v any, text string) {
	if p.json {
		b, _ := json.Marshal(v)
		fmt.Fprintln(p.w, string(b))
		return
	}
	fmt.Fprintln(p.w, text)
}

func (p printer) event(e fabric.Event) {
	p.line(struct {
		Type string `json:"type"`
		fabric.Event
	}{"resource", e}, e.String())
}

func (p printer) check(c fabric.Check) {
	p.line(struct {
		Type string `json:"type"`
		fabric.Check
	}{"check", c}, c.String())
}

func (p printer) sync(r fabric.SyncResult) {
	p.line(struct {
		Type string `json:"type"`
		fabric.SyncResult
	}{"sync", r}, fmt.Sprintf("sync: %d sessions created, %d deleted, %d ENIs full %v", len(r.Created), len(r.Deleted), len(r.Full), r.Full))
}
