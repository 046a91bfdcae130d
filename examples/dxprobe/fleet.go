package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/report"
)

// newFleet wires -fleet (nil without it): the DynamoDB client, the
// probe's id, and the fleet's goroutine, which prints the fleet's report
// with emit and decides and claims the link's alerts, sent and shown on
// the page by al.
func newFleet(ctx context.Context, o options, awsCfg *aws.Config, al *alerting, lookup report.Lookup, emit func(*report.Report),
	reg prometheus.Registerer, log *slog.Logger, bg *background) (*fleet.Fleet, error) {
	if o.fleetTable == "" {
		return nil, nil
	}
	// Each request is bounded by the fleet's timeout; one retry inside it.
	store, err := fleet.NewStore(dynamodb.NewFromConfig(*awsCfg, func(d *dynamodb.Options) { d.RetryMaxAttempts = 2 }), o.fleetTable)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-fleet (PROBE_FLEET_TABLE): %v", err)}
	}
	id := o.probeID
	if id == "" {
		id = fleet.ProbeID(ctx, o.imdsEndpoint, 300*time.Millisecond, o.port)
	}
	f, err := fleet.New(fleet.Config{Store: store, Probe: id, Wait: o.fleetWait, Timeout: min(fleet.DefaultTimeout, o.window),
		Top: o.top, Alert: al.policy.Config(), Send: al.send, Lookup: lookup, Emit: emit, Log: log}, reg)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-fleet (PROBE_FLEET_TABLE): %v", err)}
	}
	*bg = append(*bg, f.Run)
	log.Info("fleet view on", "table", o.fleetTable, "probe_id", id, "wait", o.fleetWait.String(), "summary_top", f.K())
	return f, nil
}
