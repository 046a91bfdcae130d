package fabric

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// fakeTable is a DynamoDB table of the fake cloud: what fabric sets.
type fakeTable struct {
	arn       string
	tags      []dbtypes.Tag
	keys      []dbtypes.KeySchemaElement
	ttlAttr   string
	ttlStatus dbtypes.TimeToLiveStatus
}

// fakeDynamo is the fake cloud's DynamoDB: tables, their tags and TTL,
// with AWS's errors (ResourceInUseException for a second CreateTable,
// ResourceNotFoundException for a missing table, ValidationException for
// a second UpdateTimeToLive within the hour, modelled as while ENABLING).
type fakeDynamo struct{ f *fakeCloud }

var _ DynamoDBAPI = fakeDynamo{}

func tableNotFound(name string) error {
	return &dbtypes.ResourceNotFoundException{Message: aws.String("Requested resource not found: Table: " + name + " not found")}
}

func (d fakeDynamo) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	t := d.f.tables[aws.ToString(in.TableName)]
	if t == nil {
		return nil, tableNotFound(aws.ToString(in.TableName))
	}
	return &dynamodb.DescribeTableOutput{Table: &dbtypes.TableDescription{TableName: in.TableName, TableArn: aws.String(t.arn),
		TableStatus: dbtypes.TableStatusActive, KeySchema: t.keys}}, nil
}

func (d fakeDynamo) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if err := d.f.begin("CreateTable"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.TableName)
	if d.f.tables[name] != nil {
		return nil, &dbtypes.ResourceInUseException{Message: aws.String("Table already exists: " + name)}
	}
	if in.BillingMode != dbtypes.BillingModePayPerRequest {
		return nil, fmt.Errorf("fake: table %s is not on demand", name)
	}
	t := &fakeTable{arn: "arn:aws:dynamodb:us-east-1:123456789012:table/" + name, tags: in.Tags, keys: in.KeySchema,
		ttlStatus: dbtypes.TimeToLiveStatusDisabled}
	d.f.tables[name] = t
	return &dynamodb.CreateTableOutput{TableDescription: &dbtypes.TableDescription{TableName: in.TableName, TableArn: aws.String(t.arn),
		TableStatus: dbtypes.TableStatusCreating}}, d.f.end()
}

func (d fakeDynamo) DeleteTable(_ context.Context, in *dynamodb.DeleteTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if err := d.f.begin("DeleteTable"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.TableName)
	if d.f.tables[name] == nil {
		return nil, tableNotFound(name)
	}
	delete(d.f.tables, name)
	return &dynamodb.DeleteTableOutput{}, d.f.end()
}

func (d fakeDynamo) DescribeTimeToLive(_ context.Context, in *dynamodb.DescribeTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	t := d.f.tables[aws.ToString(in.TableName)]
	if t == nil {
		return nil, tableNotFound(aws.ToString(in.TableName))
	}
	desc := &dbtypes.TimeToLiveDescription{TimeToLiveStatus: t.ttlStatus}
	if t.ttlAttr != "" {
		desc.AttributeName = aws.String(t.ttlAttr)
	}
	return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: desc}, nil
}

func (d fakeDynamo) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if err := d.f.begin("UpdateTimeToLive"); err != nil {
		return nil, err
	}
	t := d.f.tables[aws.ToString(in.TableName)]
	if t == nil {
		return nil, tableNotFound(aws.ToString(in.TableName))
	}
	if t.ttlStatus == dbtypes.TimeToLiveStatusEnabling || t.ttlStatus == dbtypes.TimeToLiveStatusEnabled {
		return nil, fmt.Errorf("fake: ValidationException: Time to live has been modified multiple times within a fixed interval")
	}
	t.ttlAttr, t.ttlStatus = aws.ToString(in.TimeToLiveSpecification.AttributeName), dbtypes.TimeToLiveStatusEnabling
	return &dynamodb.UpdateTimeToLiveOutput{TimeToLiveSpecification: in.TimeToLiveSpecification}, d.f.end()
}

func (d fakeDynamo) ListTagsOfResource(_ context.Context, in *dynamodb.ListTagsOfResourceInput, _ ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	for _, t := range d.f.tables {
		if t.arn == aws.ToString(in.ResourceArn) {
			return &dynamodb.ListTagsOfResourceOutput{Tags: t.tags}, nil
		}
	}
	return nil, tableNotFound(aws.ToString(in.ResourceArn))
}

// Query answers no summaries: the fake has no probes writing them.
func (d fakeDynamo) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil
}

func (f *fakeCloud) ModifyVpcEndpoint(_ context.Context, in *ec2.ModifyVpcEndpointInput, _ ...func(*ec2.Options)) (*ec2.ModifyVpcEndpointOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ModifyVpcEndpoint"); err != nil {
		return nil, err
	}
	e := f.endpoints[aws.ToString(in.VpcEndpointId)]
	if e == nil {
		return nil, notFound("InvalidVpcEndpointId.NotFound")
	}
	e.RouteTableIds = append(e.RouteTableIds, in.AddRouteTableIds...)
	return &ec2.ModifyVpcEndpointOutput{Return: aws.Bool(true)}, f.end()
}
