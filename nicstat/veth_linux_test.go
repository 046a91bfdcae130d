package nicstat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/internal/netnstest"
)

// vethPair makes a namespace of the test's own joined to the host by a
// veth pair, and returns the host end's name. The link stays down: no
// traffic (IPv6 solicitations) moves a statistic between two reads.
func vethPair(t *testing.T) string {
	t.Helper()
	netnstest.Require(t)
	sfx := fmt.Sprintf("%05x", rand.IntN(1<<20))
	ns, host, peer := "dxmon-ena-"+sfx, "ena"+sfx+"h", "ena"+sfx+"n"
	if out, err := netnstest.Try("netns", "add", ns); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = netnstest.Try("link", "del", host)
		_, _ = netnstest.Try("netns", "del", ns)
	})
	netnstest.Run(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	netnstest.Run(t, "link", "set", peer, "netns", ns)
	return host
}

// ethtoolS runs `ethtool -S dev` and parses its "name: value" lines.
func ethtoolS(t *testing.T, dev string) []Stat {
	t.Helper()
	bin, err := exec.LookPath("ethtool")
	if err != nil {
		if out, err := exec.Command("apt-get", "install", "-y", "-qq", "ethtool").CombinedOutput(); err != nil {
			t.Skipf("needs ethtool to compare with, and it cannot be installed (apt-get install ethtool: %v): %s", err, out)
		}
		if bin, err = exec.LookPath("ethtool"); err != nil {
			t.Skip("needs ethtool to compare with (not found after apt-get install ethtool)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-S", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ethtool -S %s: %v\n%s", dev, err, out)
	}
	var stats []Stat
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		i := strings.LastIndex(line, ": ")
		if i < 0 || line == "NIC statistics:" {
			continue
		}
		v, err := strconv.ParseUint(line[i+2:], 10, 64)
		if err != nil {
			t.Fatalf("ethtool -S %s: line %q: %v", dev, line, err)
		}
		stats = append(stats, Stat{line[:i], v})
	}
	return stats
}

// The ioctl reads every statistic name and value of a real veth as
// `ethtool -S` prints them.
func TestEthtoolMatchesEthtoolS(t *testing.T) {
	dev := vethPair(t)
	want := ethtoolS(t, dev)
	if len(want) == 0 {
		t.Fatalf("ethtool -S %s printed no statistics: nothing to compare", dev)
	}
	got, err := Ethtool{}.Stats(dev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SIOCETHTOOL vs ethtool -S %s (-ethtool +ours):\n%s", dev, diff)
	}
	if _, err := (Ethtool{}).Stats(dev + "x"); err == nil || !strings.Contains(err.Error(), dev+"x") {
		t.Errorf("a missing device: %v; want an error naming it", err)
	}
}

// A veth has statistics but no allowance counters: the collector says
// unsupported and exports no counter.
func TestCollectorOnVeth(t *testing.T) {
	dev := vethPair(t)
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, Ethtool{}, dev); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP dxmon_nic_allowance_counters_supported 1 when the network device's driver reports the ENA allowance counters (dxmon_nic_*_allowance_exceeded_total), 0 when it does not or they could not be read.
# TYPE dxmon_nic_allowance_counters_supported gauge
dxmon_nic_allowance_counters_supported{interface=%q} 0
# HELP dxmon_nic_stats_read_errors_total Scrapes at which the device's driver statistics (SIOCETHTOOL) could not be read.
# TYPE dxmon_nic_stats_read_errors_total counter
dxmon_nic_stats_read_errors_total{interface=%q} 0
`, dev, dev)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// BenchmarkEthtoolStats is one scrape's read of the default route's device
// (three ioctls and the parsing), off the packet path.
func BenchmarkEthtoolStats(b *testing.B) {
	dev, err := Resolve(Auto, "")
	if err != nil {
		b.Skipf("no default route device: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Ethtool{}).Stats(dev); err != nil {
			b.Fatal(err)
		}
	}
}
