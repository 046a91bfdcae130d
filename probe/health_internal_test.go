package probe

import (
	"strings"
	"testing"
	"time"
)

// A worker that has not come back from its socket for longer than two
// windows and StallGrace is stuck: unhealthy, named.
func TestHealthStalledWorker(t *testing.T) {
	p, err := New(Config{Window: time.Second}, 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p.started.Store(true)
	for _, w := range p.workers {
		w.reading.Store(true)
		w.lastRead.Store(now.UnixNano())
	}
	if err := p.healthAt(now.Add(2*time.Second + StallGrace)); err != nil {
		t.Errorf("at the limit: %v, want healthy", err)
	}
	p.workers[1].lastRead.Store(now.Add(-time.Minute).UnixNano())
	err = p.healthAt(now)
	if err == nil || !strings.Contains(err.Error(), "worker 1 has not read for 1m0s") {
		t.Errorf("a worker a minute without a read: %v, want it named", err)
	}
}
