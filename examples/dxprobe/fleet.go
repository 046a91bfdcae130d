package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/report"
)

// newFleet wires -fleet: the DynamoDB client, the probe's id and the
// fleet's alerting.
func newFleet(ctx context.Context, o options, port uint16, policy alert.Config, send func(alert.Message),
	lookup report.Lookup, emit func(*report.Report), reg prometheus.Registerer, log *slog.Logger) (*fleet.Fleet, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Each request is bounded by the fleet's timeout; one retry inside it.
	store, err := fleet.NewStore(dynamodb.NewFromConfig(awsCfg, func(d *dynamodb.Options) { d.RetryMaxAttempts = 2 }), o.fleetTable)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-fleet (PROBE_FLEET_TABLE): %v", err)}
	}
	id := o.probeID
	if id == "" {
		id = fleet.ProbeID(ctx, o.imdsEndpoint, 300*time.Millisecond, port)
	}
	f, err := fleet.New(fleet.Config{Store: store, Probe: id, Wait: o.fleetWait, Timeout: min(fleet.DefaultTimeout, o.window),
		Top: o.top, Alert: policy, Send: send, Lookup: lookup, Emit: emit, Log: log}, reg)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-fleet (PROBE_FLEET_TABLE): %v", err)}
	}
	log.Info("fleet view on", "table", o.fleetTable, "probe_id", id, "wait", o.fleetWait.String(), "summary_top", f.K())
	return f, nil
}
