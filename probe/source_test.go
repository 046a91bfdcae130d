package probe_test

import (
	"testing"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/reuseport"
)

// TestDropCounters: one per reader of the group, in the group's order.
func TestDropCounters(t *testing.T) {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 2, Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	dc := probe.DropCounters(g)
	if len(dc) != len(g.Readers()) {
		t.Fatalf("%d drop counters for %d readers", len(dc), len(g.Readers()))
	}
	for i, r := range g.Readers() {
		if dc[i] != probe.DropCounter(r) {
			t.Errorf("drop counter %d is not reader %d", i, i)
		}
	}
}
