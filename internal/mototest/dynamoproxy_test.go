package mototest_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestDynamoProxyConditionalWrites: through the proxy, of 8 writers racing
// a conditional UpdateItem on one item, exactly one succeeds, round after
// round, as AWS's atomic writes guarantee.
func TestDynamoProxyConditionalWrites(t *testing.T) {
	t.Parallel()
	s := mototest.Launch(t)
	p := mototest.StartDynamoProxy(t, s)
	db := dynamodb.NewFromConfig(p.Config(t))
	ctx := context.Background()
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("race"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		var won atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("race"),
					Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "r" + strconv.Itoa(round)}},
					UpdateExpression:          aws.String("SET w = :w"),
					ConditionExpression:       aws.String("attribute_not_exists(pk)"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":w": &types.AttributeValueMemberN{Value: "1"}}})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					won.Add(1)
				case !errors.As(err, &ccf):
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d conditional writes succeeded, want 1", round, n)
		}
	}
}
