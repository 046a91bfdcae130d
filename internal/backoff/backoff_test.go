package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayDoublesUpToCeiling(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for n, w := range want {
		if got := Delay(n+1, 1, 10); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n+1, got, w)
		}
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v", err)
	}
	if err := Wait(context.Background(), 0); err != nil {
		t.Fatalf("Wait(0) = %v", err)
	}
}
