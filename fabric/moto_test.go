package fabric_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/middleware"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/internal/mototest"
)

// counter records the AWS operations of a run and can interrupt one.
type counter struct {
	mu        sync.Mutex
	mutations []string
	// failAt, when > 0, makes the failAt-th mutating call fail: before it
	// reaches AWS, or after AWS answered when afterCall is set.
	failAt    int
	afterCall bool
}

var errInterrupted = errors.New("test: interrupted")

// mutating reports whether an operation changes AWS.
func mutating(op string) bool {
	for _, p := range []string{"Describe", "Get", "List", "Head"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}

func (c *counter) reset(failAt int, after bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mutations, c.failAt, c.afterCall = nil, failAt, after
}

func (c *counter) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.mutations...)
}

func (c *counter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("dxmon-test-counter",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := middleware.GetOperationName(ctx)
				if !mutating(op) {
					return next.HandleInitialize(ctx, in)
				}
				c.mu.Lock()
				c.mutations = append(c.mutations, op)
				n, failAt, after := len(c.mutations), c.failAt, c.afterCall
				c.mu.Unlock()
				if n == failAt && !after {
					return middleware.InitializeOutput{}, middleware.Metadata{}, errInterrupted
				}
				out, md, err := next.HandleInitialize(ctx, in)
				if n == failAt && err == nil {
					err = errInterrupted
				}
				return out, md, err
			}), middleware.Before)
	})
}

// world is a VPC like a customer's: two AZs, each with a workload, a GWLB
// endpoint and a business subnet, and a VGW attached.
type world struct {
	kv       map[string]string
	business map[string]string // CIDR → subnet ID
}

func makeWorld(t *testing.T, cfg aws.Config) world {
	t.Helper()
	ctx := context.Background()
	ec := ec2.NewFromConfig(cfg)
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("create VPC: %v", err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	sub := func(cidr, az string) string {
		out, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatalf("create subnet %s: %v", cidr, err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	w := world{business: map[string]string{}}
	wa, wb := sub("10.0.1.0/24", "us-east-1a"), sub("10.0.2.0/24", "us-east-1b")
	ga, gb := sub("10.0.11.0/24", "us-east-1a"), sub("10.0.12.0/24", "us-east-1b")
	w.business["10.0.21.0/24"] = sub("10.0.21.0/24", "us-east-1a")
	w.business["10.0.22.0/24"] = sub("10.0.22.0/24", "us-east-1b")
	vgw, err := ec.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1})
	if err != nil {
		t.Fatalf("create VGW: %v", err)
	}
	vgwID := aws.ToString(vgw.VpnGateway.VpnGatewayId)
	if _, err := ec.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(vpcID), VpnGatewayId: aws.String(vgwID)}); err != nil {
		t.Fatalf("attach VGW: %v", err)
	}
	dir := t.TempDir()
	bin, unit := filepath.Join(dir, "dxprobe"), filepath.Join(dir, "dxprobe.service")
	if err := os.WriteFile(bin, []byte("\x7fELF fake dxprobe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/usr/local/bin/dxprobe -metrics :9100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.kv = map[string]string{
		"AWS_REGION": mototest.Region, "VPC_ID": vpcID, "VPC_CIDR": "10.0.0.0/16", "VGW_ID": vgwID,
		"ONPREM_CIDRS": "172.16.0.0/12,192.168.0.0/16", "WORKLOAD_SUBNETS": wa + "," + wb, "GWLBE_SUBNETS": ga + " " + gb,
		"BUSINESS_SUBNET_CIDRS": "10.0.21.0/24,10.0.22.0/24", "ADMIN_CIDR": "203.0.113.0/24", "PROJECT_TAG": "dxtest",
		"PROBE_BINARY": bin, "PROBE_UNIT": unit,
	}
	return w
}

// emulator starts moto behind the mirror proxy and returns a configuration
// whose calls the counter sees.
func emulator(t *testing.T) (*mototest.Server, *mototest.MirrorProxy, aws.Config, *counter) {
	s := mototest.Start(t)
	p := mototest.StartMirrorProxy(t, s)
	t.Setenv("AWS_ENDPOINT_URL", p.URL)
	cfg := p.Config(t)
	c := &counter{}
	c.install(&cfg)
	return s, p, cfg, c
}

func newDeployer(t *testing.T, kv map[string]string, cfg aws.Config, events *[]fabric.Event) *fabric.Deployer {
	t.Helper()
	conf, err := fabric.ParseConfig(kv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var mu sync.Mutex
	d, err := fabric.New(conf, fabric.NewClients(cfg), fabric.Options{
		PollInterval: 5 * time.Millisecond, WaitTimeout: 30 * time.Second,
		Observer: func(e fabric.Event) {
			if events != nil {
				mu.Lock()
				*events = append(*events, e)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("new deployer: %v", err)
	}
	return d
}

func countActions(events []fabric.Event) map[fabric.Action]int {
	m := map[fabric.Action]int{}
	for _, e := range events {
		m[e.Action]++
	}
	return m
}

func TestMotoEndToEnd(t *testing.T) {
	_, proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)

	var events []fabric.Event
	d := newDeployer(t, w.kv, cfg, &events)

	calls.reset(0, false)
	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	if n := countActions(plan)[fabric.Create]; n < 20 {
		t.Fatalf("plan lists %d creations, want every resource: %v", n, plan)
	}

	events = nil
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, e := range events {
		t.Log(e)
	}

	// Verify: the traffic stage needs the NLB to have processed packets,
	// which the test records in CloudWatch as AWS would.
	checks, err := d.Verify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("verify before traffic:\n%v", checks)
	if checks.OK() || checks[4].OK {
		t.Fatalf("verify passed with no traffic through the NLB: %v", checks)
	}
	putNLBTraffic(t, cfg, nlbDimension(t, d, cfg), time.Now())
	checks, err = d.Verify(ctx)
	if err != nil || !checks.OK() {
		t.Fatalf("verify after apply: %v\n%v", err, checks)
	}
	for _, c := range checks {
		t.Log(c)
	}

	// Apply again: nothing to create, no mutating call.
	calls.reset(0, false)
	events = nil
	if err := d.Apply(ctx); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("second apply made mutating calls: %v", m)
	}
	if a := countActions(events); a[fabric.Created]+a[fabric.Changed]+a[fabric.Deleted] != 0 {
		t.Fatalf("second apply changed things: %v", events)
	}
	_ = proxy
}

func nlbDimension(t *testing.T, d *fabric.Deployer, cfg aws.Config) string {
	t.Helper()
	out, err := elb.NewFromConfig(cfg).DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{Names: []string{d.Config().ProjectTag + "-nlb"}})
	if err != nil || len(out.LoadBalancers) != 1 {
		t.Fatalf("find NLB: %v", err)
	}
	return fabric.NLBDimension(aws.ToString(out.LoadBalancers[0].LoadBalancerArn))
}

// putNLBTraffic records, as AWS would, that the probe NLB processed packets.
func putNLBTraffic(t *testing.T, cfg aws.Config, dim string, at time.Time) {
	t.Helper()
	_, err := cloudwatch.NewFromConfig(cfg).PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
		Namespace: aws.String("AWS/NetworkELB"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("ProcessedPackets"), Value: aws.Float64(1e6), Timestamp: aws.Time(at),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(dim)}}}},
	})
	if err != nil {
		t.Fatalf("put metric: %v", err)
	}
}
