// Command dxprobe is dxmon's probe: it reads VPC Traffic Mirroring packets
// (VXLAN over UDP 4789) on N SO_REUSEPORT sockets, counts inner 5-tuple
// flows in windows aligned to the wall clock, and prints each window's Top-N
// report, serves Prometheus metrics, names addresses from EC2 and alerts to
// SNS and Slack. With -r it reads a pcap or pcapng file instead and exits
// after the last report.
//
// Flags, environment variables and the JSON report are a contract: see
// docs/CONTRACTS.md. Bad configuration exits with status 2 and one line
// naming the flag, its environment variable and what is expected; a -r
// file that is not a capture exits with status 1 and one line. Logs are
// slog text on stderr, or JSON with -log-format json (env LOG_FORMAT).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

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
	"github.com/dxmon/dxmon/internal/logging"
	"github.com/dxmon/dxmon/ipfix"
	"github.com/dxmon/dxmon/linkrate"
	"github.com/dxmon/dxmon/nicstat"
	"github.com/dxmon/dxmon/page"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// options are the parsed flags.
type options struct {
	listen         string
	workers        int
	sampleRate     float64
	window         time.Duration
	top            int
	vni            uint
	format         string
	metrics        string
	readFile       string
	alertBPS       float64
	alertPPS       float64
	alertCooldown  time.Duration
	snsTopic       string
	slackURL       string
	enrichVPC      string
	enrichInterval time.Duration
	onPrem         string
	vpcCIDRs       string
	maxFlows       int
	recvBuffer     int
	batch          int
	wait           string
	ipfix          string // collector URL; empty = no export
	ipfixDomain    uint
	ipfixMax       int
	ipfixQueue     int
	imdsEndpoint   string // for the default observation domain ID; empty = none
	html           string // -html: the static page of the capture
	fleetTable     string // DynamoDB table shared by the probes; empty = this probe alone
	fleetWait      time.Duration
	probeID        string
	linkBPS        linkrate.Value
	alertUtil      float64
	logFormat      string
	set            *envflag.Set // to name a flag and its variable in errors at run time
	nic            string       // device of the ENA allowance counters; nicstat.Auto = found
}

// usageError is bad configuration: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dxprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", ":4789", "UDP address to read mirror packets on")
	fs.IntVar(&o.workers, "workers", 0, "reader sockets and workers; 0 = one per CPU (env PROBE_WORKERS)")
	fs.Float64Var(&o.sampleRate, "sample-rate", 1.0, "fraction of flows counted, in (0, 1] (env PROBE_SAMPLE_RATE)")
	fs.DurationVar(&o.window, "window", 5*time.Second, "aggregation window, aligned to the wall clock")
	fs.IntVar(&o.top, "top", 10, "entries per ranking")
	fs.UintVar(&o.vni, "vni", 0, "count only this VXLAN VNI; 0 = any (env MIRROR_VNI)")
	fs.StringVar(&o.format, "format", "text", "report format: text or json (one object per line)")
	fs.StringVar(&o.metrics, "metrics", "", "listen address for /metrics, /healthz, the page (/) and its data (/api/windows); empty = off")
	fs.StringVar(&o.readFile, "r", "", "read this pcap or pcapng file instead of the network, report, exit")
	fs.StringVar(&o.html, "html", "", "with -r: also write the capture's page to this file (static, opens offline)")
	fs.Float64Var(&o.alertBPS, "alert-bps", 1e9, "alert when a window exceeds this many bits per second (env ALERT_THRESHOLD_BPS)")
	fs.Float64Var(&o.alertPPS, "alert-pps", 5e5, "alert when a window exceeds this many packets per second (env ALERT_THRESHOLD_PPS)")
	fs.DurationVar(&o.alertCooldown, "alert-cooldown", 300*time.Second, "least time between two alerts")
	fs.StringVar(&o.snsTopic, "sns-topic-arn", "", "SNS topic for alerts (env SNS_TOPIC_ARN)")
	fs.StringVar(&o.slackURL, "slack-webhook-url", "", "Slack incoming webhook for alerts (env SLACK_WEBHOOK_URL)")
	fs.StringVar(&o.enrichVPC, "enrich-vpc", "", "VPC whose instances and interfaces name addresses; empty = no enrichment")
	fs.DurationVar(&o.enrichInterval, "enrich-interval", 60*time.Second, "enrichment refresh interval")
	fs.StringVar(&o.onPrem, "onprem-cidrs", "", "on-premises CIDRs, comma-separated: label addresses, and count only traffic with an end in them (skipped as not_onprem otherwise); empty = count everything (env ONPREM_CIDRS)")
	fs.StringVar(&o.vpcCIDRs, "vpc-cidrs", "", "VPC CIDRs, comma-separated: with -onprem-cidrs, count only on-premises <-> VPC traffic; empty, or without -onprem-cidrs, = no such restriction (env VPC_CIDR, the deployment config's key)")
	fs.IntVar(&o.maxFlows, "max-flows", 0, "flows each worker tracks exactly per window; 0 = 262144")
	fs.IntVar(&o.recvBuffer, "recv-buffer", 128<<20, "receive buffer asked for each socket, bytes")
	fs.IntVar(&o.batch, "batch", 64, "packets per recvmmsg")
	fs.StringVar(&o.wait, "wait", "auto", "how readers wait: tick (poll every millisecond; least CPU per packet, needs a large buffer), netpoll (Go's poller), blocking (recvmmsg on the thread), or auto (tick if the buffer granted is 8 MiB or more, else netpoll)")
	fs.StringVar(&o.ipfix, "ipfix", "", "export every window's flows as IPFIX to this collector, udp://HOST:PORT (env PROBE_IPFIX)")
	fs.UintVar(&o.ipfixDomain, "ipfix-domain", 0, "IPFIX observation domain ID; 0 = derived from the EC2 instance ID, else the hostname")
	fs.IntVar(&o.ipfixMax, "ipfix-max-message", ipfix.DefaultMaxMessage, "largest IPFIX message in bytes (keep within the path MTU less 48)")
	fs.IntVar(&o.ipfixQueue, "ipfix-queue", ipfix.DefaultQueueMessages, "IPFIX messages queued for the collector at most (buffers of -ipfix-max-message bytes, allocated as needed); beyond, records are dropped and counted")
	fs.StringVar(&o.fleetTable, "fleet", "", "DynamoDB table shared by one deployment's probes: write each window's summary, print and alert on the fleet's report; empty = this probe alone (env PROBE_FLEET_TABLE)")
	fs.DurationVar(&o.fleetWait, "fleet-wait", fleet.DefaultWait, "with -fleet, how long after a window's end to read the other probes' summaries")
	fs.StringVar(&o.probeID, "probe-id", "", "this probe's name in the fleet table; empty = the EC2 instance ID, else hostname:port (env PROBE_ID)")
	fs.Var(&o.linkBPS, "link-bps", "capacity of each direction of the link, bits per second, plain or with an SI suffix (500M, 1.5G, 10G); several links, comma-separated, add up; 0 = unknown (env LINK_BPS)")
	fs.Float64Var(&o.alertUtil, "alert-utilization", 0, "alert when either direction's bps exceeds this fraction of -link-bps, in (0, 1]; 0 = off (env ALERT_UTILIZATION)")
	fs.StringVar(&o.nic, "nic", nicstat.Auto, "network device whose ENA allowance counters /metrics exports; auto = the one holding -listen's address, else the default route's (env PROBE_NIC)")
	// Environment variables give defaults; flags on the command line win.
	envs := []envflag.Var{
		{"workers", "PROBE_WORKERS"}, {"sample-rate", "PROBE_SAMPLE_RATE"}, {"vni", "MIRROR_VNI"},
		{"alert-bps", "ALERT_THRESHOLD_BPS"}, {"alert-pps", "ALERT_THRESHOLD_PPS"},
		{"sns-topic-arn", "SNS_TOPIC_ARN"}, {"slack-webhook-url", "SLACK_WEBHOOK_URL"}, {"onprem-cidrs", "ONPREM_CIDRS"},
		{"ipfix", "PROBE_IPFIX"},
		{"vpc-cidrs", "VPC_CIDR"},
		{"fleet", "PROBE_FLEET_TABLE"}, {"probe-id", "PROBE_ID"},
		{"link-bps", "LINK_BPS"}, {"alert-utilization", "ALERT_UTILIZATION"},
		{logging.FlagName, logging.EnvName},
		{"nic", "PROBE_NIC"},
	}
	logFormat := logging.Define(fs)
	set := envflag.New(fs, envs).Secret("slack-webhook-url") // never echo the webhook's secret
	if err := set.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()}
	}
	o.logFormat, o.set = *logFormat, set
	if err := checkOptions(o, set); err != nil {
		return o, usageError{err.Error()}
	}
	// The AWS SDK's variables for IMDS, honoured for the domain ID.
	o.imdsEndpoint = ipfix.DefaultIMDSEndpoint
	if v := getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"); v != "" {
		o.imdsEndpoint = v
	}
	if strings.EqualFold(getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		o.imdsEndpoint = ""
	}
	if o.workers == 0 {
		o.workers = runtime.NumCPU()
	}
	return o, nil
}

func splitListen(addr string) (string, uint16, error) {
	a, p, err := envflag.HostPort(addr, false)
	if err != nil || !a.IsValid() {
		return "", p, err
	}
	return a.String(), p, nil
}

func parseCIDRs(s string) ([]netip.Prefix, error) { return envflag.Prefixes(s) }

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "dxprobe: %v\n", err)
		return 2
	}
	log, _ := logging.New(stderr, o.logFormat) // checked by parseOptions
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, log, stdout); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "dxprobe: %v\n", err)
			return 2
		}
		var fe fileError
		if errors.As(err, &fe) {
			fmt.Fprintf(stderr, "dxprobe: %v\n", fe)
			return 1
		}
		log.Error("dxprobe failed", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, o options, log *slog.Logger, stdout io.Writer) error {
	onPrem, _ := parseCIDRs(o.onPrem)
	vpc, _ := parseCIDRs(o.vpcCIDRs)
	if len(vpc) > 0 && len(onPrem) == 0 {
		// VPC_CIDR is also a deployment config key: alone, it filters nothing.
		log.Warn("-vpc-cidrs (VPC_CIDR) without -onprem-cidrs (ONPREM_CIDRS) filters nothing; counting all traffic", "vpc_cidrs", o.vpcCIDRs)
		vpc = nil
	}
	if o.alertUtil > 0 && len(onPrem) == 0 {
		log.Warn("-alert-utilization without -onprem-cidrs (ONPREM_CIDRS) holds both directions together to one direction's capacity")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var lookup report.Lookup
	var enr *enrich.Enricher
	var bg []func(context.Context) error
	if o.enrichVPC != "" || o.snsTopic != "" || o.fleetTable != "" {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("load AWS configuration: %w", err)
		}
		if o.enrichVPC != "" {
			enr, err = enrich.New(ec2.NewFromConfig(awsCfg), enrich.Config{VPCID: o.enrichVPC, Interval: o.enrichInterval, OnPremCIDRs: onPrem}, reg, log)
			if err != nil {
				return usageError{fmt.Sprintf("-enrich-vpc: %v", err)}
			}
			lookup = enr.Lookup
			bg = append(bg, enr.Run)
			if o.readFile != "" {
				if err := enr.Refresh(ctx); err != nil {
					log.Warn("enrichment refresh failed; reports will lack names", "err", err)
				}
			}
		}
		_ = awsCfg
	}
	if lookup == nil && len(onPrem) > 0 {
		lookup = func(a netip.Addr) (enrich.Info, bool) {
			for _, p := range onPrem {
				if p.Contains(a) {
					return enrich.Info{OnPrem: p.String()}, true
				}
			}
			return enrich.Info{}, false
		}
	}

	// Alerting: policy in the coordinator, delivery in the background.
	policy, err := alert.NewPolicy(alert.Config{BPS: o.alertBPS, PPS: o.alertPPS, Cooldown: o.alertCooldown,
		Utilization: o.alertUtil, LinkBPS: float64(o.linkBPS)})
	if err != nil {
		return usageError{err.Error()}
	}
	var sinks []alert.Sink
	if o.snsTopic != "" {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("load AWS configuration: %w", err)
		}
		// The dispatcher retries with backoff; the SDK's own retries would stack on it.
		s, err := alert.NewSNS(sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.RetryMaxAttempts = 1 }), o.snsTopic)
		if err != nil {
			return usageError{o.set.Invalid("sns-topic-arn", wantSNSTopic).Error()}
		}
		sinks = append(sinks, s)
	}
	if o.slackURL != "" {
		s, err := alert.NewSlack(o.slackURL, &http.Client{})
		if err != nil {
			return usageError{"-slack-webhook-url (SLACK_WEBHOOK_URL): invalid URL"}
		}
		sinks = append(sinks, s)
	}
	var disp *alert.Dispatcher
	if len(sinks) > 0 {
		disp, err = alert.NewDispatcher(alert.DispatcherConfig{}, reg, log, sinks...)
		if err != nil {
			return fmt.Errorf("alert dispatcher: %w", err)
		}
		bg = append(bg, disp.Run)
	}
	infoOf := func(a netip.Addr) enrich.Info {
		if lookup == nil {
			return enrich.Info{}
		}
		i, _ := lookup(a)
		return i
	}

	// The page: the coordinator adds each report, the alert path each alert.
	span := page.DefaultSpan
	if o.readFile != "" {
		span = staticSpan
	}
	history, pageAlerts := page.NewHistory(o.window, span), &page.Alerts{}
	static, err := openStaticPage(o)
	if err != nil {
		return err
	}

	enc := json.NewEncoder(stdout)
	var outMu sync.Mutex // the coordinator prints its own reports, the fleet's goroutine the fleet's
	printReport := func(r *report.Report) {
		outMu.Lock()
		defer outMu.Unlock()
		var err error
		if o.format == "json" {
			err = enc.Encode(r)
		} else {
			err = report.WriteText(stdout, r)
		}
		if err != nil {
			log.Error("write report", "err", err)
		}
		history.Add(r) // the page: each scope has its own ring, written by one goroutine
	}
	_, port, _ := splitListen(o.listen)
	var fl *fleet.Fleet
	if o.fleetTable != "" {
		// The fleet's goroutine decides and claims the link's alerts; the
		// page shows each one, sent or not.
		send := func(m alert.Message) {
			if disp != nil {
				disp.Submit(m)
			}
			recordMessage(pageAlerts, m, time.Now(), disp != nil)
		}
		fl, err = newFleet(ctx, o, port, policy.Config(), send, lookup, printReport, reg, log)
		if err != nil {
			return err
		}
		bg = append(bg, fl.Run)
	}
	emit := func(r *report.Report) {
		if fl != nil {
			fl.Take(r) // trims r to -top; the fleet's goroutine alerts
			printReport(r)
			return
		}
		printReport(r)
		if d := policy.Observe(r, time.Now()); d.Kind != alert.None {
			m := alert.NewMessage(r, d, infoOf)
			if disp != nil {
				disp.Submit(m)
			}
			recordAlert(pageAlerts, r, d, m.Subject, disp != nil)
		}
	}

	var exporter *ipfix.Exporter
	if o.ipfix != "" {
		domain, from := uint32(o.ipfixDomain), "-ipfix-domain"
		if domain == 0 {
			domain, from = ipfix.DomainID(ctx, o.imdsEndpoint, 300*time.Millisecond)
		}
		dirOf, err := probe.NewClassifier(onPrem, vpc) // flowDirection, as the pipeline classifies
		if err != nil {
			return usageError{fmt.Sprintf("-onprem-cidrs/-vpc-cidrs: %v", err)}
		}
		exporter, err = ipfix.NewExporter(ipfix.ExporterConfig{URL: o.ipfix, QueueMessages: o.ipfixQueue, Config: ipfix.Config{DomainID: domain,
			MaxMessage: o.ipfixMax, SampleRate: o.sampleRate, VNI: uint32(o.vni), Direction: dirOf}})
		if err != nil {
			return usageError{fmt.Sprintf("-ipfix %q (PROBE_IPFIX): %v", o.ipfix, err)}
		}
		exporter.RegisterMetrics(reg)
		defer func() { // send what is queued, for a bounded time
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = exporter.Close(c)
			s := exporter.Stats()
			log.Info("ipfix export stopped", "sent_records", s.SentRecords, "sent_messages", s.SentMessages,
				"dropped_queue_full", s.QueueFullRecords, "dropped_send_error", s.SendErrorRecords)
		}()
		log.Info("exporting IPFIX", "collector", o.ipfix, "observation_domain", domain, "domain_from", from)
	}

	workers := o.workers
	if o.readFile != "" {
		workers = 1
	}
	pcfg := probe.Config{Window: o.window, VNI: uint32(o.vni), SampleRate: o.sampleRate, MaxFlows: o.maxFlows,
		Top: o.top, Lookup: lookup, Emit: emit, Log: log, OnPrem: onPrem, VPC: vpc, LinkBPS: float64(o.linkBPS)}
	if exporter != nil {
		pcfg.Export = exporter
	}
	if fl != nil {
		pcfg.Top = fl.K() // the summary's rankings; Take trims the printed ones to -top
	}
	pl, err := probe.New(pcfg, workers)
	if err != nil {
		return usageError{err.Error()}
	}

	bgCtx, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{}, len(bg))
	for _, f := range bg {
		go func() { _ = f(bgCtx); bgDone <- struct{}{} }()
	}
	defer func() {
		cancelBG()
		for range bg {
			<-bgDone
		}
	}()

	if o.readFile != "" {
		f, err := os.Open(o.readFile)
		if err != nil {
			return usageError{fmt.Sprintf("-r %q: %v", o.readFile, pathError(err))}
		}
		defer f.Close()
		if err := checkCapture(f, o.readFile); err != nil {
			return err
		}
		if err := pl.Replay(f, port); err != nil {
			return fmt.Errorf("-r %s: %w", o.readFile, err)
		}
		if static != nil {
			return static.write(pageConfig(o), history, pageAlerts)
		}
		return nil
	}

	wait, _ := reuseport.ParseWaitMode(o.wait)
	g, err := reuseport.Listen(reuseport.Config{Addr: o.listen, Sockets: workers, RecvBuffer: o.recvBuffer,
		BatchSize: o.batch, Wait: wait, Log: log})
	if err != nil {
		return usageError{o.set.Failed("listen", envflag.ListenFailure(err)).Error()}
	}
	defer g.Close()
	var socks []probe.DropCounter
	for _, r := range g.Readers() {
		socks = append(socks, r)
	}
	if len(g.Readers()) != workers { // off Linux the fallback opens one socket
		pl, err = probe.New(pl.Config(), len(g.Readers()))
		if err != nil {
			return err
		}
	}
	m := probe.NewMetrics(reg, pl, socks)
	pl.OnReport(m.Observe)
	if dev, err := nicstat.Resolve(o.nic, o.listen); err != nil {
		log.Warn("no ENA allowance counters in /metrics", "err", err) // auto found nothing; the probe runs on
	} else if _, err := nicstat.NewCollector(reg, nicstat.Ethtool{}, dev); err != nil {
		return fmt.Errorf("register nic metrics: %w", err)
	}
	if o.metrics != "" {
		ln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			return usageError{o.set.Failed("metrics", envflag.ListenFailure(err)).Error()}
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.Handle("/healthz", pl.HealthHandler()) // 200 only while every worker reads
		page.New(pageConfig(o), history, pageAlerts).Register(mux)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("serving metrics", "addr", ln.Addr().String())
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
