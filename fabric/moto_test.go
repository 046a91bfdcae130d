package fabric_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	dxiam "github.com/dxmon/dxmon/deploy/iam"
	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fabric/fabrictest"
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
	// seq is every operation made, mutating or not, in order, as
	// "service:Op" with the SDK's service ID.
	seq []string
}

// sequence returns the operations made since the first n (see seq).
func (c *counter) sequence(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.seq[min(n, len(c.seq)):]...)
}

// ops returns the distinct operations made (see seq).
func (c *counter) ops() map[string]bool {
	set := map[string]bool{}
	for _, op := range c.sequence(0) {
		set[op] = true
	}
	return set
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
				c.mu.Lock()
				c.seq = append(c.seq, middleware.GetServiceID(ctx)+":"+op)
				c.mu.Unlock()
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

type world struct{ kv map[string]string }

func makeWorld(t *testing.T, cfg aws.Config) world { return world{kv: fabrictest.World(t, cfg)} }

// emulator runs the test in parallel with the package's other moto tests
// (every test has an account of its own, so none waits for another) and
// gives it an AWS account as account does. A test calls it once, first;
// further accounts in the same test come from account.
func emulator(t *testing.T) (*mototest.MirrorProxy, aws.Config, *counter) {
	t.Parallel()
	return account(t)
}

// account gives the test an AWS account of its own on one of the test
// binary's shared moto_servers, behind the mirror proxy, and returns a
// configuration whose calls the counter sees. The server is shared: no
// test may reset, stop or restart it.
func account(t *testing.T) (*mototest.MirrorProxy, aws.Config, *counter) {
	p := mototest.SharedProxy(t)
	cfg := p.Config(t)
	c := &counter{}
	c.install(&cfg)
	return p, cfg, c
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
	proxy, cfg, calls := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)

	var events []fabric.Event
	d := newDeployer(t, w.kv, cfg, &events)

	// One stage alone names the prerequisite it lacks, and touches nothing.
	calls.reset(0, false)
	err := d.Apply(ctx, fabric.StageNLB)
	if err == nil || !strings.Contains(err.Error(), "stage 05: missing prerequisite probe-instance dxtest-probe-us-east-1a (run stage 04 first)") {
		t.Fatalf("apply -stage 05 first: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("apply -stage 05 without prerequisites made mutating calls: %v", m)
	}

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
	putMetric(t, cfg, "AWS/NetworkELB", "ProcessedPackets", "LoadBalancer", nlbDimension(t, d, cfg), 1e6)
	writeProbeSummaries(t, cfg, "dxtest") // as the running probes would (fleet)
	checks, err = d.Verify(ctx)
	if err != nil || !checks.OK() {
		t.Fatalf("verify after apply: %v\n%v", err, checks)
	}
	for _, c := range checks {
		t.Log(c)
	}
	checkProbePages(t, cfg, checks[3])

	// Packets the appliances matched but AWS did not mirror fail the mirror
	// stage, naming the instance.
	apps := instancesByRole(t, ec2.NewFromConfig(cfg), "dxtest", "appliance")
	putMetric(t, cfg, "AWS/EC2", "NetworkPacketsSkipMirrorIn", "InstanceId", aws.ToString(apps[0].InstanceId), 42)
	checks, err = d.Verify(ctx)
	if err != nil || checks.OK() || checks[2].OK || !strings.Contains(checks[2].String(), aws.ToString(apps[0].InstanceId)) ||
		!strings.Contains(checks[2].String(), "42 packets not mirrored") {
		t.Fatalf("verify with skipped mirror packets: %v\n%v", err, checks)
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

	// ENI lifecycle: an appliance gains ENI x; then gains y and loses x.
	ec := ec2.NewFromConfig(cfg)
	x := attachENI(t, ec, apps[0], w.kv["WORKLOAD_SUBNETS"], 1)
	res, err := d.SyncENIs(ctx)
	if err != nil {
		t.Fatalf("sync after adding %s: %v", x.eni, err)
	}
	if diff := cmp.Diff(fabric.SyncResult{Created: []string{x.eni}}, res, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("sync after adding %s (-want +got):\n%s", x.eni, diff)
	}
	y := attachENI(t, ec, apps[1], w.kv["WORKLOAD_SUBNETS"], 1)
	x.remove(t, ec)
	calls.reset(0, false)
	res, err = d.SyncENIs(ctx)
	if err != nil {
		t.Fatalf("sync after adding %s and removing %s: %v", y.eni, x.eni, err)
	}
	if diff := cmp.Diff(fabric.SyncResult{Created: []string{y.eni}, Deleted: []string{x.eni}}, res, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("sync after adding %s and removing %s (-want +got):\n%s", y.eni, x.eni, diff)
	}
	if diff := cmp.Diff([]string{"CreateTrafficMirrorSession", "DeleteTrafficMirrorSession"}, calls.list()); diff != "" {
		t.Fatalf("sync's mutating calls (-want +got):\n%s", diff)
	}
	if res, err = d.SyncENIs(ctx); err != nil || len(res.Created)+len(res.Deleted) != 0 {
		t.Fatalf("third sync: %+v, %v", res, err)
	}

	// An ENI that already carries 3 sessions (another tool's) is reported
	// full, and the others are still synced.
	z := attachENI(t, ec, apps[1], w.kv["WORKLOAD_SUBNETS"], 2)
	target, filter := mirrorIDs(t, ec, "dxtest")
	var foreign []string
	for n := int32(1); n <= 3; n++ {
		out, err := ec.CreateTrafficMirrorSession(ctx, &ec2.CreateTrafficMirrorSessionInput{NetworkInterfaceId: aws.String(z.eni),
			TrafficMirrorTargetId: aws.String(target), TrafficMirrorFilterId: aws.String(filter), SessionNumber: aws.Int32(n)})
		if err != nil {
			t.Fatalf("foreign session %d on %s: %v", n, z.eni, err)
		}
		foreign = append(foreign, aws.ToString(out.TrafficMirrorSession.TrafficMirrorSessionId))
	}
	res, err = d.SyncENIs(ctx)
	if !errors.Is(err, fabric.ErrENIFull) || !strings.Contains(err.Error(), "limit of 3") {
		t.Fatalf("sync with a full ENI: err = %v, want ErrENIFull naming the limit", err)
	}
	if diff := cmp.Diff(fabric.SyncResult{Full: []string{z.eni}}, res, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("sync with a full ENI (-want +got):\n%s", diff)
	}
	for _, id := range foreign {
		if _, err := ec.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	z.remove(t, ec)
	y.remove(t, ec)
	// AWS deletes an ENI's sessions with it: the next sync finds y's gone.
	if n := proxy.DeleteSessionsOf(y.eni); n != 1 {
		t.Fatalf("sessions of %s: %d, want 1", y.eni, n)
	}
	if res, err = d.SyncENIs(ctx); err != nil || len(res.Created)+len(res.Deleted) != 0 {
		t.Fatalf("sync after AWS removed %s with its sessions: %+v, %v", y.eni, res, err)
	}

	events = nil
	if err := d.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if a := countActions(events); a[fabric.Deleted] < 20 {
		t.Fatalf("destroy deleted %d resources: %v", a[fabric.Deleted], events)
	}
	if left := inventory(t, cfg, "dxtest"); len(left) != 0 {
		t.Fatalf("tagged resources left after destroy: %v", left)
	}
	calls.reset(0, false)
	if err := d.Destroy(ctx); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		t.Fatalf("second destroy made mutating calls: %v", m)
	}
	t.Logf("served by the proxy: %v", proxy.Hits())
	checkOperatorPolicy(t, calls)
}

// checkOperatorPolicy: every operation the run made (apply, verify, sync,
// destroy) is granted by deploy/iam/dxdeploy-policy.json. Test fixtures'
// own calls (the world, attaching ENIs, foreign sessions, metrics) are
// made through the same configuration and are left out by name.
func checkOperatorPolicy(t *testing.T, calls *counter) {
	t.Helper()
	var doc fabric.PolicyDocument
	if err := json.Unmarshal([]byte(dxiam.OperatorPolicy), &doc); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			granted[a] = true
		}
	}
	prefix := map[string]string{"EC2": "ec2", "Elastic Load Balancing v2": "elasticloadbalancing", "IAM": "iam", "S3": "s3",
		"SSM": "ssm", "STS": "sts", "CloudWatch": "cloudwatch", "DynamoDB": "dynamodb"}
	action := map[string]string{"s3:HeadBucket": "s3:ListBucket", "s3:ListObjectsV2": "s3:ListBucket", "s3:HeadObject": "s3:GetObject"}
	fixtures := map[string]bool{"ec2:CreateNetworkInterface": true, "ec2:AttachNetworkInterface": true, "ec2:DetachNetworkInterface": true,
		"ec2:DeleteNetworkInterface": true, "cloudwatch:PutMetricData": true, "s3:ListBuckets": true, "iam:ListRoles": true,
		"iam:ListInstanceProfiles": true, "ec2:CreateVpc": true, "ec2:CreateSubnet": true, "ec2:CreateVpnGateway": true, "ec2:AttachVpnGateway": true,
		"dynamodb:PutItem":      true, // the probes' summaries (writeProbeSummaries)
		"sts:GetCallerIdentity": true} // the last needs no permission
	ops := calls.ops()
	if len(ops) < 40 {
		t.Fatalf("recorded %d operations: %v", len(ops), ops)
	}
	for op := range ops {
		svc, name, _ := strings.Cut(op, ":")
		a := prefix[svc] + ":" + name
		if m, ok := action[a]; ok {
			a = m
		}
		if !fixtures[a] && !granted[a] {
			t.Errorf("operation %s (IAM action %s) is not in deploy/iam/dxdeploy-policy.json", op, a)
		}
	}
}

func instancesByRole(t *testing.T, ec *ec2.Client, project, role string) []ec2types.Instance {
	t.Helper()
	out, err := ec.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Project"), Values: []string{project}}, {Name: aws.String("tag:dxmon:role"), Values: []string{role}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}}})
	if err != nil {
		t.Fatalf("describe %s instances: %v", role, err)
	}
	var in []ec2types.Instance
	for _, r := range out.Reservations {
		in = append(in, r.Instances...)
	}
	sort.Slice(in, func(i, j int) bool {
		return aws.ToString(in[i].Placement.AvailabilityZone) < aws.ToString(in[j].Placement.AvailabilityZone)
	})
	return in
}

type attached struct{ eni, attachment string }

// attachENI creates an ENI in the instance's subnet and attaches it at the
// device index, as an appliance scaling its interfaces would.
func attachENI(t *testing.T, ec *ec2.Client, inst ec2types.Instance, _ string, index int32) attached {
	t.Helper()
	ctx := context.Background()
	n, err := ec.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: inst.SubnetId})
	if err != nil {
		t.Fatalf("create ENI: %v", err)
	}
	eni := aws.ToString(n.NetworkInterface.NetworkInterfaceId)
	a, err := ec.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni),
		InstanceId: inst.InstanceId, DeviceIndex: aws.Int32(index)})
	if err != nil {
		t.Fatalf("attach %s: %v", eni, err)
	}
	return attached{eni, aws.ToString(a.AttachmentId)}
}

func (a attached) remove(t *testing.T, ec *ec2.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := ec.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: aws.String(a.attachment)}); err != nil {
		t.Fatalf("detach %s: %v", a.eni, err)
	}
	if _, err := ec.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(a.eni)}); err != nil {
		t.Fatalf("delete %s: %v", a.eni, err)
	}
}

func mirrorIDs(t *testing.T, ec *ec2.Client, project string) (target, filter string) {
	t.Helper()
	ctx := context.Background()
	tf := []ec2types.Filter{{Name: aws.String("tag:Project"), Values: []string{project}}}
	tg, err := ec.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{Filters: tf})
	if err != nil || len(tg.TrafficMirrorTargets) != 1 {
		t.Fatalf("mirror targets: %v %v", tg, err)
	}
	fl, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{Filters: tf})
	if err != nil || len(fl.TrafficMirrorFilters) != 1 {
		t.Fatalf("mirror filters: %v %v", fl, err)
	}
	return aws.ToString(tg.TrafficMirrorTargets[0].TrafficMirrorTargetId), aws.ToString(fl.TrafficMirrorFilters[0].TrafficMirrorFilterId)
}

// inventory lists every resource carrying the project's tag (or, for
// IAM, S3 and load balancers, its name prefix), as "kind name" with the
// Name tag rather than IDs, so that two runs compare; a duplicate shows as
// a repeated line. Sub-resources (rules, routes, associations, targets,
// deployments) are listed too.
func inventory(t *testing.T, cfg aws.Config, project string) []string {
	t.Helper()
	ctx := context.Background()
	ec := ec2.NewFromConfig(cfg)
	lb := elb.NewFromConfig(cfg)
	tf := []ec2types.Filter{{Name: aws.String("tag:Project"), Values: []string{project}}}
	var left []string
	add := func(kind string, names ...string) {
		for _, n := range names {
			left = append(left, kind+" "+n)
		}
	}
	name := func(tags []ec2types.Tag) string {
		for _, t := range tags {
			if aws.ToString(t.Key) == "Name" {
				return aws.ToString(t.Value)
			}
		}
		return "(no name)"
	}
	must := func(err error) {
		if err != nil {
			t.Fatalf("inventory: %v", err)
		}
	}
	in, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: append(tf, ec2types.Filter{Name: aws.String("instance-state-name"),
		Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}})})
	must(err)
	for _, r := range in.Reservations {
		for _, i := range r.Instances {
			add("instance", name(i.Tags))
			for _, tg := range i.Tags {
				if aws.ToString(tg.Key) == fabric.TagProbeVersion {
					add("deployment", name(i.Tags))
				}
			}
		}
	}
	sg, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: tf})
	must(err)
	for _, g := range sg.SecurityGroups {
		add("security-group", name(g.Tags))
		for _, p := range append(append([]ec2types.IpPermission{}, g.IpPermissions...), g.IpPermissionsEgress...) {
			for _, r := range p.IpRanges {
				add("sg-rule", fmt.Sprintf("%s %s %d %s", name(g.Tags), aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToString(r.CidrIp)))
			}
		}
	}
	rt, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: tf})
	must(err)
	for _, r := range rt.RouteTables {
		add("route-table", name(r.Tags))
		for _, a := range r.Associations {
			add("association", name(r.Tags)+" "+aws.ToString(a.GatewayId))
		}
		for _, x := range r.Routes {
			add("route", name(r.Tags)+" "+aws.ToString(x.DestinationCidrBlock))
		}
	}
	ep, err := ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: tf})
	must(err)
	for _, e := range ep.VpcEndpoints {
		if !strings.EqualFold(string(e.State), "deleted") {
			add("vpc-endpoint", name(e.Tags))
		}
	}
	svc, err := ec.DescribeVpcEndpointServiceConfigurations(ctx, &ec2.DescribeVpcEndpointServiceConfigurationsInput{Filters: tf})
	must(err)
	for _, s := range svc.ServiceConfigurations {
		add("endpoint-service", name(s.Tags))
	}
	mt, err := ec.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{Filters: tf})
	must(err)
	for _, x := range mt.TrafficMirrorTargets {
		if !hasProject(x.Tags, project) {
			continue
		}
		add("mirror-target", name(x.Tags))
	}
	mf, err := ec.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{Filters: tf})
	must(err)
	for _, x := range mf.TrafficMirrorFilters {
		if !hasProject(x.Tags, project) {
			continue // moto 5.2 ignores tag filters on mirror filters
		}
		add("mirror-filter", name(x.Tags))
		rules, err := ec.DescribeTrafficMirrorFilterRules(ctx, &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: x.TrafficMirrorFilterId})
		must(err)
		for _, r := range rules.TrafficMirrorFilterRules {
			add("mirror-rule", fmt.Sprintf("%s %s %d", name(x.Tags), r.TrafficDirection, aws.ToInt32(r.RuleNumber)))
		}
	}
	ms, err := ec.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{})
	must(err)
	for _, x := range ms.TrafficMirrorSessions {
		add("mirror-session", fmt.Sprintf("%s #%d", name(x.Tags), aws.ToInt32(x.SessionNumber)))
	}
	lbs, err := lb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	must(err)
	for _, l := range lbs.LoadBalancers {
		add("load-balancer", aws.ToString(l.LoadBalancerName))
		ls, err := lb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn})
		must(err)
		for range ls.Listeners {
			add("listener", aws.ToString(l.LoadBalancerName))
		}
	}
	tgs, err := lb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	must(err)
	for _, g := range tgs.TargetGroups {
		add("target-group", aws.ToString(g.TargetGroupName))
		h, err := lb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: g.TargetGroupArn})
		must(err)
		for range h.TargetHealthDescriptions {
			add("target", aws.ToString(g.TargetGroupName))
		}
	}
	roles, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
	must(err)
	for _, r := range roles.Roles {
		if strings.HasPrefix(aws.ToString(r.RoleName), project+"-") {
			add("iam-role", aws.ToString(r.RoleName))
		}
	}
	profs, err := iam.NewFromConfig(cfg).ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{})
	must(err)
	for _, p := range profs.InstanceProfiles {
		add("instance-profile", aws.ToString(p.InstanceProfileName))
		for _, r := range p.Roles {
			add("profile-role", aws.ToString(p.InstanceProfileName)+" "+aws.ToString(r.RoleName))
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	must(err)
	for _, b := range buckets.Buckets {
		add("s3-bucket", aws.ToString(b.Name))
		objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b.Name})
		must(err)
		for _, o := range objs.Contents {
			add("s3-object", aws.ToString(o.Key))
		}
	}
	sort.Strings(left)
	return left
}

func hasProject(tags []ec2types.Tag, project string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == "Project" && aws.ToString(t.Value) == project {
			return true
		}
	}
	return false
}

func nlbDimension(t *testing.T, d *fabric.Deployer, cfg aws.Config) string {
	t.Helper()
	return fabric.NLBDimension(nlbARN(t, d, cfg))
}

func nlbARN(t *testing.T, d *fabric.Deployer, cfg aws.Config) string {
	t.Helper()
	out, err := elb.NewFromConfig(cfg).DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{Names: []string{d.Config().ProjectTag + "-nlb"}})
	if err != nil || len(out.LoadBalancers) != 1 {
		t.Fatalf("find NLB: %v", err)
	}
	return aws.ToString(out.LoadBalancers[0].LoadBalancerArn)
}

// putMetric records a data point now, as AWS would.
func putMetric(t *testing.T, cfg aws.Config, ns, metric, dim, value string, v float64) {
	t.Helper()
	_, err := cloudwatch.NewFromConfig(cfg).PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(ns),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String(metric), Value: aws.Float64(v), Timestamp: aws.Time(time.Now()),
			Dimensions: []cwtypes.Dimension{{Name: aws.String(dim), Value: aws.String(value)}}}},
	})
	if err != nil {
		t.Fatalf("put metric %s: %v", metric, err)
	}
}

var worldIDs = regexp.MustCompile(`\b(subnet|eni|vgw|vpc)-[0-9a-f]+\b`)

// artifactVersions are the content versions in S3 keys: the environment
// files hold the world's VPC ID, so two worlds give two versions.
var artifactVersions = regexp.MustCompile(`\b(dxprobe|dxappliance)/[0-9a-f]{16}/`)

// accountIDs are AWS account IDs (in the artifact bucket's name): two
// worlds may be in two accounts.
var accountIDs = regexp.MustCompile(`\b[0-9]{12}\b`)

// normalized is the inventory with the IDs that differ between two worlds
// masked.
func normalized(t *testing.T, cfg aws.Config) []string {
	inv := inventory(t, cfg, "dxtest")
	for i, l := range inv {
		l = artifactVersions.ReplaceAllString(worldIDs.ReplaceAllString(l, "$1-*"), "$1/*/")
		inv[i] = accountIDs.ReplaceAllString(l, "ACCOUNT")
	}
	sort.Strings(inv)
	return inv
}

// TestMotoInterruptedApplyConverges interrupts an apply at a mutating call
// — before the call reaches AWS, or after AWS did it but the answer was
// lost — then applies again: the result must be the same resource set as
// an uninterrupted apply, with no duplicate, and a third apply must make
// no mutating call.
//
// Which cuts: with DXMON_SWEEP=all (CI sets it), every one, each mutating
// call before and after, in parallel subtests of their own AWS accounts:
// the complete sweep, 2 × the calls of an apply (about 190 cuts, three
// applies each). Without it, the cut that once blocked the next apply
// (below), and rapid's draws.
func TestMotoInterruptedApplyConverges(t *testing.T) {
	sweep := os.Getenv("DXMON_SWEEP")
	if sweep != "" && sweep != "all" {
		t.Fatalf("DXMON_SWEEP=%q: want all, or unset", sweep)
	}
	_, cfg, calls := emulator(t)
	ctx := context.Background()
	calls.reset(0, false)
	if err := newDeployer(t, makeWorld(t, cfg).kv, cfg, nil).Apply(ctx); err != nil {
		t.Fatalf("reference apply: %v", err)
	}
	ref := calls.list()
	total := len(ref)
	want := normalized(t, cfg)
	t.Logf("an apply makes %d mutating calls and %d resources", total, len(want))

	if sweep == "all" {
		for failAt := 1; failAt <= total; failAt++ {
			for _, after := range []bool{false, true} {
				// Named by the call's number only: parallel stages may order
				// another apply's calls a little differently from ref's.
				t.Run(fmt.Sprintf("call%03d/after=%v", failAt, after), func(t *testing.T) {
					_, cfg, calls := emulator(t)
					checkInterruptedApply(t, t, cfg, calls, want, failAt, after)
				})
			}
		}
		return
	}
	// The stage 02 cut between the first appliance's install and its
	// version tag, which leaves the next apply one healthy stale appliance
	// and the others not yet installed (rapid found it).
	for i := 1; i < len(ref); i++ {
		if ref[i-1] == "SendCommand" && ref[i] == "CreateTags" {
			_, cfg, calls := account(t)
			checkInterruptedApply(t, t, cfg, calls, want, i+1, false)
			break
		}
	}
	checks := 4
	if testing.Short() {
		checks = 2
	}
	defer setRapidChecks(t, checks)()
	rapid.Check(t, func(rt *rapid.T) {
		failAt, after := rapid.IntRange(1, total).Draw(rt, "failAt"), rapid.Bool().Draw(rt, "afterCall")
		_, cfg, calls := account(t)
		checkInterruptedApply(t, rt, cfg, calls, want, failAt, after)
	})
}

// checkInterruptedApply builds a world in cfg's account, applies with the
// failAt-th mutating call interrupted (after AWS did it, with after), then
// applies again, and requires the resources want and a third apply that
// changes nothing. Failures go to rt (the test, or rapid's check); t is
// the test, for the helpers.
func checkInterruptedApply(t *testing.T, rt interface{ Fatalf(string, ...any) }, cfg aws.Config, calls *counter, want []string, failAt int, after bool) {
	ctx := context.Background()
	d := newDeployer(t, makeWorld(t, cfg).kv, cfg, nil)
	calls.reset(failAt, after)
	err := d.Apply(ctx)
	made := calls.list()
	op := "none"
	if failAt <= len(made) {
		op = made[failAt-1]
		if !errors.Is(err, errInterrupted) {
			rt.Fatalf("apply interrupted at call %d (%s): err = %v", failAt, op, err)
		}
	} else if err != nil {
		// Parallel stages make the number of calls vary a little from
		// apply to apply; this one ended before call failAt.
		rt.Fatalf("apply with %d mutating calls (< %d, so not interrupted): %v", len(made), failAt, err)
	}
	calls.reset(0, false)
	if err := d.Apply(ctx); err != nil {
		rt.Fatalf("apply after interruption at %d (%s): %v", failAt, op, err)
	}
	if diff := cmp.Diff(want, normalized(t, cfg)); diff != "" {
		rt.Fatalf("resources after interruption at %d (%s, after=%v) (-want +got):\n%s", failAt, op, after, diff)
	}
	calls.reset(0, false)
	if err := d.Apply(ctx); err != nil {
		rt.Fatalf("third apply: %v", err)
	}
	if m := calls.list(); len(m) != 0 {
		rt.Fatalf("third apply after interruption at %d (%s) made mutating calls: %v", failAt, op, m)
	}
}

// setRapidChecks sets rapid's number of checks for one test (each check
// here runs three applies against moto) and returns the restore function.
func setRapidChecks(t *testing.T, n int) func() {
	f := flag.Lookup("rapid.checks")
	if f == nil {
		t.Fatal("rapid.checks flag not registered")
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	return func() { _ = f.Value.Set(old) }
}
