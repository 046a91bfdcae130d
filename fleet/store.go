package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of the DynamoDB client the fleet uses, with the SDK's
// exact signatures; *dynamodb.Client satisfies it.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Key attribute names and values of the table (see the package
// documentation for the layout).
const (
	AttrPK  = "pk"
	AttrSK  = "sk"
	AttrTTL = "ttl"
)

// SummaryTTL is how long after its window's end a summary item expires.
const SummaryTTL = time.Hour

// WindowPK is the partition key of a window's summaries.
func WindowPK(start time.Time) string { return "win#" + start.UTC().Format(time.RFC3339Nano) }

// ProbeSK is the sort key of a probe's summary.
func ProbeSK(probe string) string { return "probe#" + probe }

// item is a summary as stored. Attribute names are short: they count in
// the item's size.
type item struct {
	PK         string            `dynamodbav:"pk"`
	SK         string            `dynamodbav:"sk"`
	TTL        int64             `dynamodbav:"ttl"`
	Version    int               `dynamodbav:"v"`
	Probe      string            `dynamodbav:"probe"`
	Start      int64             `dynamodbav:"start"` // unix nanoseconds
	End        int64             `dynamodbav:"end"`
	Partial    bool              `dynamodbav:"partial,omitempty"`
	SampleRate float64           `dynamodbav:"rate"`
	Skipped    map[string]uint64 `dynamodbav:"skipped,omitempty"`
	SampledOut uint64            `dynamodbav:"so,omitempty"`
	PortsCut   uint64            `dynamodbav:"pc,omitempty"`
	LinkBPS    float64           `dynamodbav:"link,omitempty"`
	K          int               `dynamodbav:"k"`
	All        []byte            `dynamodbav:"all"`
	ToAWS      []byte            `dynamodbav:"to,omitempty"`
	FromAWS    []byte            `dynamodbav:"from,omitempty"`
}

const itemVersion = 1

func toItem(s *Summary) item {
	it := item{
		PK: WindowPK(s.WindowStart), SK: ProbeSK(s.Probe), TTL: s.WindowEnd.Add(SummaryTTL).Unix(), Version: itemVersion,
		Probe: s.Probe, Start: s.WindowStart.UnixNano(), End: s.WindowEnd.UnixNano(), Partial: s.Partial,
		SampleRate: s.SampleRate, Skipped: s.Skipped, SampledOut: s.SampledOut, PortsCut: s.PortsCut,
		LinkBPS: s.LinkBPS, K: s.K, All: encodePart(nil, &s.All),
	}
	if s.ToAWS != nil {
		it.ToAWS = encodePart(nil, s.ToAWS)
	}
	if s.FromAWS != nil {
		it.FromAWS = encodePart(nil, s.FromAWS)
	}
	return it
}

func fromItem(it *item) (*Summary, error) {
	if it.Version != itemVersion {
		return nil, fmt.Errorf("%w: item %s/%s has version %d, want %d", ErrCorrupt, it.PK, it.SK, it.Version, itemVersion)
	}
	if it.Probe == "" || it.End <= it.Start || it.K < 0 {
		return nil, fmt.Errorf("%w: item %s/%s: probe %q window %d–%d k %d", ErrCorrupt, it.PK, it.SK, it.Probe, it.Start, it.End, it.K)
	}
	s := &Summary{Probe: it.Probe, WindowStart: time.Unix(0, it.Start).UTC(), WindowEnd: time.Unix(0, it.End).UTC(),
		Partial: it.Partial, SampleRate: it.SampleRate, Skipped: it.Skipped, SampledOut: it.SampledOut,
		PortsCut: it.PortsCut, LinkBPS: it.LinkBPS, K: it.K}
	if s.Skipped == nil {
		s.Skipped = map[string]uint64{}
	}
	var err error
	if s.All, err = decodePart(it.All); err != nil {
		return nil, fmt.Errorf("item %s/%s all: %w", it.PK, it.SK, err)
	}
	for _, d := range []struct {
		b  []byte
		to **Part
	}{{it.ToAWS, &s.ToAWS}, {it.FromAWS, &s.FromAWS}} {
		if d.b == nil {
			continue
		}
		p, err := decodePart(d.b)
		if err != nil {
			return nil, fmt.Errorf("item %s/%s direction: %w", it.PK, it.SK, err)
		}
		*d.to = &p
	}
	return s, nil
}

// Store reads and writes one fleet table.
type Store struct {
	api   API
	table string
}

// NewStore returns a Store on table through api.
func NewStore(api API, table string) (*Store, error) {
	if api == nil {
		return nil, errors.New("fleet: nil DynamoDB client")
	}
	if err := CheckTableName(table); err != nil {
		return nil, err
	}
	return &Store{api: api, table: table}, nil
}

// CheckTableName checks a table name against DynamoDB's naming rules:
// "Table names … must be between 3 and 255 characters long, and can contain
// only the following characters: a-z, A-Z, 0-9, _ (underscore), - (dash),
// . (dot)" (DynamoDB Developer Guide, "Supported data types and naming
// rules in Amazon DynamoDB").
func CheckTableName(table string) error {
	if l := len(table); l < 3 || l > 255 {
		return fmt.Errorf("fleet: table name %q: want 3 to 255 characters", table)
	}
	for _, c := range table {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("fleet: table name %q: only a-z, A-Z, 0-9, '_', '-' and '.' are allowed", table)
		}
	}
	return nil
}

// Table returns the table's name.
func (s *Store) Table() string { return s.table }

// Put writes a probe's summary of its window, replacing any earlier one of
// the same probe and window (a retry writes the same item).
func (s *Store) Put(ctx context.Context, sum *Summary) error {
	av, err := attributevalue.MarshalMap(toItem(sum))
	if err != nil {
		return fmt.Errorf("fleet: marshal summary of %s: %w", sum.Probe, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}); err != nil {
		return fmt.Errorf("fleet: put summary %s of %s in table %s: %w", sum.WindowStart.Format(time.RFC3339Nano), sum.Probe, s.table, err)
	}
	return nil
}

// Window reads every probe's summary of the window starting at start,
// with strongly consistent reads, so that summaries written before the
// call are all seen. Items that do not decode are skipped and counted in
// bad (the caller logs them); summaries of another window length are
// skipped too.
func (s *Store) Window(ctx context.Context, start, end time.Time) (out []*Summary, bad int, err error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(WindowPK(start)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, 0, fmt.Errorf("fleet: build query: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("fleet: query %s in table %s: %w", WindowPK(start), s.table, err)
		}
		for _, av := range page.Items {
			var it item
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				bad++
				continue
			}
			sum, err := fromItem(&it)
			if err != nil || !sum.WindowEnd.Equal(end) || !sum.WindowStart.Equal(start) {
				bad++
				continue
			}
			out = append(out, sum)
		}
	}
	return out, bad, nil
}

// Claim outcomes.
var (
	// ErrClaimed means another probe (or this one, earlier) already
	// holds the claim: someone else sent it.
	ErrClaimed = errors.New("fleet: already claimed")
)

// AlertPK is the partition key of an alert's claim item; its sort key is
// "claim".
func AlertPK(key string) string { return "alert#" + key }

// Alert claim item attributes.
const (
	attrUntil    = "until"    // unix ms: the cooldown ends
	attrFired    = "fired"    // unix ms: end of the window that fired
	attrState    = "state"    // "active" or "resolved"
	attrProbe    = "probe"    // who sent the last notice
	attrProbes   = "probes"   // how many probes' windows it merged
	attrResolved = "resolved" // unix ms: end of the window that resolved
	stateActive  = "active"
	stateClosed  = "resolved"
)

// ClaimFire claims the alert key for the window ending at end: it succeeds
// for exactly one caller while no alert of key fired in the cooldown
// before end (the item's "until" is at most end), and then holds the
// cooldown (until = end + cooldown). Window ends, aligned to the wall
// clock, stand for "now", so that every probe evaluating the same window
// competes for the same claim whatever its clock's skew. It returns
// ErrClaimed when the condition fails: someone else sent this alert.
func (s *Store) ClaimFire(ctx context.Context, key, probe string, end time.Time, cooldown time.Duration, probes int) error {
	now := end.UnixMilli()
	until := end.Add(cooldown).UnixMilli()
	cond := expression.AttributeNotExists(expression.Name(AttrPK)).
		Or(expression.Name(attrUntil).LessThanEqual(expression.Value(now)))
	upd := expression.Set(expression.Name(attrUntil), expression.Value(until)).
		Set(expression.Name(attrFired), expression.Value(now)).
		Set(expression.Name(attrState), expression.Value(stateActive)).
		Set(expression.Name(attrProbe), expression.Value(probe)).
		Set(expression.Name(attrProbes), expression.Value(probes)).
		Set(expression.Name(AttrTTL), expression.Value(end.Add(cooldown+24*time.Hour).Unix()))
	return s.claim(ctx, AlertPK(key), cond, upd)
}

// ClaimResolve claims the resolved notice of key for the window ending at
// end: it succeeds for exactly one caller while the alert is active and
// fired before end, and marks it resolved (the cooldown stays).
func (s *Store) ClaimResolve(ctx context.Context, key, probe string, end time.Time, probes int) error {
	now := end.UnixMilli()
	cond := expression.Name(attrState).Equal(expression.Value(stateActive)).
		And(expression.Name(attrFired).LessThan(expression.Value(now)))
	upd := expression.Set(expression.Name(attrState), expression.Value(stateClosed)).
		Set(expression.Name(attrResolved), expression.Value(now)).
		Set(expression.Name(attrProbe), expression.Value(probe)).
		Set(expression.Name(attrProbes), expression.Value(probes))
	return s.claim(ctx, AlertPK(key), cond, upd)
}

// GuardPK is the partition key of the claim item of the guard's notices
// about AZ az; its sort key is "claim".
func GuardPK(az string) string { return "guard#" + az }

// Guard claim item attributes (with attrUntil and attrProbe).
const attrAction = "action" // the last action notified: "bypass" or "restore"

// ClaimGuardNotice claims the notice of a guard's action ("bypass" or
// "restore") on AZ az, taken at now. It succeeds for exactly one of the
// guards that act on the same change: when the item is absent, holds the
// other action, or holds this one but its hold has passed (until ≤ now);
// it then records the action, holding it for hold. Guards on several
// probes that see the same change in the GWLB's target health act within
// one tick of each other, so a hold of a tick's bound (fabric.GuardBound)
// lets one notice through per change. It returns ErrClaimed when another
// guard (or this one) already sent it.
func (s *Store) ClaimGuardNotice(ctx context.Context, az, action, probe string, now time.Time, hold time.Duration) error {
	at := now.UnixMilli()
	cond := expression.AttributeNotExists(expression.Name(AttrPK)).
		Or(expression.Name(attrAction).NotEqual(expression.Value(action))).
		Or(expression.Name(attrUntil).LessThanEqual(expression.Value(at)))
	upd := expression.Set(expression.Name(attrAction), expression.Value(action)).
		Set(expression.Name(attrUntil), expression.Value(now.Add(hold).UnixMilli())).
		Set(expression.Name(attrProbe), expression.Value(probe)).
		Set(expression.Name(AttrTTL), expression.Value(now.Add(hold+24*time.Hour).Unix()))
	return s.claim(ctx, GuardPK(az), cond, upd)
}

// claim applies upd to the claim item of partition key pk when cond holds;
// ErrClaimed when it does not.
func (s *Store) claim(ctx context.Context, pk string, cond expression.ConditionBuilder, upd expression.UpdateBuilder) error {
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("fleet: build claim of %s: %w", pk, err)
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			AttrPK: &types.AttributeValueMemberS{Value: pk},
			AttrSK: &types.AttributeValueMemberS{Value: "claim"},
		},
		ConditionExpression: expr.Condition(), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return ErrClaimed
	case err != nil:
		return fmt.Errorf("fleet: claim %s in table %s: %w", pk, s.table, err)
	}
	return nil
}
