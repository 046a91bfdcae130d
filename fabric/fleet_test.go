package fabric

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// TestProbeRouteTables: each probe subnet's explicit route table, else the
// VPC's main one; never a table associated only with a gateway (the VGW's
// ingress table).
func TestProbeRouteTables(t *testing.T) {
	rt := func(id string, as ...ec2types.RouteTableAssociation) ec2types.RouteTable {
		return ec2types.RouteTable{RouteTableId: aws.String(id), Associations: as}
	}
	sub := func(s string) ec2types.RouteTableAssociation {
		return ec2types.RouteTableAssociation{SubnetId: aws.String(s)}
	}
	main := ec2types.RouteTableAssociation{Main: aws.Bool(true)}
	edge := ec2types.RouteTableAssociation{GatewayId: aws.String("vgw-1")}
	rts := []ec2types.RouteTable{rt("rtb-main", main), rt("rtb-a", sub("subnet-a1"), sub("subnet-x")), rt("rtb-ingress", edge)}
	for _, c := range []struct {
		subnets, want []string
	}{
		{[]string{"subnet-a1", "subnet-b1"}, []string{"rtb-a", "rtb-main"}},
		{[]string{"subnet-a1", "subnet-x"}, []string{"rtb-a"}},
		{[]string{"subnet-b1"}, []string{"rtb-main"}},
		{nil, nil},
	} {
		if d := cmp.Diff(c.want, probeRouteTables(rts, c.subnets)); d != "" {
			t.Errorf("subnets %v (-want +got):\n%s", c.subnets, d)
		}
	}
	if got := probeRouteTables([]ec2types.RouteTable{rt("rtb-ingress", edge)}, []string{"subnet-a1"}); got != nil {
		t.Errorf("no main table: %v, want none", got)
	}
}

// TestFakeFleetInterruptedConverges: every mutating call of the fleet's
// part of stage 04 (CreateTable, UpdateTimeToLive, the endpoint's
// CreateVpcEndpoint), interrupted before AWS did it or after (the answer
// lost), leaves an apply that converges on the next run to what an
// uninterrupted apply builds, with no duplicate; destroy leaves nothing.
// (TestFakeInterruptedApplyConverges samples every call at random; this
// walks the fleet's calls one by one.)
func TestFakeFleetInterruptedConverges(t *testing.T) {
	dir := t.TempDir()
	bin, unit := filepath.Join(dir, "dxprobe"), filepath.Join(dir, "dxprobe.service")
	if err := os.WriteFile(bin, elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("ExecStart=/usr/local/bin/dxprobe -metrics :${PROBE_HEALTH_PORT}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := newFakeCloud()
	if err := fakeDeployer(t, ref, bin, unit).Apply(ctx); err != nil {
		t.Fatalf("reference apply: %v", err)
	}
	want := ref.inventory()
	if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "table fk-fleet ttl ttl") }) {
		t.Fatalf("reference apply made no fleet table with TTL on ttl: %v", want)
	}
	var points []int
	for i, op := range ref.mutations {
		if op == "CreateTable" || op == "UpdateTimeToLive" || op == "CreateVpcEndpoint" {
			points = append(points, i+1)
		}
	}
	for _, at := range points {
		for _, after := range []bool{false, true} {
			f := newFakeCloud()
			d := fakeDeployer(t, f, bin, unit)
			f.failAt, f.after = at, after
			err := d.Apply(ctx)
			op := "none"
			if at <= len(f.mutations) {
				op = f.mutations[at-1]
			}
			if !errors.Is(err, errFakeInterrupted) {
				t.Fatalf("apply interrupted at %d (%s): %v", at, op, err)
			}
			f.failAt = 0
			if err := d.Apply(ctx); err != nil {
				t.Fatalf("apply after interrupting %s (after=%v): %v", op, after, err)
			}
			if diff := cmp.Diff(want, f.inventory()); diff != "" {
				t.Fatalf("after interrupting %d %s (after=%v) (-want +got):\n%s", at, op, after, diff)
			}
			if err := d.Destroy(ctx); err != nil {
				t.Fatalf("destroy: %v", err)
			}
			if left := f.inventory(); len(left) != 0 {
				t.Fatalf("left after destroy: %v", left)
			}
		}
	}
	t.Logf("interrupted %d fleet calls, before and after each", len(points))
}
