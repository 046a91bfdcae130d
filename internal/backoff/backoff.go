// Package backoff holds the retry timing that enrich and alert share: an
// exponential delay with a ceiling, and a wait that ends early when its
// context does.
package backoff

import (
	"context"
	"time"
)

// Delay is the wait after the n-th consecutive failure (n ≥ 1): lo, then
// doubling each time, never more than hi.
func Delay(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Wait returns after d, or with ctx's error when ctx ends first.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
