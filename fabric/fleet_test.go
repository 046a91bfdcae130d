package fabric

import (
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
