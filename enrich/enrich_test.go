package enrich_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/enrich"
)

// fakeEC2 serves fixed instances and interfaces, a page of MaxResults at a
// time, and fails while err is set.
type fakeEC2 struct {
	mu        sync.Mutex
	instances []types.Instance
	enis      []types.NetworkInterface
	err       error
	calls     map[string]int
	vpcs      []string
}

func page[T any](items []T, token *string, max *int32) ([]T, *string) {
	start := 0
	if token != nil {
		start, _ = strconv.Atoi(*token)
	}
	end := len(items)
	if max != nil && start+int(*max) < end {
		end = start + int(*max)
	}
	var next *string
	if end < len(items) {
		next = aws.String(strconv.Itoa(end))
	}
	return items[start:end], next
}

func (f *fakeEC2) count(op string, filters []types.Filter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	for _, fl := range filters {
		if aws.ToString(fl.Name) == "vpc-id" {
			f.vpcs = append(f.vpcs, fl.Values...)
		}
	}
	return f.err
}

func (f *fakeEC2) setErr(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if err := f.count("DescribeInstances", in.Filters); err != nil {
		return nil, err
	}
	items, next := page(f.instances, in.NextToken, in.MaxResults)
	out := &ec2.DescribeInstancesOutput{NextToken: next}
	for _, i := range items {
		out.Reservations = append(out.Reservations, types.Reservation{Instances: []types.Instance{i}})
	}
	return out, nil
}

func (f *fakeEC2) DescribeNetworkInterfaces(_ context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	if err := f.count("DescribeNetworkInterfaces", in.Filters); err != nil {
		return nil, err
	}
	items, next := page(f.enis, in.NextToken, in.MaxResults)
	return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: items, NextToken: next}, nil
}

func tags(kv ...string) []types.Tag {
	var t []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		t = append(t, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return t
}

func fixture() *fakeEC2 {
	f := &fakeEC2{}
	for i := range 12 {
		n := strconv.Itoa(i)
		f.instances = append(f.instances, types.Instance{
			InstanceId: aws.String("i-" + n),
			Tags:       tags("Name", "web-"+n, enrich.ASGTag, "asg-web", "Team", "team-"+n, "Owner", "ignored"),
			NetworkInterfaces: []types.InstanceNetworkInterface{{
				NetworkInterfaceId: aws.String("eni-i" + n),
				InterfaceType:      aws.String("interface"),
				Description:        aws.String("Primary network interface"),
				PrivateIpAddress:   aws.String("10.0.1." + n),
				PrivateIpAddresses: []types.InstancePrivateIpAddress{
					{PrivateIpAddress: aws.String("10.0.1." + n)},
					{PrivateIpAddress: aws.String("10.0.2." + n)},
				},
				Ipv6Addresses: []types.InstanceIpv6Address{{Ipv6Address: aws.String("2001:db8::" + n)}},
			}},
		})
		// DescribeNetworkInterfaces lists the instance's interface too,
		// without the instance's tags: the instance's view must win.
		f.enis = append(f.enis, types.NetworkInterface{
			NetworkInterfaceId: aws.String("eni-i" + n),
			InterfaceType:      types.NetworkInterfaceTypeInterface,
			Attachment:         &types.NetworkInterfaceAttachment{InstanceId: aws.String("i-" + n)},
			PrivateIpAddress:   aws.String("10.0.1." + n),
		})
	}
	f.enis = append(f.enis,
		types.NetworkInterface{
			NetworkInterfaceId: aws.String("eni-nlb"),
			InterfaceType:      types.NetworkInterfaceTypeNetworkLoadBalancer,
			Description:        aws.String("ELB net/probe-nlb/0123"),
			PrivateIpAddress:   aws.String("10.0.9.1"),
			PrivateIpAddresses: []types.NetworkInterfacePrivateIpAddress{{PrivateIpAddress: aws.String("10.0.9.1")}},
		},
		types.NetworkInterface{
			NetworkInterfaceId: aws.String("eni-nat"),
			InterfaceType:      types.NetworkInterfaceTypeNatGateway,
			Description:        aws.String("Interface for NAT Gateway nat-1"),
			PrivateIpAddress:   aws.String("10.0.9.2"),
			TagSet:             tags("Name", "nat-a", "Team", "netops"),
			Ipv6Addresses:      []types.NetworkInterfaceIpv6Address{{Ipv6Address: aws.String("2001:db8::ffff")}},
		},
	)
	return f
}

func newEnricher(t *testing.T, api enrich.EC2API, cfg enrich.Config, reg prometheus.Registerer, log *slog.Logger) *enrich.Enricher {
	t.Helper()
	if cfg.VPCID == "" {
		cfg.VPCID = "vpc-1"
	}
	e, err := enrich.New(api, cfg, reg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func TestRefreshMapsEveryAddressAcrossPages(t *testing.T) {
	f := fixture()
	e := newEnricher(t, f, enrich.Config{
		OwnerTag:    "Team",
		PageSize:    5,
		OnPremCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("172.16.0.1/12")},
	}, nil, nil)
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := f.calls["DescribeInstances"]; got != 3 { // 12 instances, 5 a page
		t.Errorf("DescribeInstances called %d times, want 3 pages", got)
	}
	if got := f.calls["DescribeNetworkInterfaces"]; got != 3 { // 14 interfaces
		t.Errorf("DescribeNetworkInterfaces called %d times, want 3 pages", got)
	}
	for _, v := range f.vpcs {
		if v != "vpc-1" {
			t.Errorf("call filtered by VPC %q, want vpc-1", v)
		}
	}
	web7 := enrich.Info{InstanceID: "i-7", Name: "web-7", ASG: "asg-web", Owner: "team-7", ENI: "eni-i7",
		InterfaceType: "interface", Description: "Primary network interface"}
	nat := enrich.Info{ENI: "eni-nat", InterfaceType: "natGateway", Description: "Interface for NAT Gateway nat-1",
		Name: "nat-a", Owner: "netops"}
	tests := []struct {
		ip   string
		want enrich.Info
		ok   bool
	}{
		{"10.0.1.7", web7, true},
		{"10.0.2.7", web7, true},        // secondary private address
		{"2001:db8::7", web7, true},     // IPv6
		{"::ffff:10.0.1.7", web7, true}, // IPv4-mapped
		{"fe80::1%eth0", enrich.Info{}, false},
		{"10.0.9.1", enrich.Info{ENI: "eni-nlb", InterfaceType: "network_load_balancer", Description: "ELB net/probe-nlb/0123"}, true},
		{"10.0.9.2", nat, true},
		{"2001:db8::ffff", nat, true},
		{"192.168.4.5", enrich.Info{OnPrem: "192.168.0.0/16"}, true},
		{"172.20.0.1", enrich.Info{OnPrem: "172.16.0.0/12"}, true},
		{"10.0.3.1", enrich.Info{}, false},
	}
	for _, tt := range tests {
		got, ok := e.Lookup(netip.MustParseAddr(tt.ip))
		if ok != tt.ok {
			t.Errorf("Lookup(%s) ok = %v, want %v", tt.ip, ok, tt.ok)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Lookup(%s) (-want +got):\n%s", tt.ip, diff)
		}
		if p := e.Get(netip.MustParseAddr(tt.ip)); (p != nil) != tt.ok || (p != nil && *p != got) {
			t.Errorf("Get(%s) = %v, want the Lookup result", tt.ip, p)
		}
	}
	if got, want := e.Len(), 12*3+3; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func TestNilEnricherKnowsNothing(t *testing.T) {
	var e *enrich.Enricher
	if i, ok := e.Lookup(netip.MustParseAddr("10.0.0.1")); ok || !i.IsZero() || e.Get(netip.MustParseAddr("10.0.0.1")) != nil || e.Len() != 0 {
		t.Errorf("nil Enricher returned %+v, %v", i, ok)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	f := fixture()
	e := newEnricher(t, f, enrich.Config{OnPremCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}}, nil, nil)
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ips := []netip.Addr{
		netip.MustParseAddr("10.0.1.3"), netip.MustParseAddr("2001:db8::3"),
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("::ffff:10.0.1.3"),
	}
	var sink int
	allocs := testing.AllocsPerRun(1000, func() {
		for _, ip := range ips {
			i, ok := e.Lookup(ip)
			if ok {
				sink += len(i.Name)
			}
			if e.Get(ip) != nil {
				sink++
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", allocs)
	}
	_ = sink
}

// waiter is the clock seam for Run: each wait is reported on asked and
// returns when the test sends on release (or the context ends).
type waiter struct {
	asked   chan time.Duration
	release chan struct{}
}

func newWaiter() *waiter {
	return &waiter{asked: make(chan time.Duration), release: make(chan struct{})}
}

func (w *waiter) Wait(ctx context.Context, d time.Duration) error {
	select {
	case w.asked <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next waits for Run's next wait, guarding against a hung loop.
func (w *waiter) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-w.asked:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not reach its next wait within 30s")
		return 0
	}
}

func TestRunKeepsSnapshotOnFailureAndBacksOff(t *testing.T) {
	f := fixture()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	reg := prometheus.NewPedanticRegistry()
	w := newWaiter()
	e := newEnricher(t, f, enrich.Config{Interval: time.Minute, RetryMin: time.Second, Jitter: -1, Wait: w.Wait}, reg, log)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	if d := w.next(t); d != time.Minute {
		t.Errorf("wait after success = %v, want the interval 1m", d)
	}
	before, _ := e.Lookup(netip.MustParseAddr("10.0.1.1"))
	if before.Name != "web-1" {
		t.Fatalf("after the first refresh 10.0.1.1 is %+v, want web-1", before)
	}

	f.setErr(errors.New("connection refused"))
	var waits []time.Duration
	for range 8 {
		w.release <- struct{}{}
		waits = append(waits, w.next(t))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("backoff after failures (-want +got):\n%s", diff)
	}
	if got, _ := e.Lookup(netip.MustParseAddr("10.0.1.1")); got != before {
		t.Errorf("after failures 10.0.1.1 is %+v, want the old %+v", got, before)
	}
	if n := strings.Count(logs.String(), "refresh failed"); n != 1 {
		t.Errorf("failure logged %d times in a streak of 8, want once:\n%s", n, logs.String())
	}

	// Recovery, with a changed fleet.
	f.mu.Lock()
	f.err = nil
	f.instances[1].Tags = tags("Name", "web-1-renamed")
	f.mu.Unlock()
	w.release <- struct{}{}
	if d := w.next(t); d != time.Minute {
		t.Errorf("wait after recovery = %v, want 1m", d)
	}
	if got, _ := e.Lookup(netip.MustParseAddr("10.0.1.1")); got.Name != "web-1-renamed" {
		t.Errorf("after recovery 10.0.1.1 is %+v, want web-1-renamed", got)
	}
	if !strings.Contains(logs.String(), "recovered") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}

	expected := `
# HELP dxmon_enrich_refreshes_total Refreshes of the address snapshot from the EC2 API, by result (ok, error, throttled).
# TYPE dxmon_enrich_refreshes_total counter
dxmon_enrich_refreshes_total{result="error"} 8
dxmon_enrich_refreshes_total{result="ok"} 2
dxmon_enrich_refreshes_total{result="throttled"} 0
# HELP dxmon_enrich_entries Addresses in the current snapshot.
# TYPE dxmon_enrich_entries gauge
dxmon_enrich_entries 39
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "dxmon_enrich_refreshes_total", "dxmon_enrich_entries"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %+v", err, problems)
	}
}

func TestThrottledRefreshCountedApart(t *testing.T) {
	f := fixture()
	f.err = &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	reg := prometheus.NewPedanticRegistry()
	e := newEnricher(t, f, enrich.Config{}, reg, nil)
	err := e.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "vpc-1") {
		t.Fatalf("Refresh = %v, want an error naming the VPC", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "RequestLimitExceeded" {
		t.Errorf("Refresh error %v does not wrap the API error", err)
	}
	expected := `
# HELP dxmon_enrich_refreshes_total Refreshes of the address snapshot from the EC2 API, by result (ok, error, throttled).
# TYPE dxmon_enrich_refreshes_total counter
dxmon_enrich_refreshes_total{result="error"} 0
dxmon_enrich_refreshes_total{result="ok"} 0
dxmon_enrich_refreshes_total{result="throttled"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "dxmon_enrich_refreshes_total"); err != nil {
		t.Error(err)
	}
}

func TestSnapshotAgeUsesInjectedClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnricher(t, fixture(), enrich.Config{Now: clock}, nil, nil)
	now = now.Add(time.Minute)
	if got := e.Age(); got != time.Minute {
		t.Errorf("Age before any refresh = %v, want 1m since New", got)
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(7 * time.Second)
	if got := e.Age(); got != 7*time.Second {
		t.Errorf("Age = %v, want 7s", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  enrich.Config
		want string
	}{
		{"no vpc", enrich.Config{}, "VPC ID is empty"},
		{"negative interval", enrich.Config{VPCID: "vpc-1", Interval: -time.Second}, "interval -1s"},
		{"jitter", enrich.Config{VPCID: "vpc-1", Jitter: 1.5}, "jitter 1.5"},
		{"page size", enrich.Config{VPCID: "vpc-1", PageSize: 2}, "page size 2"},
		{"bad cidr", enrich.Config{VPCID: "vpc-1", OnPremCIDRs: []netip.Prefix{{}}}, "on-prem CIDR"},
	}
	for _, tt := range tests {
		_, err := enrich.New(fixture(), tt.cfg, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {60, 10 * time.Second}} {
		if got := enrich.Backoff(tt.n, time.Second, 10*time.Second); got != tt.want {
			t.Errorf("Backoff(%d, 1s, 10s) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	f := fixture()
	e, err := enrich.New(f, enrich.Config{VPCID: "vpc-1"}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("10.0.1.5")
	b.ReportAllocs()
	for b.Loop() {
		e.Get(ip)
	}
}
