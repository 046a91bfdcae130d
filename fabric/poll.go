package fabric

import (
	"context"
	"fmt"
	"time"
)

// poll calls check every PollInterval until it reports done, the context
// ends, or WaitTimeout passes; what names the wait in the error. It is for
// the waits the SDK has no waiter for.
//
// The first check runs under ctx alone, whatever WaitTimeout is: a wait
// that times out has then seen the state at least once and can say what it
// saw (which appliances are unhealthy, which agent is not registered),
// rather than only that an API call was cut short, however slow the API.
func (d *Deployer) poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	wait, cancel := context.WithTimeout(ctx, d.opt.WaitTimeout)
	defer cancel()
	ok, err := check(ctx)
	t := time.NewTimer(d.opt.PollInterval)
	defer t.Stop()
	for {
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("waiting for %s: %w", what, wait.Err())
		case <-t.C:
		}
		ok, err = check(wait)
		t.Reset(d.opt.PollInterval)
	}
}

// waitDelays returns the MinDelay and MaxDelay for the SDK's waiters.
func (d *Deployer) waitDelays() (time.Duration, time.Duration) {
	return d.opt.PollInterval, 4 * d.opt.PollInterval
}
