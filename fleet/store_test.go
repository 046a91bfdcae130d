package fleet

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dxmon/dxmon/internal/mototest"
)

// newTestTable starts moto and creates a fleet table as dxdeploy does
// (pk/sk strings, on demand, TTL on ttl), behind mototest's DynamoProxy.
func newTestTable(t *testing.T) (*dynamodb.Client, *Store) {
	t.Helper()
	moto := mototest.Start(t)
	// moto applies racing conditional writes without a lock; the proxy
	// serialises DynamoDB's requests, as AWS's atomic writes behave.
	db := dynamodb.NewFromConfig(mototest.StartDynamoProxy(t, moto).Config(t))
	if err := CreateTestTable(context.Background(), db, "dxmon-fleet-test"); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(db, "dxmon-fleet-test")
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

func TestStoreRoundTrip(t *testing.T) {
	_, st := newTestTable(t)
	ctx := context.Background()
	a, b := typicalSummary(100), worstSummary(100)
	a.Probe, b.Probe = "probe-a", "probe-b"
	b.WindowStart, b.WindowEnd = a.WindowStart, a.WindowEnd
	for _, s := range []*Summary{a, b} {
		if err := st.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, bad, err := st.Window(ctx, a.WindowStart, a.WindowEnd)
	if err != nil || bad != 0 {
		t.Fatalf("window: %v, %d bad items", err, bad)
	}
	if d := cmp.Diff([]*Summary{a, b}, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("summaries read back (-want +got):\n%s", d)
	}
	// Another window's summaries are not read.
	other, _, err := st.Window(ctx, a.WindowEnd, a.WindowEnd.Add(5*time.Second))
	if err != nil || len(other) != 0 {
		t.Errorf("next window: %d summaries, %v", len(other), err)
	}
}

// TestStoreTooLarge: an item over 400 KB is refused by the table (AWS:
// "Item size has exceeded the maximum allowed size", a ValidationException),
// and the error names the probe and the window.
func TestStoreTooLarge(t *testing.T) {
	_, st := newTestTable(t)
	s := worstSummary(1200)
	err := st.Put(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), s.Probe) || !strings.Contains(err.Error(), "maximum allowed size") {
		t.Fatalf("put of a %d-entry summary: %v, want a refusal for its size naming %s", 1200, err, s.Probe)
	}
	t.Log(err)
}

// TestClaimExactlyOnce: of many probes claiming the same window's alert at
// once, exactly one wins; during the cooldown nobody wins again, even a
// probe that restarted (the claim is the table's, not the process's);
// after it, one does. The resolved notice is claimed once too.
func TestClaimExactlyOnce(t *testing.T) {
	_, st := newTestTable(t)
	ctx := context.Background()
	end := time.Date(2026, 12, 4, 3, 30, 5, 0, time.UTC)
	race := func(kind string, at time.Time) int {
		return winners(t, 8, func(i int) error {
			if kind == "fire" {
				return st.ClaimFire(ctx, AlertKey, "p"+string(rune('a'+i)), at, time.Minute, 3)
			}
			return st.ClaimResolve(ctx, AlertKey, "p"+string(rune('a'+i)), at, 3)
		})
	}
	if n := race("fire", end); n != 1 {
		t.Fatalf("fire at %v: %d winners, want 1", end, n)
	}
	if n := race("fire", end.Add(30*time.Second)); n != 0 {
		t.Fatalf("fire inside the cooldown: %d winners, want 0", n)
	}
	if n := race("resolve", end.Add(40*time.Second)); n != 1 {
		t.Fatalf("resolve: %d winners, want 1", n)
	}
	if n := race("resolve", end.Add(45*time.Second)); n != 0 {
		t.Fatalf("second resolve: %d winners, want 0", n)
	}
	if n := race("fire", end.Add(50*time.Second)); n != 0 {
		t.Fatalf("fire after resolve but inside the cooldown: %d winners, want 0", n)
	}
	if n := race("fire", end.Add(time.Minute)); n != 1 {
		t.Fatalf("fire when the cooldown ends: %d winners, want 1", n)
	}
}

// TestStoreUnreachable: a table that does not answer gives an error
// within the caller's timeout, not a hang.
func TestStoreUnreachable(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1}
	st, err := NewStore(dynamodb.NewFromConfig(cfg), "dxmon-fleet")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := st.Put(ctx, typicalSummary(3)); err == nil {
		t.Fatal("put to a closed port succeeded")
	}
	if _, _, err := st.Window(ctx, t0, t0.Add(time.Second)); err == nil {
		t.Fatal("query of a closed port succeeded")
	}
}

// TestClaimGuardNotice: of the guards that act on the same change of an
// AZ, exactly one sends the notice; during the hold the same action is
// claimed already, the other action is a new change and claims at once,
// and after the hold the same action claims again. AZs are independent.
func TestClaimGuardNotice(t *testing.T) {
	_, st := newTestTable(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)
	const hold = 20 * time.Second
	race := func(az, action string, now time.Time) int {
		return winners(t, 6, func(i int) error {
			return st.ClaimGuardNotice(ctx, az, action, "p"+string(rune('a'+i)), now.Add(time.Duration(i)*time.Millisecond), hold)
		})
	}
	for _, step := range []struct {
		az, action string
		after      time.Duration
		want       int
	}{
		{"us-east-1a", "bypass", 0, 1},
		{"us-east-1a", "bypass", 5 * time.Second, 0},   // the same change, seen a tick later
		{"us-east-1b", "bypass", 5 * time.Second, 1},   // another AZ
		{"us-east-1a", "restore", 10 * time.Second, 1}, // a new change
		{"us-east-1a", "restore", 12 * time.Second, 0},
		{"us-east-1a", "bypass", 15 * time.Second, 1},      // and another, inside the restore's hold
		{"us-east-1a", "bypass", 15*time.Second + hold, 1}, // the hold over: a new bypass
	} {
		if n := race(step.az, step.action, at.Add(step.after)); n != step.want {
			t.Fatalf("%s %s at +%v: %d winners, want %d", step.action, step.az, step.after, n, step.want)
		}
	}
}

// winners runs claim(0) … claim(n-1) at once and returns how many won;
// an error other than ErrClaimed fails the test.
func winners(t *testing.T, n int, claim func(i int) error) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range n {
		wg.Go(func() {
			err := claim(i)
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !errors.Is(err, ErrClaimed):
				t.Errorf("claim %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return won
}
