package fabric

import (
	"context"
	"fmt"
	"time"
)

// poll calls check every PollInterval until it reports done, the context
// ends, or WaitTimeout passes; what names the wait in the error. It is for
// the waits the SDK has no waiter for.
func (d *Deployer) poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d.opt.WaitTimeout)
	defer cancel()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
		ok, err := check(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		t.Reset(d.opt.PollInterval)
	}
}

// waitDelays returns the MinDelay and MaxDelay for the SDK's waiters.
func (d *Deployer) waitDelays() (time.Duration, time.Duration) {
	return d.opt.PollInterval, 4 * d.opt.PollInterval
}
