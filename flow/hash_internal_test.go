package flow

import (
	"testing"

	"pgregory.net/rapid"
)

// TestHashIsXXH64: the unrolled hash equals the xxhash package's Sum64.
func TestHashIsXXH64(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var k Key
		copy(k[:], rapid.SliceOfN(rapid.Byte(), KeyLen, KeyLen).Draw(t, "key"))
		if got, want := k.Hash(), hashBytes(&k); got != want {
			t.Fatalf("Hash(%x) = %#x, xxhash.Sum64 = %#x", k[:], got, want)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	var k Key
	b.Run("unrolled", func(b *testing.B) {
		var s uint64
		for b.Loop() {
			k[33]++
			s += k.Hash()
		}
		_ = s
	})
	b.Run("xxhash.Sum64", func(b *testing.B) {
		var s uint64
		for b.Loop() {
			k[33]++
			s += hashBytes(&k)
		}
		_ = s
	})
}

// TestTableAlwaysHasAFreeSlot: a full table still has an empty slot, so a
// probe for a new key ends (it goes to overflow); the load stays ≤ 0.625.
func TestTableAlwaysHasAFreeSlot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 1<<20).Draw(t, "maxFlows")
		tb, err := NewTable(n)
		if err != nil {
			t.Fatal(err)
		}
		if s := len(tb.slots); s <= n || (n > 1 && float64(n)/float64(s) > 0.625) {
			t.Fatalf("maxFlows %d: %d slots", n, s)
		}
	})
}

func TestKeyEqualIsArrayEquality(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a, b Key
		copy(a[:], rapid.SliceOfN(rapid.Byte(), KeyLen, KeyLen).Draw(t, "a"))
		b = a
		if rapid.Bool().Draw(t, "differ") {
			b[rapid.IntRange(0, KeyLen-1).Draw(t, "at")] ^= byte(rapid.IntRange(1, 255).Draw(t, "bit"))
		}
		if a.equal(&b) != (a == b) {
			t.Fatalf("equal(%x, %x) = %v", a[:], b[:], a.equal(&b))
		}
	})
}
