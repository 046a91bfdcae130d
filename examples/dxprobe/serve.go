package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/internal/envflag"
	"github.com/dxmon/dxmon/ipfix"
	"github.com/dxmon/dxmon/nicstat"
	"github.com/dxmon/dxmon/page"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// serve wires the probe from o and runs it until ctx ends (or, with -r,
// until the capture is read). Each step is a function of its own; the
// order is the order of their errors and of their side effects (the -html
// file is created before the capture is read).
func serve(ctx context.Context, o options, log *slog.Logger, stdout io.Writer) error {
	o = warnOptions(o, log)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	awsCfg, err := loadAWS(ctx, o)
	if err != nil {
		return err
	}
	var bg background
	lookup, err := newLookup(ctx, o, awsCfg, reg, log, &bg)
	if err != nil {
		return err
	}
	al, err := newAlerting(o, awsCfg, reg, log, &bg)
	if err != nil {
		return err
	}
	out, err := newOutput(o, stdout, al.page, log)
	if err != nil {
		return err
	}
	fl, err := newFleet(ctx, o, awsCfg, al, lookup, out.print, reg, log, &bg)
	if err != nil {
		return err
	}
	exporter, stopExport, err := newExporter(ctx, o, reg, log)
	if err != nil {
		return err
	}
	defer stopExport()
	pl, err := newPipeline(o, lookup, emitter(lookup, al, out, fl), exporter, fl, log)
	if err != nil {
		return err
	}
	stopBackground := bg.start(ctx)
	defer stopBackground()
	if o.readFile != "" {
		return replay(o, pl, out)
	}
	return listen(ctx, o, pl, reg, out, log)
}

// warnOptions logs what the options allow but hardly mean, and drops
// -vpc-cidrs without -onprem-cidrs.
func warnOptions(o options, log *slog.Logger) options {
	if len(o.vpc) > 0 && len(o.onPrem) == 0 {
		// VPC_CIDR is also a deployment config key: alone, it filters nothing.
		log.Warn("-vpc-cidrs (VPC_CIDR) without -onprem-cidrs (ONPREM_CIDRS) filters nothing; counting all traffic", "vpc_cidrs", o.vpcFlag)
		o.vpc = nil
	}
	if o.alertUtil > 0 && len(o.onPrem) == 0 {
		log.Warn("-alert-utilization without -onprem-cidrs (ONPREM_CIDRS) holds both directions together to one direction's capacity")
	}
	return o
}

// loadAWS loads the SDK's default configuration, once, when a flag needs
// AWS (-enrich-vpc, -sns-topic-arn, -fleet); nil when none does.
func loadAWS(ctx context.Context, o options) (*aws.Config, error) {
	if o.enrichVPC == "" && o.snsTopic == "" && o.fleetTable == "" {
		return nil, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return &cfg, nil
}

// newLookup is what names the addresses of reports: with -enrich-vpc the
// VPC's instances and interfaces (and the on-premises prefixes), refreshed
// in the background, or read once before a capture; else the on-premises
// prefixes alone; else nothing (nil).
func newLookup(ctx context.Context, o options, awsCfg *aws.Config, reg prometheus.Registerer, log *slog.Logger, bg *background) (report.Lookup, error) {
	if o.enrichVPC == "" {
		if len(o.onPrem) == 0 {
			return nil, nil
		}
		onPrem, err := enrich.NewOnPrem(o.onPrem)
		if err != nil {
			return nil, usageError{fmt.Sprintf("-onprem-cidrs: %v", err)}
		}
		return onPrem.Lookup, nil
	}
	enr, err := enrich.New(ec2.NewFromConfig(*awsCfg), enrich.Config{VPCID: o.enrichVPC, Interval: o.enrichInterval, OnPremCIDRs: o.onPrem}, reg, log)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-enrich-vpc: %v", err)}
	}
	*bg = append(*bg, enr.Run)
	if o.readFile != "" {
		if err := enr.Refresh(ctx); err != nil {
			log.Warn("enrichment refresh failed; reports will lack names", "err", err)
		}
	}
	return enr.Lookup, nil
}

// alerting is the alert path: the policy decides on the coordinator, the
// dispatcher (nil without a channel) delivers in the background, and the
// page shows every alert, sent or not.
type alerting struct {
	policy *alert.Policy
	disp   *alert.Dispatcher
	page   *page.Alerts
}

func newAlerting(o options, awsCfg *aws.Config, reg prometheus.Registerer, log *slog.Logger, bg *background) (*alerting, error) {
	policy, err := alert.NewPolicy(alert.Config{BPS: o.alertBPS, PPS: o.alertPPS, Cooldown: o.alertCooldown,
		Utilization: o.alertUtil, LinkBPS: float64(o.linkBPS)})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	a := &alerting{policy: policy, page: &page.Alerts{}}
	sinks, err := alertSinks(o, awsCfg)
	if err != nil || len(sinks) == 0 {
		return a, err
	}
	if a.disp, err = alert.NewDispatcher(alert.DispatcherConfig{}, reg, log, sinks...); err != nil {
		return nil, fmt.Errorf("alert dispatcher: %w", err)
	}
	*bg = append(*bg, a.disp.Run)
	return a, nil
}

// alertSinks are the channels of -sns-topic-arn and -slack-webhook-url.
func alertSinks(o options, awsCfg *aws.Config) ([]alert.Sink, error) {
	var sinks []alert.Sink
	if o.snsTopic != "" {
		// The dispatcher retries with backoff; the SDK's own retries would stack on it.
		s, err := alert.NewSNS(sns.NewFromConfig(*awsCfg, func(o *sns.Options) { o.RetryMaxAttempts = 1 }), o.snsTopic)
		if err != nil {
			return nil, usageError{o.set.Invalid("sns-topic-arn", wantSNSTopic).Error()}
		}
		sinks = append(sinks, s)
	}
	if o.slackURL != "" {
		s, err := alert.NewSlack(o.slackURL, &http.Client{})
		if err != nil {
			return nil, usageError{"-slack-webhook-url (SLACK_WEBHOOK_URL): invalid URL"}
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

// observe decides on this probe's own window r and sends and shows what
// the policy asks for.
func (a *alerting) observe(r *report.Report, lookup report.Lookup) {
	d := a.policy.Observe(r, time.Now())
	if d.Kind == alert.None {
		return
	}
	m := alert.NewMessage(r, d, lookup.Info)
	if a.disp != nil {
		a.disp.Submit(m)
	}
	page.RecordDecision(a.page, r, d, m.Subject, a.disp != nil)
}

// send is the fleet's Send: it delivers and shows a message the fleet's
// goroutine decided.
func (a *alerting) send(m alert.Message) {
	if a.disp != nil {
		a.disp.Submit(m)
	}
	page.RecordMessage(a.page, m, time.Now(), a.disp != nil)
}

// output is where reports go: stdout and the page's history (and, with
// -html, the static page written from it after the capture).
type output struct {
	printer *report.Printer
	history *page.History
	alerts  *page.Alerts
	static  *staticPage // nil without -html
	log     *slog.Logger
}

func newOutput(o options, stdout io.Writer, alerts *page.Alerts, log *slog.Logger) (*output, error) {
	span := page.DefaultSpan
	if o.readFile != "" {
		span = staticSpan
	}
	static, err := openStaticPage(o)
	if err != nil {
		return nil, err
	}
	return &output{printer: report.NewPrinter(stdout, o.format), history: page.NewHistory(o.window, span),
		alerts: alerts, static: static, log: log}, nil
}

// print prints r and adds it to the page. The coordinator calls it for
// the probe's reports, the fleet's goroutine for the fleet's: the Printer
// keeps them apart, and each scope has its own ring in the history.
func (out *output) print(r *report.Report) {
	if err := out.printer.Print(r); err != nil {
		out.log.Error("write report", "err", err)
	}
	out.history.Add(r)
}

// emitter is the pipeline's Emit: print each report, and alert on it,
// unless the fleet (fl not nil) alerts on the fleet's report instead.
func emitter(lookup report.Lookup, al *alerting, out *output, fl *fleet.Fleet) func(*report.Report) {
	if fl != nil {
		return func(r *report.Report) {
			fl.Take(r) // trims r to -top; the fleet's goroutine alerts
			out.print(r)
		}
	}
	return func(r *report.Report) {
		out.print(r)
		al.observe(r, lookup)
	}
}

// newExporter wires -ipfix: nil and a stop that does nothing without it.
// stop sends what is queued, for a bounded time, and logs the totals.
func newExporter(ctx context.Context, o options, reg prometheus.Registerer, log *slog.Logger) (e *ipfix.Exporter, stop func(), err error) {
	if o.ipfix == "" {
		return nil, func() {}, nil
	}
	domain, from := uint32(o.ipfixDomain), "-ipfix-domain"
	if domain == 0 {
		domain, from = ipfix.DomainID(ctx, o.imdsEndpoint, 300*time.Millisecond)
	}
	dirOf, err := probe.NewClassifier(o.onPrem, o.vpc) // flowDirection, as the pipeline classifies
	if err != nil {
		return nil, nil, usageError{fmt.Sprintf("-onprem-cidrs/-vpc-cidrs: %v", err)}
	}
	e, err = ipfix.NewExporter(ipfix.ExporterConfig{URL: o.ipfix, QueueMessages: o.ipfixQueue, Config: ipfix.Config{DomainID: domain,
		MaxMessage: o.ipfixMax, SampleRate: o.sampleRate, VNI: uint32(o.vni), Direction: dirOf}})
	if err != nil {
		return nil, nil, usageError{fmt.Sprintf("-ipfix %q (PROBE_IPFIX): %v", o.ipfix, err)}
	}
	e.RegisterMetrics(reg)
	log.Info("exporting IPFIX", "collector", o.ipfix, "observation_domain", domain, "domain_from", from)
	return e, func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = e.Close(c)
		s := e.Stats()
		log.Info("ipfix export stopped", "sent_records", s.SentRecords, "sent_messages", s.SentMessages,
			"dropped_queue_full", s.QueueFullRecords, "dropped_send_error", s.SendErrorRecords)
	}, nil
}

// newPipeline makes the probe's pipeline: one worker for a capture, else
// -workers.
func newPipeline(o options, lookup report.Lookup, emit func(*report.Report), exporter *ipfix.Exporter, fl *fleet.Fleet, log *slog.Logger) (*probe.Pipeline, error) {
	workers := o.workers
	if o.readFile != "" {
		workers = 1
	}
	cfg := probe.Config{Window: o.window, VNI: uint32(o.vni), SampleRate: o.sampleRate, MaxFlows: o.maxFlows,
		Top: o.top, Lookup: lookup, Emit: emit, Log: log, OnPrem: o.onPrem, VPC: o.vpc, LinkBPS: float64(o.linkBPS)}
	if exporter != nil { // not a nil *Exporter in the interface
		cfg.Export = exporter
	}
	if fl != nil {
		cfg.Top = fl.K() // the summary's rankings; Take trims the printed ones to -top
	}
	pl, err := probe.New(cfg, workers)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return pl, nil
}

// background is the loops that run beside the pipeline: enrichment,
// alert delivery, the fleet.
type background []func(context.Context) error

// start runs each loop in a goroutine of its own, on a context that
// ctx's end does not cancel (so that the last window's alerts and summary
// still go out); the stop it returns cancels them and waits for them all.
func (bg background) start(ctx context.Context) (stop func()) {
	bgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, len(bg))
	for _, f := range bg {
		go func() { _ = f(bgCtx); done <- struct{}{} }()
	}
	return func() {
		cancel()
		for range bg {
			<-done
		}
	}
}

// replay is -r: the capture read through the pipeline, then its static
// page (-html).
func replay(o options, pl *probe.Pipeline, out *output) error {
	f, err := os.Open(o.readFile)
	if err != nil {
		return usageError{fmt.Sprintf("-r %q: %v", o.readFile, pathError(err))}
	}
	defer f.Close()
	if err := checkCapture(f, o.readFile); err != nil {
		return err
	}
	if err := pl.Replay(f, o.port); err != nil {
		return fmt.Errorf("-r %s: %w", o.readFile, err)
	}
	if out.static != nil {
		return out.static.write(pageConfig(o), out.history, out.alerts)
	}
	return nil
}

// listen reads the mirror packets on -listen until ctx ends, with the
// pipeline's metrics and, with -metrics, the HTTP server.
func listen(ctx context.Context, o options, pl *probe.Pipeline, reg *prometheus.Registry, out *output, log *slog.Logger) error {
	g, err := reuseport.Listen(reuseport.Config{Addr: o.listen, Sockets: o.workers, RecvBuffer: o.recvBuffer,
		BatchSize: o.batch, Wait: o.wait, Log: log})
	if err != nil {
		return usageError{o.set.Failed("listen", envflag.ListenFailure(err)).Error()}
	}
	defer g.Close()
	if len(g.Readers()) != o.workers { // off Linux the fallback opens one socket
		if pl, err = probe.New(pl.Config(), len(g.Readers())); err != nil {
			return err
		}
	}
	m := probe.NewMetrics(reg, pl, probe.DropCounters(g))
	pl.OnReport(m.Observe)
	if dev, err := nicstat.Resolve(o.nic, o.listen); err != nil {
		log.Warn("no ENA allowance counters in /metrics", "err", err) // auto found nothing; the probe runs on
	} else if _, err := nicstat.NewCollector(reg, nicstat.Ethtool{}, dev); err != nil {
		return fmt.Errorf("register nic metrics: %w", err)
	}
	if o.metrics != "" {
		srv, err := serveHTTP(o, reg, pl, out, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	log.Info("dxprobe listening", "addr", g.LocalAddr().String(), "workers", len(g.Readers()),
		"sample_rate", o.sampleRate, "window", o.window.String(), "vni", o.vni,
		"wait", g.Readers()[0].Wait().String(), "recv_buffer_bytes", g.Readers()[0].BufferGranted())
	if err := pl.Run(ctx, probe.Sources(g)); err != nil {
		return err
	}
	drops, err := g.KernelDrops()
	if err != nil {
		log.Info("dxprobe stopped")
		return nil
	}
	log.Info("dxprobe stopped", "kernel_drops", drops)
	return nil
}

// serveHTTP serves /metrics, /healthz and the page on -metrics until the
// server is closed.
func serveHTTP(o options, reg *prometheus.Registry, pl *probe.Pipeline, out *output, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", o.metrics)
	if err != nil {
		return nil, usageError{o.set.Failed("metrics", envflag.ListenFailure(err)).Error()}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/healthz", pl.HealthHandler()) // 200 only while every worker reads
	page.New(pageConfig(o), out.history, out.alerts).Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv, nil
}
