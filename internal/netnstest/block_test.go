package netnstest

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHostBlockApart: a test binary keeps its block, and another process
// running while it holds it gets another.
func TestHostBlockApart(t *testing.T) {
	if os.Getenv("NETNSTEST_CHILD") != "" {
		b, err := HostBlock()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("block=%s", b)
		return
	}
	mine, err := HostBlock()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := HostBlock(); again != mine {
		t.Errorf("HostBlock: %s, then %s; want the same block", mine, again)
	}
	if !netip.MustParsePrefix("198.18.0.0/16").Contains(mine.Addr()) || mine.Bits() != 24 {
		t.Errorf("HostBlock = %s, want a /24 of 198.18.0.0/16", mine)
	}
	if got := BlockAddr(mine, 12); !mine.Contains(netip.MustParseAddr(got)) || !strings.HasSuffix(got, ".12") {
		t.Errorf("BlockAddr(%s, 12) = %s", mine, got)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHostBlockApart$", "-test.v")
	cmd.Env = append(os.Environ(), "NETNSTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "block=")
	if !ok {
		t.Fatalf("child printed no block:\n%s", out)
	}
	theirs, err := netip.ParsePrefix(strings.Fields(after)[0])
	if err != nil {
		t.Fatal(err)
	}
	if theirs == mine {
		t.Errorf("a second process got %s too, which this one holds", theirs)
	}
}
