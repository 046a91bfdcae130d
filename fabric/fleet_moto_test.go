package fabric_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/report"
)

// writeProbeSummaries writes, as each running probe of project would, a
// summary of the latest windows to the fleet table.
func writeProbeSummaries(t *testing.T, cfg aws.Config, project string) {
	t.Helper()
	st, err := fleet.NewStore(dynamodb.NewFromConfig(cfg), project+"-fleet")
	if err != nil {
		t.Fatal(err)
	}
	last := time.Now().Truncate(fabric.FleetWindow)
	for _, in := range instancesByRole(t, ec2.NewFromConfig(cfg), project, "probe") {
		for i := range 3 {
			start := last.Add(-time.Duration(i) * fabric.FleetWindow)
			r := &report.Report{WindowStart: start, WindowEnd: start.Add(fabric.FleetWindow), SampleRate: 1, Packets: 1, Bytes: 100}
			if err := st.Put(context.Background(), fleet.Summarize(r, aws.ToString(in.InstanceId), 100)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestMotoFleet: stage 04 creates the fleet table (on demand, keys pk/sk,
// TTL on ttl, tagged), a DynamoDB gateway endpoint on the probes' route
// table, and the probe role's access to that table alone; a second apply
// changes nothing; verify's fleet check fails until every probe's summary
// arrives; destroy removes table and endpoint.
func TestMotoFleet(t *testing.T) {
	_, cfg, c := emulator(t)
	ctx := context.Background()
	w := makeWorld(t, cfg)
	project := w.kv["PROJECT_TAG"]
	table := project + "-fleet"
	d := newDeployer(t, w.kv, cfg, nil)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageProbes); err != nil {
		t.Fatalf("apply 01, 04: %v", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("fleet table: %v", err)
	}
	if bm := desc.Table.BillingModeSummary; bm == nil || bm.BillingMode != dbtypes.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", bm)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != fleet.AttrTTL ||
		(ttl.TimeToLiveDescription.TimeToLiveStatus != dbtypes.TimeToLiveStatusEnabled && ttl.TimeToLiveDescription.TimeToLiveStatus != dbtypes.TimeToLiveStatusEnabling) {
		t.Errorf("TTL: %+v, %v", ttl, err)
	}
	tags, err := db.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: desc.Table.TableArn})
	if err != nil || !hasTag(tags.Tags, fabric.TagProject, project) || !hasTag(tags.Tags, fabric.TagRole, "fleet") {
		t.Errorf("table tags %+v, %v", tags, err)
	}

	ec := ec2.NewFromConfig(cfg)
	eps, err := ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{project + "-dynamodb-endpoint"}}}})
	if err != nil || len(eps.VpcEndpoints) != 1 {
		t.Fatalf("dynamodb endpoint: %+v, %v", eps, err)
	}
	ep := eps.VpcEndpoints[0]
	if ep.VpcEndpointType != ec2types.VpcEndpointTypeGateway || aws.ToString(ep.ServiceName) != "com.amazonaws.us-east-1.dynamodb" || len(ep.RouteTableIds) == 0 {
		t.Errorf("endpoint %s: type %s service %s route tables %v; want a gateway to DynamoDB on the probes' route tables",
			aws.ToString(ep.VpcEndpointId), ep.VpcEndpointType, aws.ToString(ep.ServiceName), ep.RouteTableIds)
	}

	pol, err := iam.NewFromConfig(cfg).GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(project + "-probe-role"), PolicyName: aws.String(project + "-probe-policy")})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := url.QueryUnescape(aws.ToString(pol.PolicyDocument)) // IAM returns it URL-encoded
	for _, want := range []string{"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", aws.ToString(desc.Table.TableArn)} {
		if !strings.Contains(doc, want) {
			t.Errorf("probe policy lacks %s:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "dynamodb:*") || strings.Contains(doc, "table/*") {
		t.Errorf("probe policy reaches beyond its table:\n%s", doc)
	}

	c.reset(0, false)
	if err := d.Apply(ctx, fabric.StageSecurity, fabric.StageProbes); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if m := c.list(); len(m) != 0 {
		t.Errorf("second apply made mutating calls %v", m)
	}

	checks, err := d.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probe := instancesByRole(t, ec, project, "probe")[0]
	if f := checkNamed(checks, "fleet"); f.Name != "fleet" || f.OK || !strings.Contains(f.String(), aws.ToString(probe.InstanceId)) {
		t.Errorf("fleet check with no summaries: %v", f)
	}
	writeProbeSummaries(t, cfg, project)
	checks, err = d.Verify(ctx)
	if f := checkNamed(checks, "fleet"); err != nil || !f.OK {
		t.Errorf("fleet check with every probe's summaries: %v, %v", f, err)
	}

	if err := d.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Errorf("table %s left after destroy", table)
	}
	eps, err = ec.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{aws.ToString(ep.VpcEndpointId)}})
	// Deleting is gone as far as the deployment goes: AWS takes the
	// endpoint through "deleting" to "deleted" by itself.
	if err == nil && len(eps.VpcEndpoints) > 0 && eps.VpcEndpoints[0].State != "deleted" && eps.VpcEndpoints[0].State != "deleting" {
		t.Errorf("endpoint %s left after destroy: %s", aws.ToString(ep.VpcEndpointId), eps.VpcEndpoints[0].State)
	}
}

func hasTag(tags []dbtypes.Tag, k, v string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == k && aws.ToString(t.Value) == v {
			return true
		}
	}
	return false
}

// checkNamed is the check of verify called name, or a zero Check.
func checkNamed(checks fabric.Checks, name string) fabric.Check {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return fabric.Check{}
}
