package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fleet"
)

// bypass is dxdeploy bypass: every AZ's routes direct, held there.
func bypass(ctx context.Context, d *fabric.Deployer, out *printer) error {
	changes, err := d.Bypass(ctx)
	for _, c := range changes {
		out.route("bypassed", c)
	}
	if err != nil {
		return err
	}
	line := fmt.Sprintf("Bypass complete: %d routes changed. On-premises traffic flows directly between the VGW and the business subnets, "+
		"past the appliances and unobserved; the guard will not restore it. Run dxdeploy restore to put the appliances back.", len(changes))
	out.summary(line)
	return nil
}

// restore is dxdeploy restore: stage 03 behind its health gate, then the
// hold released.
func restore(ctx context.Context, d *fabric.Deployer, out *printer) error {
	if err := d.Restore(ctx); err != nil {
		return err
	}
	out.summary("Restore complete: on-premises traffic flows through the appliances again; the guard watches it.")
	return nil
}

// guardFlags are dxdeploy guard's settings.
type guardFlags struct {
	every, restoreAfter, tickTimeout time.Duration
}

// guard is dxdeploy guard: ticks until ctx ends, notifying SNS_TOPIC_ARN
// and SLACK_WEBHOOK_URL of every bypass and restore.
func guard(ctx context.Context, d *fabric.Deployer, awsCfg aws.Config, gf guardFlags, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var sinks []alert.Sink
	conf := d.Config()
	if conf.SNSTopicARN != "" {
		s, err := alert.NewSNS(sns.NewFromConfig(awsCfg), conf.SNSTopicARN)
		if err != nil {
			return fmt.Errorf("SNS_TOPIC_ARN: %w", err)
		}
		sinks = append(sinks, s)
	}
	if conf.SlackWebhookURL != "" {
		s, err := alert.NewSlack(conf.SlackWebhookURL, nil)
		if err != nil {
			return fmt.Errorf("SLACK_WEBHOOK_URL: %w", err)
		}
		sinks = append(sinks, s)
	}
	var notify func(fabric.GuardNotice)
	if len(sinks) > 0 {
		disp, err := alert.NewDispatcher(alert.DispatcherConfig{}, nil, log, sinks...)
		if err != nil {
			return err
		}
		done := make(chan struct{})
		dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		go func() { _ = disp.Run(dctx); close(done) }()
		defer func() {
			// Give the last notices (the shutdown's included) a moment.
			time.AfterFunc(5*time.Second, stop)
			<-done
		}()
		notify = func(n fabric.GuardNotice) {
			kind := alert.Fire
			if n.Kind == "restore" || n.Kind == "api-reachable" {
				kind = alert.Resolve
			}
			disp.Submit(alert.Message{Kind: kind, Subject: n.Subject, Body: n.Body})
		}
	} else {
		log.Warn("guard: neither SNS_TOPIC_ARN nor SLACK_WEBHOOK_URL is set: bypasses and restores are only logged")
	}
	// The fleet table's claims make the probes' guards send one notice
	// per change between them (the probe role may update that table).
	claims, err := fleet.NewStore(dynamodb.NewFromConfig(awsCfg), d.FleetTable())
	if err != nil {
		return fmt.Errorf("PROBE_FLEET_TABLE: %w", err)
	}
	g, err := d.NewGuard(fabric.GuardConfig{Every: gf.every, RestoreAfter: gf.restoreAfter, TickTimeout: gf.tickTimeout,
		Notify: notify, Claims: claims, Log: log})
	if err != nil {
		return err
	}
	c := g.Config()
	log.Info("guard: watching", "project", conf.ProjectTag, "every", c.Every, "restore_after", c.RestoreAfter,
		"tick_timeout", c.TickTimeout, "bound_after_gwlb_detection", fabric.GuardBound(c.Every, c.TickTimeout))
	return g.Run(ctx)
}

// route prints one route bypass changed.
func (p *printer) route(action string, c fabric.RouteChange) {
	p.line(struct {
		Type   string `json:"type"`
		Action string `json:"action"`
		fabric.RouteChange
	}{"route", action, c}, action+" "+c.String())
}
