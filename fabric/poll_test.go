package fabric

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPollFirstCheckOutlivesWaitTimeout: with a WaitTimeout shorter than
// one check, the first check still runs to its end under the caller's
// context (so the wait can say what it saw), and the wait then ends with
// the deadline, after that one check.
func TestPollFirstCheckOutlivesWaitTimeout(t *testing.T) {
	d := &Deployer{opt: Options{PollInterval: time.Hour, WaitTimeout: time.Nanosecond}}
	var errs []error
	err := d.poll(context.Background(), "the test", func(ctx context.Context) (bool, error) {
		errs = append(errs, ctx.Err())
		return false, nil
	})
	if len(errs) != 1 || errs[0] != nil {
		t.Fatalf("checks saw context errors %v, want one check with a live context", errs)
	}
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "waiting for the test: context deadline exceeded" {
		t.Errorf("poll = %v, want the deadline named after what it waited for", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	if err := d.poll(ctx, "the test", func(context.Context) (bool, error) { called = true; return true, nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("poll with an ended context = %v (check called: %v), want context.Canceled and no check", err, called)
	}
}
