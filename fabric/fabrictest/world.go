// Package fabrictest builds, in an AWS emulator, the customer side that
// fabric deploys into: a VPC with two AZs, each with a workload, a GWLB
// endpoint and a business subnet, and an attached VGW. Tests of fabric and
// of dxdeploy share it.
package fabrictest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Project is the PROJECT_TAG of the configurations World returns.
const Project = "dxtest"

// World creates the VPC, subnets and VGW in the emulator cfg points at,
// and fake dxprobe artifacts in a temporary directory, and returns the
// dx-monitor.conf keys that describe them.
func World(t testing.TB, cfg aws.Config) map[string]string {
	t.Helper()
	ctx := context.Background()
	ec := ec2.NewFromConfig(cfg)
	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("create VPC: %v", err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	sub := func(cidr, az string) string {
		out, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatalf("create subnet %s: %v", cidr, err)
		}
		return aws.ToString(out.Subnet.SubnetId)
	}
	wa, wb := sub("10.0.1.0/24", "us-east-1a"), sub("10.0.2.0/24", "us-east-1b")
	ga, gb := sub("10.0.11.0/24", "us-east-1a"), sub("10.0.12.0/24", "us-east-1b")
	sub("10.0.21.0/24", "us-east-1a")
	sub("10.0.22.0/24", "us-east-1b")
	vgw, err := ec.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1})
	if err != nil {
		t.Fatalf("create VGW: %v", err)
	}
	vgwID := aws.ToString(vgw.VpnGateway.VpnGatewayId)
	if _, err := ec.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(vpcID), VpnGatewayId: aws.String(vgwID)}); err != nil {
		t.Fatalf("attach VGW: %v", err)
	}
	dir := t.TempDir()
	bin, unit := filepath.Join(dir, "dxprobe"), filepath.Join(dir, "dxprobe.service")
	if err := os.WriteFile(bin, []byte("\x7fELF fake dxprobe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/usr/local/bin/dxprobe -metrics :9100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": vpcID, "VPC_CIDR": "10.0.0.0/16", "VGW_ID": vgwID,
		"ONPREM_CIDRS": "172.16.0.0/12,192.168.0.0/16", "WORKLOAD_SUBNETS": wa + "," + wb, "GWLBE_SUBNETS": ga + " " + gb,
		"BUSINESS_SUBNET_CIDRS": "10.0.21.0/24,10.0.22.0/24", "ADMIN_CIDR": "203.0.113.0/24", "PROJECT_TAG": Project,
		"PROBE_BINARY": bin, "PROBE_UNIT": unit,
	}
}
