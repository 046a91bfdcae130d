package enrich_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/enrich"
)

// Wiring an Enricher into a probe: the SDK's default configuration (so
// AWS_ENDPOINT_URL and the usual credential sources apply), a background
// refresh loop, and lock-free lookups at each window's end.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("load AWS configuration", "err", err)
		return
	}
	e, err := enrich.New(ec2.NewFromConfig(awsCfg), enrich.Config{
		VPCID:       "vpc-0123456789abcdef0", // -enrich-vpc
		Interval:    60 * time.Second,        // -enrich-interval
		OnPremCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
	}, prometheus.NewRegistry(), log)
	if err != nil {
		log.Error("enrichment", "err", err)
		return
	}
	go e.Run(ctx) // returns when ctx ends

	// At each window's end, for every reported address:
	//	flow.SrcInfo = e.Get(flow.Src) // *enrich.Info or nil; never allocates
	if info, ok := e.Lookup(netip.MustParseAddr("192.168.1.10")); ok {
		fmt.Println(info.Label())
	}
}

// Naming addresses by the on-premises prefixes alone, without AWS: what a
// probe without a VPC to read passes as its report.Lookup.
func ExampleOnPrem() {
	onPrem, err := enrich.NewOnPrem([]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}) // -onprem-cidrs
	if err != nil {
		fmt.Println(err)
		return
	}
	info, ok := onPrem.Lookup(netip.MustParseAddr("192.168.1.10"))
	fmt.Println(info.Label(), ok)
	_, ok = onPrem.Lookup(netip.MustParseAddr("10.0.0.1"))
	fmt.Println(ok)
	// Output:
	// on-prem 192.168.0.0/16 true
	// false
}
