package ipfix_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/ipfix"
)

// An Encoder turns a window's flows into IPFIX messages: the templates
// first, then one message per template with as many records as fit.
func ExampleEncoder() {
	e, err := ipfix.NewEncoder(ipfix.Config{DomainID: 7, VNI: 12345}, func(msg []byte, records int) {
		fmt.Printf("message of %d bytes, %d flow records\n", len(msg), records)
	})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	e.Begin(start.Add(5*time.Second), start, start.Add(5*time.Second))
	k4 := flow.NewKey(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 6, 50412, 443)
	k6 := flow.NewKey(netip.MustParseAddr("2001:db8::25"), netip.MustParseAddr("2001:db8::7"), 6, 5432, 41022)
	e.Add(&k4, flow.Counter{Packets: 200, Bytes: 293000})
	e.Add(&k6, flow.Counter{Packets: 300, Bytes: 432000})
	e.Flush()
	// Output:
	// message of 158 bytes, 0 flow records
	// message of 73 bytes, 1 flow records
	// message of 97 bytes, 1 flow records
}
