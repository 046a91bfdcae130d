package vxlan

// AWS's Gateway Load Balancer metadata in Geneve options.
//
// A Gateway Load Balancer sends every packet to an appliance in Geneve
// (RFC 8926) over IPv4 UDP 6081 with three options of AWS's option class
// 0x0108 (AWS, "Integrate your custom logic or appliance with AWS Gateway
// Load Balancer", and the Elastic Load Balancing user guide for Gateway Load
// Balancers, "Appliance vendors"):
//
//	type 1  GWLB endpoint ID  8 bytes  the endpoint (vpce-…) the packet entered by
//	type 2  attachment ID     8 bytes  reserved for other attachment kinds; 0 today
//	type 3  flow cookie       4 bytes  identifies the flow to the load balancer
//
// so AWS's options take 3×4 + 8 + 8 + 4 = 32 bytes and the Geneve header 40. The appliance must send
// the packet back with the Geneve header and options unchanged.

// GWLBOptionClass is the Geneve option class of AWS's Gateway Load Balancer TLVs.
const GWLBOptionClass = 0x0108

// The option types of class GWLBOptionClass.
const (
	GWLBOptEndpointID   = 1 // 8 bytes: the GWLB endpoint's 64-bit ID
	GWLBOptAttachmentID = 2 // 8 bytes
	GWLBOptFlowCookie   = 3 // 4 bytes
)

// GWLBMeta is what a Gateway Load Balancer's Geneve options say of a packet.
// Each field is valid only when its Has bit is set.
type GWLBMeta struct {
	Has          GWLBHas
	EndpointID   uint64 // the GWLB endpoint ID (vpce-<16 hex digits>, as a number)
	AttachmentID uint64
	FlowCookie   uint32
}

// GWLBHas says which GWLB options a header carried.
type GWLBHas uint8

// Bits of GWLBHas.
const (
	HasEndpointID GWLBHas = 1 << iota
	HasAttachmentID
	HasFlowCookie
)

// ParseGeneve checks a Geneve header (RFC 8926) at the start of b and walks
// its options, filling m from AWS's GWLB options (m.Has is 0 when there are
// none). It returns the header's length including options, its Protocol
// Type, and OK; or a reason: GeneveTruncated when b is shorter than the
// header its Opt Len declares, GeneveVersion when the version is not 0, and
// GeneveOptions when an option's own length runs past the options area.
// GWLB options of the wrong size are treated as foreign options and
// ignored. ParseGeneve neither allocates nor keeps b.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Option Class         |      Type     |R|R|R| Length  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Variable-Length Option Data                   |
func ParseGeneve(b []byte, m *GWLBMeta) (hdrLen int, proto uint16, r Reason) {
	m.Has = 0
	if len(b) < 8 {
		return 0, 0, GeneveTruncated
	}
	if b[0]>>6 != 0 {
		return 0, 0, GeneveVersion
	}
	n := 8 + int(b[0]&0x3f)*4
	if len(b) < n {
		return 0, 0, GeneveTruncated
	}
	if r := walkGWLBOptions(b[8:n], m); r != OK {
		return 0, 0, r
	}
	return n, be16(b[2:]), OK
}

// walkGWLBOptions walks Geneve options, each a 4-byte header and Length×4
// bytes of data, and reads AWS's.
func walkGWLBOptions(o []byte, m *GWLBMeta) Reason {
	for len(o) > 0 {
		if len(o) < 4 {
			return GeneveOptions
		}
		dl := int(o[3]&0x1f) * 4
		if len(o) < 4+dl {
			return GeneveOptions
		}
		if be16(o) == GWLBOptionClass {
			d := o[4 : 4+dl]
			switch {
			case o[2] == GWLBOptEndpointID && dl == 8:
				m.EndpointID = be64(d)
				m.Has |= HasEndpointID
			case o[2] == GWLBOptAttachmentID && dl == 8:
				m.AttachmentID = be64(d)
				m.Has |= HasAttachmentID
			case o[2] == GWLBOptFlowCookie && dl == 4:
				m.FlowCookie = uint32(be16(d))<<16 | uint32(be16(d[2:]))
				m.Has |= HasFlowCookie
			}
		}
		o = o[4+dl:]
	}
	return OK
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// AppendGWLBOptions appends AWS's three GWLB options (endpoint ID,
// attachment ID, flow cookie: 32 bytes) to dst, for tests, emulators and
// generators.
func AppendGWLBOptions(dst []byte, endpointID, attachmentID uint64, flowCookie uint32) []byte {
	dst = append(dst, GWLBOptionClass>>8, GWLBOptionClass&0xff, GWLBOptEndpointID, 2)
	dst = appendBE64(dst, endpointID)
	dst = append(dst, GWLBOptionClass>>8, GWLBOptionClass&0xff, GWLBOptAttachmentID, 2)
	dst = appendBE64(dst, attachmentID)
	dst = append(dst, GWLBOptionClass>>8, GWLBOptionClass&0xff, GWLBOptFlowCookie, 1)
	return append(dst, byte(flowCookie>>24), byte(flowCookie>>16), byte(flowCookie>>8), byte(flowCookie))
}

func appendBE64(dst []byte, v uint64) []byte {
	return append(dst, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
