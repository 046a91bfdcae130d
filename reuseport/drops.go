package reuseport

import "sync/atomic"

// dropCounter extends the kernel's 32-bit, wrapping per-socket drop counter
// (sk_drops) to 64 bits. Observations come from two places — the
// SO_RXQ_OVFL control message on the reading goroutine and SO_MEMINFO from
// any goroutine — so it is updated lock-free; an observation older than the
// current total (less than 2^31 behind) is ignored.
type dropCounter struct{ total atomic.Uint64 }

// observe records the kernel's current value k and returns the total.
func (d *dropCounter) observe(k uint32) uint64 {
	for {
		old := d.total.Load()
		delta := k - uint32(old) // the low 32 bits of total track the kernel's counter
		if delta == 0 || delta >= 1<<31 {
			return old
		}
		if d.total.CompareAndSwap(old, old+uint64(delta)) {
			return old + uint64(delta)
		}
	}
}

// load returns the total seen so far.
func (d *dropCounter) load() uint64 { return d.total.Load() }
