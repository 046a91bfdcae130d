package fleet

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// MaxItemBytes is DynamoDB's item size limit: "The maximum item size in
// DynamoDB is 400 KB, which includes both attribute name binary length
// (UTF-8 length) and attribute value lengths (again binary length)"
// (Developer Guide, "Constraints in Amazon DynamoDB"; 1 KB = 1024 bytes).
const maxItemBytes = 400 * 1024

// itemSize is an item's size by the rules of "DynamoDB item sizes and
// formats" (Developer Guide, CapacityUnitCalculations): a string is its
// name plus its UTF-8 bytes; a number its name plus "1 byte per two
// significant digits" plus 1; a binary its name plus its raw bytes; a
// Boolean or null its name plus 1; a list or map its name plus 3, plus
// its elements, each with 1 byte more.
func itemSize(av map[string]types.AttributeValue) int {
	n := 0
	for name, v := range av {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		digits := strings.Trim(strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0"), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += len(name) + valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += valueSize(e) + 1
		}
		return n
	}
	panic(fmt.Sprintf("itemSize: %T", v))
}

// worstSummary is a summary whose every ranking holds k entries of the
// largest encoding: IPv6 flows through a 64-character GWLB endpoint,
// counts near 2^64, every skip reason, both directions.
func worstSummary(k int) *Summary {
	part := func() *Part {
		p := &Part{Packets: math.MaxUint64, Bytes: math.MaxUint64}
		for i := range k {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
			p.Flows = append(p.Flows, report.Flow{Src: a, Dst: a, Proto: 6, Sport: 65535, Dport: 65535,
				Packets: math.MaxUint64 - uint64(i), Bytes: math.MaxUint64 - uint64(i), Dir: report.FromAWS, GWLBE: strings.Repeat("v", 64)})
			p.Src = append(p.Src, report.Host{IP: a, Packets: math.MaxUint64, Bytes: math.MaxUint64})
			p.Dst = append(p.Dst, report.Host{IP: a, Packets: math.MaxUint64, Bytes: math.MaxUint64})
			p.Dport = append(p.Dport, report.Port{Proto: 17, Port: uint16(i), Packets: math.MaxUint64, Bytes: math.MaxUint64})
		}
		return p
	}
	skipped := map[string]uint64{}
	for r := range vxlan.NumReasons {
		skipped[vxlan.Reason(r).String()] = math.MaxUint64
	}
	start := time.Date(2026, 12, 4, 3, 0, 0, 123456789, time.UTC)
	return &Summary{Probe: "i-0123456789abcdef0", WindowStart: start, WindowEnd: start.Add(5 * time.Second),
		Partial: true, SampleRate: 0.123456789, Skipped: skipped, SampledOut: math.MaxUint64, PortsCut: math.MaxUint64,
		LinkBPS: 1e11, K: k, All: *part(), ToAWS: part(), FromAWS: part()}
}

// typicalSummary: IPv4 flows of a busy 5 s window (counts of 4 bytes as
// varints), directions known, k entries per ranking.
func typicalSummary(k int) *Summary {
	s := worstSummary(0)
	part := func() *Part {
		p := &Part{Packets: 5e6, Bytes: 6e9}
		for i := range k {
			a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			p.Flows = append(p.Flows, report.Flow{Src: a, Dst: a, Proto: 6, Sport: 50000, Dport: 443, Packets: 1e5, Bytes: 1e8, Dir: report.ToAWS})
			p.Src = append(p.Src, report.Host{IP: a, Packets: 1e5, Bytes: 1e8})
			p.Dst = append(p.Dst, report.Host{IP: a, Packets: 1e5, Bytes: 1e8})
			p.Dport = append(p.Dport, report.Port{Proto: 6, Port: uint16(i), Packets: 1e5, Bytes: 1e8})
		}
		return p
	}
	s.Skipped = map[string]uint64{"not_onprem": 1000}
	s.K, s.All, s.ToAWS, s.FromAWS = k, *part(), part(), part()
	return s
}

func sizeOf(t *testing.T, s *Summary) int {
	t.Helper()
	av, err := attributevalue.MarshalMap(toItem(s))
	if err != nil {
		t.Fatal(err)
	}
	return itemSize(av)
}

// TestItemSizeWorstCase: a summary at the default -top (K = 100) and at
// MaxK, every entry as large as it can be, stays within 400 KB.
func TestItemSizeWorstCase(t *testing.T) {
	for _, k := range []int{DefaultK(10), MaxK} {
		n := sizeOf(t, worstSummary(k))
		t.Logf("K=%d: worst-case item %d bytes (%.1f KB, %d write request units)", k, n, float64(n)/1024, (n+1023)/1024)
		if n > maxItemBytes {
			t.Errorf("K=%d: worst-case item is %d bytes, over DynamoDB's %d", k, n, maxItemBytes)
		}
	}
	if n := sizeOf(t, worstSummary(MaxK+20)); n <= maxItemBytes {
		t.Logf("MaxK could be larger: K=%d still fits (%d bytes)", MaxK+20, n)
	}
	n := sizeOf(t, typicalSummary(DefaultK(10)))
	t.Logf("K=100: busy IPv4 window %d bytes (%.1f KB, %d write request units)", n, float64(n)/1024, (n+1023)/1024)
}

func TestDefaultK(t *testing.T) {
	for top, want := range map[int]int{1: 100, 10: 100, 20: 200, 60: 600, 1000: MaxK} {
		if got := DefaultK(top); got != want {
			t.Errorf("DefaultK(%d) = %d, want %d", top, got, want)
		}
	}
}
