// Package flow counts mirrored traffic by 5-tuple in per-worker tables,
// window by window, merges the workers' tables and ranks the Top-N flows,
// sources, destinations and (protocol, destination port) pairs.
//
// # Tables
//
// A Table belongs to one worker goroutine: no locks, no sharing. It is an
// open-addressing hash table of 64-byte entries with at most MaxFlows flows
// at a load factor of at most 1/2, so memory is fixed at creation:
// 2×64 + 4 = 132 bytes per flow of capacity, 33 MiB for DefaultMaxFlows
// (262 144). Add takes the flow's precomputed hash (Key.Hash, shared with
// the sampler) and does not allocate.
//
// When a table is full, totals stay exact: a new flow's traffic is added to
// an overflow counter, and to Space-Saving summaries of flows, sources,
// destinations and ports with HeavySlots counters each. Any key carrying
// more than 1/HeavySlots of the overflow bytes is guaranteed to hold a
// counter, so a flow with at least 1 % of a window's bytes reaches the
// Top-N even if it started after the table filled; the sources of a
// random-port flood surface in the source ranking the same way.
//
// # Tags
//
// A flow may carry a 16-bit tag that is not part of its key (AddTagged):
// probe tags each flow with the Gateway Load Balancer endpoint its packets
// came through. The table keeps the last non-zero tag per flow in the top
// 16 bits of the entry's stored hash, whose low 48 bits are all it
// compares, so entries stay 64 bytes and keys keep their meaning; merging
// keeps the last non-zero tag, and Top reports it.
//
// # Windows
//
// Windows are aligned to multiples of their length on the wall clock
// (WindowStart), so that probes report the same intervals. At a window's
// end a worker hands its full table to the coordinator and continues with a
// recycled one (Reset touches only the slots in use, or clears a table
// more than an eighth full at once); nothing is allocated in steady state.
//
// # Merging and ranking
//
// Merged sums any number of tables (order does not matter) into per-
// dimension tables reused across windows; AddTables takes a window's
// tables at once, one goroutine per dimension. Top ranks with a bounded
// heap by bytes, then packets, then key. Both read a table more than an
// eighth full in slot order, which the hardware prefetches, and merge
// inserts are gathered in chunks whose slots are read first so that their
// cache misses overlap. A table that grows is prefaulted (written page by
// page) before it is filled. Merging and ranking full tables of the
// default capacity takes about 33 ms per worker on the 2-vCPU dev VM
// (BenchmarkMergeTopFull).
//
// # Directions
//
// SplitDirections divides a merged window by direction with a Classifier
// the caller gives (probe's, from its on-premises prefixes): each flow is
// classified once by its key, a direction's flows are read in place, and
// its sources, destinations and ports are summed from them; Direction
// returns a share that ranks like the window. The table entries do not
// store a direction, so the packet path is unchanged.
package flow
