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
// heavy hitters found in overflow) is classified once, and its traffic added
// to its direction's sources, destinations and ports; a share's flows are
// the window's own, read in place through the classification (nothing is
// copied). Read the shares with Direction. Call it after the window's
// AddTables; Reset empties the shares. The rankings of a direction are
// exact for flows held exactly; sources, destinations and ports found only
// by the overflow's own Space-Saving summaries (not as flows) are not in
// them. The exact totals per direction are the caller's: probe counts them
// on the packet path.
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
	for d := DirToAWS; d < NumDirections; d++ {
		if m.split[d] == nil {
			m.split[d] = NewMerged()
			m.split[d].parent, m.split[d].dir = m, d
		}
		m.split[d].Reset()
	}
	eachSlot(ft, func(i uint32, e *entry) {
		dir := classify(&e.key)
		dirs[i] = dir
		if s := m.split[dir]; s != nil {
			s.flows++
			s.Total.Packets += e.packets
			s.Total.Bytes += e.bytes
		}
	})
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
	others := []Dim{DimSrc, DimDst, DimPort}
	if ft.Len() < parallelMerge {
		for _, d := range others {
			split(d)
		}
	} else {
		var wg sync.WaitGroup
		for _, d := range others {
			wg.Go(func() { split(d) })
		}
		wg.Wait()
	}
	m.splitDone = true
}

// Direction returns direction d's share of the window as SplitDirections
// made it, or nil when the window was not split or d is DirUnknown. The
// share is read-only: its Top, Each, Len and Get work as the window's
// (its DimFlow reads the window's flows of direction d in place), and its
// Total is the sum of its flows, not the exact total.
func (m *Merged) Direction(d Direction) *Merged {
	if !m.splitDone || d == DirUnknown || d >= NumDirections {
		return nil
	}
	return m.split[d]
}

// flowsOf returns the table holding m's flows and, for a direction's
// share, the filter that keeps its own: a slot is the share's when
// dirs[i] == dir.
func (m *Merged) flowsOf() (t *Table, dirs []Direction, dir Direction, share bool) {
	if m.parent == nil {
		return m.dims[DimFlow], nil, DirUnknown, false
	}
	return m.parent.dims[DimFlow], m.parent.slotDir, m.dir, true
}
