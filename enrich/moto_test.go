package enrich_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/internal/mototest"
)

// countingEC2 passes calls to moto and counts them, to show pagination.
type countingEC2 struct {
	api   enrich.EC2API
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingEC2) inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
}

func (c *countingEC2) get(op string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls[op] }

func (c *countingEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	c.inc("DescribeInstances")
	return c.api.DescribeInstances(ctx, in, o...)
}

func (c *countingEC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	c.inc("DescribeNetworkInterfaces")
	return c.api.DescribeNetworkInterfaces(ctx, in, o...)
}

// world is what a test creates in moto and expects to resolve.
type world struct {
	vpc  string
	want map[netip.Addr]enrich.Info // address → expected Info
}

// build creates a VPC with two subnets, n instances (one reservation each,
// so moto paginates them), a free-standing interface and one in another
// VPC that must not appear. prefix makes Name tags distinguishable.
func build(t *testing.T, c *ec2.Client, n int, prefix string) world {
	t.Helper()
	ctx := context.Background()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("moto: %s: %v", what, err)
		}
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	must(err, "create VPC")
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	var subnets []string
	for i, cidr := range []string{"10.20.1.0/24", "10.20.2.0/24"} {
		s, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpcID, CidrBlock: aws.String(cidr)})
		must(err, fmt.Sprintf("create subnet %d", i))
		subnets = append(subnets, aws.ToString(s.Subnet.SubnetId))
	}
	w := world{vpc: vpcID, want: map[netip.Addr]enrich.Info{}}
	for i := range n {
		tg := []types.Tag{
			{Key: aws.String("Name"), Value: aws.String(fmt.Sprintf("%s-%02d", prefix, i))},
			{Key: aws.String("Owner"), Value: aws.String(fmt.Sprintf("team-%d", i%3))},
		}
		if i%2 == 0 {
			tg = append(tg, types.Tag{Key: aws.String(enrich.ASGTag), Value: aws.String(prefix + "-asg")})
		}
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId:          &subnets[i%2],
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tg}},
		})
		must(err, "run instance")
		in := out.Instances[0]
		ni := in.NetworkInterfaces[0]
		info := enrich.Info{
			InstanceID: aws.ToString(in.InstanceId), Name: fmt.Sprintf("%s-%02d", prefix, i),
			Owner: fmt.Sprintf("team-%d", i%3), ENI: aws.ToString(ni.NetworkInterfaceId),
			InterfaceType: aws.ToString(ni.InterfaceType), Description: aws.ToString(ni.Description),
		}
		if i%2 == 0 {
			info.ASG = prefix + "-asg"
		}
		w.want[netip.MustParseAddr(aws.ToString(in.PrivateIpAddress))] = info
	}
	// An interface with no instance, as a load balancer or endpoint has.
	// Its address is explicit: moto picks random ones that can collide
	// with the instances' sequential ones.
	eni, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: &subnets[1], PrivateIpAddress: aws.String("10.20.2.250"),
		Description:   aws.String("ELB net/" + prefix + "-nlb/0123"),
		InterfaceType: types.NetworkInterfaceCreationTypeTrunk,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface,
			Tags: []types.Tag{{Key: aws.String("Owner"), Value: aws.String("netops")}}}},
	})
	must(err, "create network interface")
	ne := eni.NetworkInterface
	w.want[netip.MustParseAddr(aws.ToString(ne.PrivateIpAddress))] = enrich.Info{
		ENI: aws.ToString(ne.NetworkInterfaceId), InterfaceType: string(ne.InterfaceType),
		Description: "ELB net/" + prefix + "-nlb/0123", Owner: "netops",
	}
	// A NAT gateway's interface, as moto models it.
	alloc, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	must(err, "allocate address")
	nat, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: &subnets[0], AllocationId: alloc.AllocationId})
	must(err, "create NAT gateway")
	if len(nat.NatGateway.NatGatewayAddresses) == 1 {
		natENI := aws.ToString(nat.NatGateway.NatGatewayAddresses[0].NetworkInterfaceId)
		d, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{natENI}})
		must(err, "describe NAT gateway interface")
		if len(d.NetworkInterfaces) == 1 {
			n := d.NetworkInterfaces[0]
			w.want[netip.MustParseAddr(aws.ToString(n.PrivateIpAddress))] = enrich.Info{
				ENI: natENI, InterfaceType: string(n.InterfaceType), Description: aws.ToString(n.Description)}
			t.Logf("moto's NAT gateway interface: type %q, description %q, address %s",
				n.InterfaceType, aws.ToString(n.Description), aws.ToString(n.PrivateIpAddress))
		}
	}
	// Another VPC's instance must not be listed.
	other, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.99.0.0/16")})
	must(err, "create other VPC")
	os, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: other.Vpc.VpcId, CidrBlock: aws.String("10.99.1.0/24")})
	must(err, "create other subnet")
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: os.Subnet.SubnetId,
	})
	must(err, "run instance in other VPC")
	w.want[netip.MustParseAddr(aws.ToString(out.Instances[0].PrivateIpAddress))] = enrich.Info{}
	return w
}

func (w world) check(t *testing.T, e *enrich.Enricher) {
	t.Helper()
	for ip, want := range w.want {
		got, ok := e.Lookup(ip)
		if ok != !want.IsZero() {
			t.Errorf("Lookup(%s) ok = %v, want %v", ip, ok, !want.IsZero())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup(%s) (-want +got):\n%s", ip, diff)
		}
	}
}

func TestMotoResolvesOutageAndRestart(t *testing.T) {
	s := mototest.Start(t)
	// The Enricher's client makes one attempt per call: the SDK's own
	// retries would only slow the outage down; the Enricher's backoff is
	// what is under test. The test's own setup keeps the SDK's retries: a
	// one-attempt client fails on the read the SDK retries when moto closes
	// a connection under it ("use of closed network connection",
	// aws-sdk-go-v2#2737), about one run in 17.
	oneAttempt := func(o *ec2.Options) { o.RetryMaxAttempts = 1 }
	client := ec2.NewFromConfig(s.Config(t), oneAttempt)
	w := build(t, ec2.NewFromConfig(s.Config(t)), 12, "web")

	api := &countingEC2{api: client}
	var logs bytes.Buffer
	reg := prometheus.NewPedanticRegistry()
	wt := newWaiter()
	e, err := enrich.New(api, enrich.Config{
		VPCID: w.vpc, PageSize: 5, Interval: time.Minute, RetryMin: time.Second, Jitter: -1, Wait: wt.Wait,
		RefreshTimeout: 20 * time.Second,
	}, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	wt.next(t)
	w.check(t, e)
	// moto pages DescribeInstances by reservation: 12 at 5 a page is 3
	// pages. It does not page DescribeNetworkInterfaces (one call).
	if got := api.get("DescribeInstances"); got < 3 {
		t.Errorf("DescribeInstances called %d times, want ≥ 3 pages", got)
	}
	t.Logf("moto served DescribeInstances in %d pages, DescribeNetworkInterfaces in %d",
		api.get("DescribeInstances"), api.get("DescribeNetworkInterfaces"))

	// Outage: the old snapshot stays, failures are counted.
	s.Stop()
	for range 2 {
		wt.release <- struct{}{}
		wt.next(t)
	}
	w.check(t, e)
	if got := refreshes(t, reg, "error"); got != 2 {
		t.Errorf("failed refreshes = %v, want 2", got)
	}
	if n := strings.Count(logs.String(), "refresh failed"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}

	// Restart: moto comes back empty; recreate and recover.
	s.Restart(t)
	client2 := ec2.NewFromConfig(s.Config(t), oneAttempt)
	w2 := build(t, ec2.NewFromConfig(s.Config(t)), 3, "api")
	if w2.vpc != w.vpc {
		// A fresh moto issues new IDs; the Enricher keeps its
		// configured VPC ID, so translate it to the recreated one.
		t.Logf("moto gave the recreated VPC a new ID %s (was %s)", w2.vpc, w.vpc)
		api.api = &vpcRewrite{api: client2, from: w.vpc, to: w2.vpc}
	} else {
		api.api = client2
	}
	wt.release <- struct{}{}
	wt.next(t)
	w2.check(t, e)
	if !strings.Contains(logs.String(), "recovered") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %+v", err, problems)
	}
}

// vpcRewrite answers for one VPC ID with another's resources: after a
// restart moto issues new IDs, while the Enricher keeps its configured VPC.
type vpcRewrite struct {
	api      enrich.EC2API
	from, to string
}

func (v *vpcRewrite) fix(fs []types.Filter) []types.Filter {
	out := make([]types.Filter, len(fs))
	for i, f := range fs {
		f.Values = append([]string(nil), f.Values...)
		for j, val := range f.Values {
			if val == v.from {
				f.Values[j] = v.to
			}
		}
		out[i] = f
	}
	return out
}

func (v *vpcRewrite) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	cp := *in
	cp.Filters = v.fix(in.Filters)
	return v.api.DescribeInstances(ctx, &cp, o...)
}

func (v *vpcRewrite) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	cp := *in
	cp.Filters = v.fix(in.Filters)
	return v.api.DescribeNetworkInterfaces(ctx, &cp, o...)
}

// refreshes reads dxmon_enrich_refreshes_total{result=result} from reg.
func refreshes(t *testing.T, reg prometheus.Gatherer, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dxmon_enrich_refreshes_total" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no dxmon_enrich_refreshes_total{result=%q}", result)
	return 0
}
