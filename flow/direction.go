package flow

import "sync"

// Direction is which way a flow crosses the link between on-premises and
// AWS. The flow package does not know where on-premises is: a Classifier,
// given by the caller (probe derives one from its on-premises prefixes),
// tells a key's direction.
type Direction uint8

// Directions of a flow.
const (
	// DirUnknown: no on-premises prefixes are configured, or both (or
	// neither) ends of the flow are on-premises.
	DirUnknown Direction = iota
	// DirToAWS: the source is on-premises.
	DirToAWS
	// DirFromAWS: the destination is on-premises.
	DirFromAWS
	// NumDirections is the number of Direction values.
	NumDirections
)

// String returns "unknown", "to_aws" or "from_aws": the names of the JSON
// report and of the metrics' direction label.
func (d Direction) String() string {
	switch d {
	case DirToAWS:
		return "to_aws"
	case DirFromAWS:
		return "from_aws"
	}
	return "unknown"
}

// Classifier tells the direction of a flow from its key. It must be a pure
// function of the key's addresses (a source or destination key of Key.SrcOnly
// or Key.DstOnly has no direction) and safe for concurrent use.
type Classifier func(k *Key) Direction

// SplitDirections fills each known direction's share of the window from
// its flows: every flow of the DimFlow dimension (those held exactly and the
// heavy hitters found in overflow) is classified once and its traffic added
// to its direction's flows, sources, destinations and ports, read back with
// Direction. Call it after the window's AddTables; Reset empties the
// shares. The direction's rankings are therefore exact for flows held
// exactly; sources, destinations and ports found only by the overflow's
// own Space-Saving summaries (not as flows) are not in them. Totals per
// direction are the caller's: they are counted exactly on the packet path,
// not here.
//
// Direction is derived from the key at merge time rather than stored in
// each table entry, so the 64-byte entry does not grow and the packet path
// pays nothing for it.
func (m *Merged) SplitDirections(classify Classifier) {
	ft := m.dims[DimFlow]
	if cap(m.slotDir) < len(ft.slots) {
		m.slotDir = make([]Direction, len(ft.slots))
	}
	dirs := m.slotDir[:len(ft.slots)]
	eachSlot(ft, func(i uint32, e *entry) { dirs[i] = classify(&e.key) })
	for d := DirToAWS; d < NumDirections; d++ {
		if m.split[d] == nil {
			m.split[d] = NewMerged()
		}
		m.split[d].Reset()
	}
	split := func(d Dim) {
		var c [NumDirections]mergeChunker
		for dir := range c {
			c[dir].left = ft.Len()
		}
		eachSlot(ft, func(i uint32, e *entry) {
			if dir := dirs[i]; dir != DirUnknown {
				c[dir].add(m.split[dir], d, e)
			}
		})
		for dir := DirToAWS; dir < NumDirections; dir++ {
			c[dir].flush(m.split[dir], d)
		}
	}
	if ft.Len() < parallelMerge {
		for _, d := range Dims {
			split(d)
		}
	} else {
		var wg sync.WaitGroup
		for _, d := range Dims {
			wg.Go(func() { split(d) })
		}
		wg.Wait()
	}
	m.splitDone = true
}

// Direction returns direction d's share of the window as SplitDirections
// made it (its Top and Each work as the whole window's), or nil when the
// window was not split or d is DirUnknown. Its Total is the sum of its
// flows, not the exact total (see SplitDirections).
func (m *Merged) Direction(d Direction) *Merged {
	if !m.splitDone || d == DirUnknown || d >= NumDirections {
		return nil
	}
	return m.split[d]
}
