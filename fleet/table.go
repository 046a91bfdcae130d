package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is what CreateTestTable needs of the DynamoDB client.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTestTable creates a fleet table with the key schema and TTL the
// fleet relies on (pk and sk strings, on demand, TTL on ttl), for tests and
// local runs; dxdeploy creates the deployment's (fabric). An existing
// table is left as it is.
func CreateTestTable(ctx context.Context, api TableAPI, name string) error {
	_, err := api.CreateTable(ctx, TableInput(name, nil))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("fleet: create table %s: %w", name, err)
	}
	if _, err := api.UpdateTimeToLive(ctx, TTLInput(name)); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("fleet: turn on TTL of table %s: %w", name, err)
	}
	return nil
}

// TableInput is the CreateTable request of a fleet table: partition key pk
// and sort key sk (strings), on-demand capacity (PAY_PER_REQUEST), with
// tags.
func TableInput(name string, tags []types.Tag) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
		Tags:        tags,
	}
}

// TTLInput turns TTL on for the ttl attribute of table name.
func TTLInput(name string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(AttrTTL), Enabled: aws.Bool(true)}}
}
