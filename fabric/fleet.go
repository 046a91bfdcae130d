package fabric

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/dxmon/dxmon/fleet"
)

// The fleet view (package fleet): a DynamoDB table the probes share, a
// gateway VPC endpoint for DynamoDB on the probes' route tables (they sit in
// private subnets), the probe role's access to that table alone, and
// PROBE_FLEET_TABLE in dxprobe.env. All of it is part of stage 04; destroy
// removes the table and the endpoint with the rest.
//
// A gateway endpoint adds a route to DynamoDB's prefix list to each route
// table it is associated with ("Gateway endpoints for Amazon DynamoDB",
// Amazon VPC User Guide: "There is no additional charge for using gateway
// endpoints"). The table is on-demand (PAY_PER_REQUEST) with TTL on ttl;
// UpdateTimeToLive "can take up to one hour … Any additional
// UpdateTimeToLive calls for the same table during this one hour duration
// result in a ValidationException" (API Reference), so a status of
// ENABLING counts as done.

func (d *Deployer) fleetEndpointName() string { return d.name("dynamodb-endpoint") }

// fleetTable is PROBE_FLEET_TABLE, by default <PROJECT_TAG>-fleet.
func (d *Deployer) fleetTable() string {
	if d.cfg.FleetTable != "" {
		return d.cfg.FleetTable
	}
	return d.name("fleet")
}

// FleetTable is the fleet table's name: PROBE_FLEET_TABLE, by default
// <PROJECT_TAG>-fleet.
func (d *Deployer) FleetTable() string { return d.fleetTable() }

// FleetTableARN is the fleet table's ARN in account.
func (d *Deployer) FleetTableARN(account string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", d.cfg.Region, account, d.fleetTable())
}

// fleetActions are what a probe does to its table (package fleet's API).
var fleetActions = []string{"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}

func (d *Deployer) dbTags(name, role string) []dbtypes.Tag {
	var out []dbtypes.Tag
	for _, t := range d.tags(name, role) {
		out = append(out, dbtypes.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

// ownedTable reports whether the table at arn carries this project's tag.
func (d *Deployer) ownedTable(ctx context.Context, arn string) (bool, error) {
	var next *string
	for {
		out, err := d.c.DynamoDB.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String(arn), NextToken: next})
		if err != nil {
			return false, err
		}
		for _, t := range out.Tags {
			if aws.ToString(t.Key) == TagProject && aws.ToString(t.Value) == d.cfg.ProjectTag {
				return true, nil
			}
		}
		if next = out.NextToken; next == nil {
			return false, nil
		}
	}
}

// findFleetTable returns the table's ARN and status, "" when it does not
// exist; a table of that name without the project tag is an error.
func (d *Deployer) findFleetTable(ctx context.Context) (arn string, status dbtypes.TableStatus, err error) {
	out, err := d.c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.fleetTable())})
	if isNotFound(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	arn, status = aws.ToString(out.Table.TableArn), out.Table.TableStatus
	if status == dbtypes.TableStatusDeleting {
		return "", "", fmt.Errorf("table %s is being deleted; run again when it is gone", d.fleetTable())
	}
	own, err := d.ownedTable(ctx, arn)
	if err != nil {
		return "", "", err
	}
	if !own {
		return "", "", fmt.Errorf("table %s exists without tag %s=%s: not adopting it (set PROBE_FLEET_TABLE to another name)", d.fleetTable(), TagProject, d.cfg.ProjectTag)
	}
	if !fleetKeySchema(out.Table.KeySchema) {
		return "", "", fmt.Errorf("table %s: key schema %v, want pk (HASH) and sk (RANGE)", d.fleetTable(), out.Table.KeySchema)
	}
	return arn, status, nil
}

func fleetKeySchema(ks []dbtypes.KeySchemaElement) bool {
	return len(ks) == 2 && slices.ContainsFunc(ks, func(k dbtypes.KeySchemaElement) bool {
		return aws.ToString(k.AttributeName) == fleet.AttrPK && k.KeyType == dbtypes.KeyTypeHash
	}) && slices.ContainsFunc(ks, func(k dbtypes.KeySchemaElement) bool {
		return aws.ToString(k.AttributeName) == fleet.AttrSK && k.KeyType == dbtypes.KeyTypeRange
	})
}

// stageFleet is stage 04's fleet part: the table with TTL, and the
// DynamoDB gateway endpoint on the probes' route tables.
func (r *run) stageFleet(ctx context.Context) error {
	d := r.d
	name := d.fleetTable()
	arn, err := r.ensureWith(ctx, "fleet-table", name, "on-demand, keys pk/sk, TTL on ttl", func(ctx context.Context) (string, error) {
		arn, _, err := d.findFleetTable(ctx)
		return arn, err
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.DynamoDB.CreateTable(ctx, fleet.TableInput(name, d.dbTags(name, "fleet")))
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TableDescription.TableArn), nil
	})
	if err != nil {
		return err
	}
	if isPlanned(arn) {
		arn = "" // a plan's table to create: its TTL comes with it
	}
	if arn != "" && !r.plan {
		if err := r.poll(ctx, "fleet-table", name, "table "+name+" active", func(ctx context.Context) (bool, error) {
			_, status, err := d.findFleetTable(ctx)
			return status == dbtypes.TableStatusActive, err
		}); err != nil {
			return r.fail("fleet-table", name, err)
		}
	}
	if arn != "" {
		ttl, err := d.c.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil {
			return r.fail("fleet-table-ttl", name, err)
		}
		var status dbtypes.TimeToLiveStatus
		var attr string
		if t := ttl.TimeToLiveDescription; t != nil {
			status, attr = t.TimeToLiveStatus, aws.ToString(t.AttributeName)
		}
		switch {
		case (status == dbtypes.TimeToLiveStatusEnabled || status == dbtypes.TimeToLiveStatusEnabling) && attr == fleet.AttrTTL:
			r.event("fleet-table-ttl", name, arn, Exists, "TTL on "+fleet.AttrTTL)
		case status == dbtypes.TimeToLiveStatusEnabled || status == dbtypes.TimeToLiveStatusEnabling:
			r.event("fleet-table-ttl", name, arn, Warning, "TTL is on attribute "+attr+", not "+fleet.AttrTTL+"; summaries will not expire (AWS allows one change an hour: change it by hand)")
		default:
			if err := r.change(ctx, "fleet-table-ttl", name, arn, "turn on TTL on "+fleet.AttrTTL, func(ctx context.Context) error {
				_, err := d.c.DynamoDB.UpdateTimeToLive(ctx, fleet.TTLInput(name))
				return err
			}); err != nil {
				return err
			}
		}
	}
	return r.ensureFleetEndpoint(ctx)
}

// probeRouteTables returns the route tables the probes' subnets use: each
// subnet's explicitly associated table, else the VPC's main table (a pure
// function of DescribeRouteTables' answer).
func probeRouteTables(rts []ec2types.RouteTable, subnets []string) []string {
	var main string
	explicit := map[string]string{}
	for _, t := range rts {
		for _, a := range t.Associations {
			switch {
			case aws.ToBool(a.Main):
				main = aws.ToString(t.RouteTableId)
			case a.SubnetId != nil:
				explicit[aws.ToString(a.SubnetId)] = aws.ToString(t.RouteTableId)
			}
		}
	}
	var out []string
	for _, s := range subnets {
		id := explicit[s]
		if id == "" {
			id = main
		}
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (d *Deployer) fleetEndpoint(ctx context.Context) (*ec2types.VpcEndpoint, error) {
	out, err := d.c.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: d.byName(d.fleetEndpointName())})
	if err != nil {
		return nil, err
	}
	for _, e := range out.VpcEndpoints {
		if d.owns(e.Tags, d.fleetEndpointName()) && endpointLive(e) {
			return &e, nil
		}
	}
	return nil, nil
}

func (r *run) ensureFleetEndpoint(ctx context.Context) error {
	d := r.d
	name := d.fleetEndpointName()
	var subnets []string
	for _, w := range r.env.workload {
		subnets = append(subnets, w.subnet)
	}
	var rts []ec2types.RouteTable
	p := ec2.NewDescribeRouteTablesPaginator(d.c.EC2, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return r.fail("dynamodb-endpoint", name, fmt.Errorf("route tables of the probes' subnets: %w", err))
		}
		rts = append(rts, page.RouteTables...)
	}
	want := probeRouteTables(rts, subnets)
	var have []string
	id, err := r.ensureWith(ctx, "dynamodb-endpoint", name, fmt.Sprintf("gateway, route tables %v", want), func(ctx context.Context) (string, error) {
		e, err := d.fleetEndpoint(ctx)
		if err != nil || e == nil {
			return "", err
		}
		have = e.RouteTableIds
		return aws.ToString(e.VpcEndpointId), nil
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcEndpointType: ec2types.VpcEndpointTypeGateway, VpcId: aws.String(d.cfg.VPCID),
			ServiceName: aws.String("com.amazonaws." + d.cfg.Region + ".dynamodb"), RouteTableIds: want,
			ClientToken: clientToken(), TagSpecifications: d.tagSpec(ec2types.ResourceTypeVpcEndpoint, name, "dynamodb-endpoint")})
		if err != nil {
			return "", err
		}
		have = want
		return aws.ToString(out.VpcEndpoint.VpcEndpointId), nil
	})
	if err != nil || id == "" || isPlanned(id) {
		return err
	}
	var missing []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return r.change(ctx, "dynamodb-endpoint", name, id, fmt.Sprintf("add route tables %v", missing), func(ctx context.Context) error {
		_, err := d.c.EC2.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: aws.String(id), AddRouteTableIds: missing})
		return err
	})
}

// destroyFleet deletes the DynamoDB endpoint(s) and the fleet table that
// carry this project's tag.
func (r *run) destroyFleet(ctx context.Context) error {
	d := r.d
	out, err := d.c.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: d.byRole("dynamodb-endpoint")})
	if err != nil {
		return r.fail("dynamodb-endpoint", "*", err)
	}
	deleted := 0
	for _, e := range out.VpcEndpoints {
		eid := aws.ToString(e.VpcEndpointId)
		// The role checked again: a Describe that ignored the tag filter
		// (as the emulator may) returns the GWLB endpoints too.
		if !d.owns(e.Tags, "") || tagValue(e.Tags, TagRole) != "dynamodb-endpoint" || !endpointLive(e) {
			continue
		}
		if err := r.remove(ctx, "dynamodb-endpoint", tagValue(e.Tags, TagName), eid, func(ctx context.Context) error {
			_, err := d.c.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{eid}})
			return err
		}); err != nil {
			return err
		}
		deleted++
	}
	// Gone, not deleting, before destroy says it is done (AWS takes an
	// endpoint through "deleting"; an interrupted destroy may leave one).
	if err := r.waitEndpointsGone(ctx, "dynamodb-endpoint", "dynamodb-endpoint", deleted); err != nil {
		return err
	}
	name := d.fleetTable()
	arn, _, err := d.findFleetTable(ctx)
	if err != nil {
		r.event("fleet-table", name, "", Warning, err.Error())
		return nil
	}
	return r.remove(ctx, "fleet-table", name, arn, func(ctx context.Context) error {
		_, err := d.c.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		return err
	})
}

// readOnly is the fleet.API of verify, which reads and never writes.
type readOnly struct{ DynamoDBAPI }

func (readOnly) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("fabric: verify writes no item")
}

func (readOnly) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("fabric: verify writes no item")
}

// FleetVerifyWindows is how many of the latest windows verify reads for
// every probe's summary, and FleetWindow their length (dxprobe's default
// -window).
const (
	FleetVerifyWindows = 6
	FleetWindow        = 5 * time.Second
)

// checkFleet is verify's fleet check: the table exists and every running
// probe instance wrote a summary to one of the latest windows (a window
// is read FleetWindow after its end plus a second, as the probes do).
func (r *run) checkFleet(ctx context.Context) Check {
	d := r.d
	c := &checker{Check: Check{Name: "fleet"}}
	arn, _, err := d.findFleetTable(ctx)
	if !c.found("fleet table "+d.fleetTable(), arn, err) {
		return c.done()
	}
	probes, err := d.findInstances(ctx, "probe", "")
	if err != nil || len(probes) == 0 {
		c.found("probe instances", "", err)
		return c.done()
	}
	st, err := fleet.NewStore(readOnly{d.c.DynamoDB}, d.fleetTable())
	if err != nil {
		c.problem("%v", err)
		return c.done()
	}
	seen := map[string]bool{}
	last := time.Now().Add(-FleetWindow - time.Second).Truncate(FleetWindow)
	for i := range FleetVerifyWindows {
		start := last.Add(-time.Duration(i) * FleetWindow)
		sums, _, err := st.Window(ctx, start, start.Add(FleetWindow))
		if err != nil {
			c.problem("%v", err)
			return c.done()
		}
		for _, s := range sums {
			seen[s.Probe] = true
		}
	}
	n := 0
	for _, p := range probes {
		id := aws.ToString(p.InstanceId)
		if p.State == nil || p.State.Name != ec2types.InstanceStateNameRunning {
			continue
		}
		n++
		if !seen[id] {
			c.problem("probe %s wrote no summary to %s in the last %d windows of %v", id, d.fleetTable(), FleetVerifyWindows, FleetWindow)
		}
	}
	c.Detail = fmt.Sprintf("%d/%d probes' summaries in the last %v", n-len(c.Problems), n, FleetVerifyWindows*FleetWindow)
	return c.done()
}
