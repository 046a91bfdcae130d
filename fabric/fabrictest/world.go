// Package fabrictest builds, in an AWS emulator, the customer side that
// fabric deploys into: a VPC with two AZs, each with a workload, a GWLB
// endpoint and a business subnet, and an attached VGW. Tests of fabric and
// of dxdeploy share it.
package fabrictest

import (
	"context"
	"debug/elf"
	"encoding/binary"
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
// a route table of its own for each business subnet, and fake dxprobe and
// dxappliance artifacts (arm64 ELF headers and units) in a temporary directory, and returns the
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
	ba, bb := sub("10.0.21.0/24", "us-east-1a"), sub("10.0.22.0/24", "us-east-1b")
	vgw, err := ec.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1})
	if err != nil {
		t.Fatalf("create VGW: %v", err)
	}
	vgwID := aws.ToString(vgw.VpnGateway.VpnGatewayId)
	if _, err := ec.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(vpcID), VpnGatewayId: aws.String(vgwID)}); err != nil {
		t.Fatalf("attach VGW: %v", err)
	}
	// Each business subnet has its own route table, as RETURN_ROUTES
	// requires; the first already sends 172.16.0.0/12 to the VGW.
	for i, b := range []string{ba, bb} {
		rt, err := ec.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpcID)})
		if err != nil {
			t.Fatalf("create business route table: %v", err)
		}
		rid := rt.RouteTable.RouteTableId
		if _, err := ec.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rid, SubnetId: aws.String(b)}); err != nil {
			t.Fatalf("associate business route table: %v", err)
		}
		if i == 0 {
			if _, err := ec.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rid, DestinationCidrBlock: aws.String("172.16.0.0/12"),
				GatewayId: aws.String(vgwID)}); err != nil {
				t.Fatalf("route to the VGW: %v", err)
			}
		}
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"dxprobe":             ELF(elf.EM_AARCH64),
		"dxprobe.service":     []byte("[Service]\nEnvironmentFile=-/etc/dxmon/dxprobe.env\nExecStart=/usr/local/bin/dxprobe -metrics :${PROBE_HEALTH_PORT} -enrich-vpc ${VPC_ID}\n"),
		"dxappliance":         ELF(elf.EM_AARCH64),
		"dxappliance.service": []byte("[Service]\nEnvironmentFile=-/etc/dxmon/dxappliance.env\nExecStart=/usr/local/bin/dxappliance\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": vpcID, "VPC_CIDR": "10.0.0.0/16", "VGW_ID": vgwID,
		"ONPREM_CIDRS": "172.16.0.0/12,192.168.0.0/16", "WORKLOAD_SUBNETS": wa + "," + wb, "GWLBE_SUBNETS": ga + " " + gb,
		"BUSINESS_SUBNET_CIDRS": "10.0.21.0/24,10.0.22.0/24", "ADMIN_CIDR": "203.0.113.0/24", "PROJECT_TAG": Project,
		// Two appliances and two probes per AZ with the default types.
		"LINK_BPS":     "1G",
		"PROBE_BINARY": filepath.Join(dir, "dxprobe"), "PROBE_UNIT": filepath.Join(dir, "dxprobe.service"),
		"APPLIANCE_BINARY": filepath.Join(dir, "dxappliance"), "APPLIANCE_UNIT": filepath.Join(dir, "dxappliance.service"),
	}
}

// ELF returns the 64-byte header of a 64-bit little-endian Linux ELF
// executable for machine m: what ELFArch reads, nothing to run.
func ELF(m elf.Machine) []byte {
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le := binary.LittleEndian
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(m))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(b[52:], 64) // e_ehsize
	return b
}
