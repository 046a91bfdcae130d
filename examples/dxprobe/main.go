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
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/internal/envflag"
	"github.com/dxmon/dxmon/internal/logging"
	"github.com/dxmon/dxmon/ipfix"
	"github.com/dxmon/dxmon/linkrate"
	"github.com/dxmon/dxmon/nicstat"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// options are the parsed flags. A flag whose text is parsed further keeps
// its text (for logs and errors) beside the value parseOptions made of it:
// nothing after parseOptions parses a flag again.
type options struct {
	listen         string
	port           uint16 // -listen's port: the VXLAN port of a capture (-r)
	workers        int
	sampleRate     float64
	window         time.Duration
	top            int
	vni            uint
	formatFlag     string
	format         report.Format
	metrics        string
	readFile       string
	alertBPS       float64
	alertPPS       float64
	alertCooldown  time.Duration
	snsTopic       string
	slackURL       string
	enrichVPC      string
	enrichInterval time.Duration
	onPremFlag     string
	onPrem         []netip.Prefix
	vpcFlag        string
	vpc            []netip.Prefix
	maxFlows       int
	recvBuffer     int
	batch          int
	waitFlag       string
	wait           reuseport.WaitMode
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
	fs.StringVar(&o.formatFlag, "format", "text", "report format: text or json (one object per line)")
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
	fs.StringVar(&o.onPremFlag, "onprem-cidrs", "", "on-premises CIDRs, comma-separated: label addresses, and count only traffic with an end in them (skipped as not_onprem otherwise); empty = count everything (env ONPREM_CIDRS)")
	fs.StringVar(&o.vpcFlag, "vpc-cidrs", "", "VPC CIDRs, comma-separated: with -onprem-cidrs, count only on-premises <-> VPC traffic; empty, or without -onprem-cidrs, = no such restriction (env VPC_CIDR, the deployment config's key)")
	fs.IntVar(&o.maxFlows, "max-flows", 0, "flows each worker tracks exactly per window; 0 = 262144")
	fs.IntVar(&o.recvBuffer, "recv-buffer", 128<<20, "receive buffer asked for each socket, bytes")
	fs.IntVar(&o.batch, "batch", 64, "packets per recvmmsg")
	fs.StringVar(&o.waitFlag, "wait", "auto", "how readers wait: tick (poll every millisecond; least CPU per packet, needs a large buffer), netpoll (Go's poller), blocking (recvmmsg on the thread), or auto (tick if the buffer granted is 8 MiB or more, else netpoll)")
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
	if err := checkOptions(&o, set); err != nil {
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
