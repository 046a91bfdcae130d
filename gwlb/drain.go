package gwlb

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// DefaultDrainDelay is how long an appliance keeps returning packets after
// its health check stopped answering on SIGTERM: 35 s, above the 30 s
// deregistration delay dxdeploy gives the GWLB target group.
//
// Why it must outlast that delay ("Edit target group attributes for your
// Gateway Load Balancer", Target failover and Deregistration delay,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/gateway/edit-target-group-attributes.html):
// with target_failover "rebalance", GWLB "rehashes existing flows and
// sends them to healthy targets after the deregistration delay timeout";
// for unhealthy targets "the minimum time to failover will depend on the
// target group health check configuration (interval times threshold)";
// with "no_rebalance" it "continues to send existing flows to failed or
// drained targets. If the Gateway Load Balancer cannot reach the target,
// the traffic is dropped." An appliance that stopped reflecting before
// then would drop the link's packets of every flow still hashed to it.
const DefaultDrainDelay = 35 * time.Second

// Drain is an appliance's graceful stop, run beside its Reflector. It
// waits for a first stop request (a value on stop, typically SIGTERM or
// SIGINT), then calls unhealthy — the health check must stop answering
// first, so that GWLB takes the target out — and lets the caller go on
// reflecting for delay before it returns. A second stop request, or ctx
// (the reflector failed, say), ends the wait at once. It returns true
// when the whole delay was served, false when cut short or when ctx ended
// before any request (unhealthy is called in every case before it
// returns).
func Drain(ctx context.Context, stop <-chan os.Signal, delay time.Duration, unhealthy func(), log *slog.Logger) bool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	select {
	case <-ctx.Done():
		unhealthy()
		return false
	case sig := <-stop:
		unhealthy()
		log.Info("draining: health check stopped; still returning packets", "signal", sig.String(),
			"drain_delay", delay.String(), "until", time.Now().Add(delay).UTC().Format(time.RFC3339))
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		log.Info("drained: stopping", "drain_delay", delay.String())
		return true
	case sig := <-stop:
		log.Warn("second stop request: stopping now, without the rest of the drain", "signal", sig.String())
	case <-ctx.Done():
	}
	return false
}
