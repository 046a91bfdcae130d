package alert_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// Wiring alerts into a probe: a policy the coordinator consults once per
// window, and a dispatcher that delivers to SNS and Slack in the background.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()

	policy, err := alert.NewPolicy(alert.Config{BPS: 1e9, PPS: 5e5, Cooldown: 300 * time.Second}) // -alert-bps, -alert-pps, -alert-cooldown
	if err != nil {
		log.Error("alerting", "err", err)
		return
	}
	var sinks []alert.Sink
	if arn := os.Getenv("SNS_TOPIC_ARN"); arn != "" {
		awsCfg, err := config.LoadDefaultConfig(ctx) // honours AWS_ENDPOINT_URL
		if err != nil {
			log.Error("load AWS configuration", "err", err)
			return
		}
		s, err := alert.NewSNS(sns.NewFromConfig(awsCfg), arn)
		if err != nil {
			log.Error("alerting", "err", err)
			return
		}
		sinks = append(sinks, s)
	}
	if url := os.Getenv("SLACK_WEBHOOK_URL"); url != "" {
		s, err := alert.NewSlack(url, nil)
		if err != nil {
			log.Error("alerting", "err", err) // the error withholds the URL
			return
		}
		sinks = append(sinks, s)
	}
	disp, err := alert.NewDispatcher(alert.DispatcherConfig{}, reg, log, sinks...)
	if err != nil {
		log.Error("alerting", "err", err)
		return
	}
	go disp.Run(ctx) // returns when ctx ends

	// In the coordinator, after each window's report r is enriched:
	r := &report.Report{BPS: 2e9}
	var lookup func(netip.Addr) enrich.Info // e.g. func(ip) { i, _ := enricher.Lookup(ip); return i }
	if d := policy.Observe(r, time.Now()); d.Kind != alert.None {
		disp.Submit(alert.NewMessage(r, d, lookup)) // never blocks
	}
}

func ExampleFormat() {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := &report.Report{
		WindowStart: t0, WindowEnd: t0.Add(5 * time.Second), BPS: 2.4e9, PPS: 7.5e5,
		TopSrc: []report.Host{{IP: netip.MustParseAddr("10.0.1.10"), Bytes: 1.5e9,
			Info: &enrich.Info{InstanceID: "i-0abc", Name: "web-01"}}},
	}
	policy, _ := alert.NewPolicy(alert.Config{})
	subject, _ := alert.Format(r, policy.Observe(r, t0), nil)
	fmt.Println(subject)
	// Output: dxmon ALERT: 2.40 Gbps > 1.00 Gbps, 750 kpps > 500 kpps top src 10.0.1.10 (web-01)
}
