package fabric_test

import (
	"fmt"
	"time"

	"github.com/dxmon/dxmon/fabric"
)

// The guard's decision for one tick: cross-zone load balancing off, the
// appliance in us-east-1a dead, us-east-1b's healthy; us-east-1b was
// bypassed earlier and has been healthy for three minutes.
func ExampleDecideGuard() {
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	st := fabric.GuardState{HealthySince: map[string]time.Time{"us-east-1b": now.Add(-3 * time.Minute)}}
	_, decisions := fabric.DecideGuard(st, fabric.GuardInput{
		Now: now, CrossZone: false, RestoreAfter: 2 * time.Minute,
		Healthy: map[string]int{"us-east-1a": 0, "us-east-1b": 1},
		AZs:     []fabric.AZView{{AZ: "us-east-1a", Path: fabric.PathInline}, {AZ: "us-east-1b", Path: fabric.PathDirect}},
	})
	for _, d := range decisions {
		fmt.Printf("%s %s: %s\n", d.AZ, d.Action, d.Reason)
	}
	fmt.Println(fabric.GuardBound(fabric.DefaultGuardEvery, fabric.DefaultGuardTickTimeout))
	// Output:
	// us-east-1a bypass: no healthy appliance in us-east-1a: GWLB drops this AZ's traffic
	// us-east-1b restore: healthy appliance reachable for 3m0s (restore after 2m0s)
	// 20s
}
