package fabric

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// AMIParameter is the SSM public parameter holding the latest Amazon Linux
// 2023 ARM64 AMI.
const AMIParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"

// env is what stage 00 reads and every other stage uses.
type env struct {
	account  string
	ami      string
	subnetAZ map[string]string // every configured subnet → its AZ
	// workload is the first WORKLOAD_SUBNETS subnet of each AZ, sorted by AZ:
	// one appliance, one probe and one load balancer subnet per AZ.
	workload []azSubnet
	// sizing is stage 00's arithmetic: instances of each tier per AZ.
	sizing Sizing
}

type azSubnet struct{ az, subnet string }

// initEnv is stage 00: it checks credentials, the VPC (and its CIDR), the
// VGW's attachment to it, that every subnet lies in it, and resolves the
// AMI. It only reads.
func (r *run) initEnv(ctx context.Context) (*env, error) {
	d := r.d
	e := &env{subnetAZ: map[string]string{}}
	id, err := d.c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, r.fail("credentials", "sts", err)
	}
	e.account = aws.ToString(id.Account)
	r.event("account", "caller", aws.ToString(id.Arn), Exists, "")

	vpcs, err := d.c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{d.cfg.VPCID}})
	if err != nil || len(vpcs.Vpcs) == 0 {
		return nil, r.fail("vpc", d.cfg.VPCID, notFoundIn("VPC_ID", d.cfg.VPCID, d.cfg.Region, err))
	}
	if got := aws.ToString(vpcs.Vpcs[0].CidrBlock); got != d.cfg.VPCCIDR.String() {
		// A VPC may have secondary CIDRs; VPC_CIDR must be one of them.
		ok := false
		for _, a := range vpcs.Vpcs[0].CidrBlockAssociationSet {
			ok = ok || aws.ToString(a.CidrBlock) == d.cfg.VPCCIDR.String()
		}
		if !ok {
			return nil, r.fail("vpc", d.cfg.VPCID, fmt.Errorf("VPC_CIDR %s is not a CIDR of the VPC (it has %s)", d.cfg.VPCCIDR, got))
		}
	}
	r.event("vpc", d.cfg.VPCID, d.cfg.VPCID, Exists, d.cfg.VPCCIDR.String())

	vgws, err := d.c.EC2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{VpnGatewayIds: []string{d.cfg.VGWID}})
	if err != nil || len(vgws.VpnGateways) == 0 {
		return nil, r.fail("vgw", d.cfg.VGWID, notFoundIn("VGW_ID", d.cfg.VGWID, d.cfg.Region, err))
	}
	attached := false
	for _, a := range vgws.VpnGateways[0].VpcAttachments {
		attached = attached || (aws.ToString(a.VpcId) == d.cfg.VPCID && a.State == "attached")
	}
	if !attached {
		return nil, r.fail("vgw", d.cfg.VGWID, fmt.Errorf("VGW_ID: not attached to VPC_ID %s", d.cfg.VPCID))
	}
	r.event("vgw", d.cfg.VGWID, d.cfg.VGWID, Exists, "attached")

	all := append(append([]string{}, d.cfg.WorkloadSubnets...), d.cfg.GWLBESubnets...)
	subs, err := d.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: all})
	if err != nil {
		return nil, r.fail("subnets", fmt.Sprint(all), err)
	}
	for _, s := range subs.Subnets {
		sid := aws.ToString(s.SubnetId)
		cidr, _ := netip.ParsePrefix(aws.ToString(s.CidrBlock))
		if aws.ToString(s.VpcId) != d.cfg.VPCID || !d.cfg.VPCCIDR.Contains(cidr.Addr()) {
			return nil, r.fail("subnet", sid, fmt.Errorf("subnet %s (%s) is outside VPC_ID %s (%s)", sid, cidr, d.cfg.VPCID, d.cfg.VPCCIDR))
		}
		e.subnetAZ[sid] = aws.ToString(s.AvailabilityZone)
	}
	for _, s := range all {
		if _, ok := e.subnetAZ[s]; !ok {
			return nil, r.fail("subnet", s, fmt.Errorf("subnet %s not found", s))
		}
	}
	seen := map[string]bool{}
	for _, s := range d.cfg.WorkloadSubnets {
		if az := e.subnetAZ[s]; !seen[az] {
			seen[az] = true
			e.workload = append(e.workload, azSubnet{az, s})
		}
	}
	sort.Slice(e.workload, func(i, j int) bool { return e.workload[i].az < e.workload[j].az })
	r.event("subnets", fmt.Sprintf("%d subnets, %d AZs", len(all), len(e.workload)), "", Exists, "")
	if err := checkGWLBESubnets(d.cfg.GWLBESubnets, e.subnetAZ, e.workload); err != nil {
		return nil, r.fail("subnets", "GWLBE_SUBNETS", err)
	}

	if err := r.checkBusinessSubnets(ctx, e); err != nil {
		return nil, err
	}

	p, err := d.c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(AMIParameter)})
	if err != nil {
		return nil, r.fail("ami", AMIParameter, err)
	}
	e.ami = aws.ToString(p.Parameter.Value)
	r.event("ami", "al2023-arm64", e.ami, Exists, "")
	if err := r.sizeTiers(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// notFoundIn is the error of a configured ID that AWS does not know (or
// could not be asked about): it names the key, the value and the region,
// and wraps AWS's error when there is one.
func notFoundIn(key, id, region string, err error) error {
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("%s: %s does not exist in %s: %w", key, id, region, err)
		}
		return fmt.Errorf("%s: describe %s: %w", key, id, err)
	}
	return fmt.Errorf("%s: %s does not exist in %s", key, id, region)
}

// checkBusinessSubnets is stage 00's check of BUSINESS_SUBNET_CIDRS: each
// must be the CIDR of a subnet of the VPC, in an AZ that has a GWLBE_SUBNETS
// subnet, so that stage 03 can route it; found now, before anything is
// built.
func (r *run) checkBusinessSubnets(ctx context.Context, e *env) error {
	d := r.d
	var cidrs []string
	for _, c := range d.cfg.BusinessCIDRs {
		cidrs = append(cidrs, c.String())
	}
	azOf := map[string]string{}
	p := ec2.NewDescribeSubnetsPaginator(d.c.EC2, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}, {Name: aws.String("cidr-block"), Values: cidrs}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return r.fail("subnets", "BUSINESS_SUBNET_CIDRS", err)
		}
		for _, s := range page.Subnets {
			if aws.ToString(s.VpcId) == d.cfg.VPCID {
				azOf[aws.ToString(s.CidrBlock)] = aws.ToString(s.AvailabilityZone)
			}
		}
	}
	gwlbeAZ := map[string]bool{}
	for _, s := range d.cfg.GWLBESubnets {
		gwlbeAZ[e.subnetAZ[s]] = true
	}
	for _, c := range cidrs {
		az, ok := azOf[c]
		if !ok {
			return r.fail("business-subnet", c, fmt.Errorf("BUSINESS_SUBNET_CIDRS: %s is the CIDR of no subnet of VPC_ID %s", c, d.cfg.VPCID))
		}
		if !gwlbeAZ[az] {
			return r.fail("business-subnet", c, fmt.Errorf("GWLBE_SUBNETS: no subnet in %s, the AZ of business subnet %s", az, c))
		}
	}
	return nil
}

func (e *env) workloadSubnets() []string {
	var out []string
	for _, w := range e.workload {
		out = append(out, w.subnet)
	}
	return out
}
