package probe

import (
	"fmt"
	"sync/atomic"
)

// maxEndpoints is how many distinct Gateway Load Balancer endpoints a
// probe names; one GWLB has one endpoint per Availability Zone of each VPC
// it serves, so this is ample. Packets of further endpoints are counted,
// their flows unnamed.
const maxEndpoints = 1023

// endpoints numbers the GWLB endpoint IDs the workers meet, so that a flow
// table can carry an endpoint in a 16-bit tag (flow.Table.AddTagged): tag
// i names ids[i-1]. Workers add IDs concurrently without locks (an ID
// takes a free slot with a compare-and-swap) and never remove them; the
// coordinator reads them. Nothing allocates.
type endpoints struct {
	ids [maxEndpoints]atomic.Uint64
}

// tag returns id's tag, numbering it if new; 0 when id is 0 or no slot is
// left.
func (e *endpoints) tag(id uint64) uint16 {
	if id == 0 {
		return 0
	}
	start := int((id * 0x9e3779b97f4a7c15) >> 54) // a multiplicative hash
	for n := range maxEndpoints {
		i := (start + n) % maxEndpoints
		switch v := e.ids[i].Load(); v {
		case id:
			return uint16(i + 1)
		case 0:
			if e.ids[i].CompareAndSwap(0, id) || e.ids[i].Load() == id {
				return uint16(i + 1)
			}
		}
	}
	return 0
}

// id returns the endpoint ID of tag t.
func (e *endpoints) id(t uint16) (uint64, bool) {
	if t == 0 || int(t) > maxEndpoints {
		return 0, false
	}
	v := e.ids[t-1].Load()
	return v, v != 0
}

// name returns the endpoint's VPC endpoint ID, "vpce-" and 17 hex digits,
// or "" for tag 0.
func (e *endpoints) name(t uint16) string {
	if id, ok := e.id(t); ok {
		return EndpointName(id)
	}
	return ""
}

// EndpointName formats a GWLB endpoint ID from AWS's Geneve option (type
// 1 of class 0x0108, 64 bits) as its VPC endpoint ID: "vpce-" and the ID
// in 17 lowercase hex digits, zero-padded, as AWS's own tunnel handler
// formats it (aws-samples/aws-gateway-load-balancer-tunnel-handler,
// utils.cpp MakeENIStr: std::hex, setw(17), setfill('0')). VPC endpoint IDs
// are "vpce-" and 17 hex digits (for example vpce-0123456789abcdef0).
func EndpointName(id uint64) string { return fmt.Sprintf("vpce-%017x", id) }
