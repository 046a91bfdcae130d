package fabric_test

import (
	"testing"
	"time"

	"github.com/dxmon/dxmon/fabric"
)

// BenchmarkDecideGuard: one tick's decision for three AZs (a cold-path
// function, run once per -every).
func BenchmarkDecideGuard(b *testing.B) {
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	in := fabric.GuardInput{Now: now, CrossZone: true, RestoreAfter: 2 * time.Minute,
		Healthy: map[string]int{"a": 0, "b": 2, "c": 1},
		AZs:     []fabric.AZView{{AZ: "a", Path: fabric.PathDirect}, {AZ: "b", Path: fabric.PathInline}, {AZ: "c", Path: fabric.PathMixed}}}
	st := fabric.GuardState{HealthySince: map[string]time.Time{"a": now.Add(-time.Minute)}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = fabric.DecideGuard(st, in)
	}
}
