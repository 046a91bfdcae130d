package fabric

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Ports of the pipeline.
const (
	GenevePort = 6081 // GWLB ↔ appliances
	VXLANPort  = 4789 // mirror target NLB → probes
	// ApplianceHealthPort is the TCP port the GWLB health check opens on
	// the appliances.
	ApplianceHealthPort = 80
)

// Rule is one security group permission, flattened to one CIDR.
type Rule struct {
	Protocol string // "tcp", "udp" or "-1" (all)
	From, To int32  // ports; 0 for protocol -1
	CIDR     string
}

// String renders the rule as "udp/4789 10.0.0.0/16" or "all 10.0.0.0/16".
func (p Rule) String() string {
	if p.Protocol == "-1" {
		return "all " + p.CIDR
	}
	if p.From == p.To {
		return fmt.Sprintf("%s/%d %s", p.Protocol, p.From, p.CIDR)
	}
	return fmt.Sprintf("%s/%d-%d %s", p.Protocol, p.From, p.To, p.CIDR)
}

// SecurityGroupSpec is what a security group must allow.
type SecurityGroupSpec struct {
	Name, Role, Description string
	Ingress, Egress         []Rule
}

// SecurityGroups returns the two groups of stage 01 (docs/ARCHITECTURE.md):
// the appliances take Geneve from the VPC, the GWLB health check from the
// VPC, SSH only from ADMIN_CIDR when set, and talk to the VPC and to HTTPS
// (SSM and S3, for stage 02's installation); the probes
// take VXLAN and the NLB health check from the VPC and talk to the VPC and
// to HTTPS (the AWS APIs), and open their page to ADMIN_CIDR when set.
func (d *Deployer) SecurityGroups() []SecurityGroupSpec {
	vpc := d.cfg.VPCCIDR.String()
	app := SecurityGroupSpec{
		Name: d.name("appliance-sg"), Role: "appliance", Description: "dxmon appliances: Geneve from the GWLB",
		Ingress: []Rule{{"udp", GenevePort, GenevePort, vpc}, {"tcp", ApplianceHealthPort, ApplianceHealthPort, vpc}},
		// HTTPS: the SSM Agent and the S3 download of stage 02's
		// dxappliance (an S3 gateway endpoint still uses S3's public
		// addresses).
		Egress: []Rule{{"tcp", 443, 443, "0.0.0.0/0"}, {"-1", 0, 0, vpc}},
	}
	if d.cfg.AdminCIDR.IsValid() {
		app.Ingress = append(app.Ingress, Rule{"tcp", 22, 22, d.cfg.AdminCIDR.String()})
	}
	probe := SecurityGroupSpec{
		Name: d.name("probe-sg"), Role: "probe", Description: "dxmon probes: VXLAN from the mirror NLB",
		Ingress: []Rule{{"udp", VXLANPort, VXLANPort, vpc}, {"tcp", d.cfg.ProbeHealthPort, d.cfg.ProbeHealthPort, vpc}},
		Egress:  []Rule{{"tcp", 443, 443, "0.0.0.0/0"}, {"-1", 0, 0, vpc}},
	}
	probe.Ingress = append(probe.Ingress, d.pageRules()...) // the page, from ADMIN_CIDR (page.go)
	if r, ok := d.cfg.ipfixEgress(); ok {                   // PROBE_IPFIX outside the VPC (ipfixegress.go)
		probe.Egress = append(probe.Egress, r)
	}
	return []SecurityGroupSpec{app, probe}
}

func (d *Deployer) findSG(ctx context.Context, name string) (*ec2types.SecurityGroup, error) {
	out, err := d.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: append(d.byName(name), ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{d.cfg.VPCID}}),
	})
	if err != nil {
		return nil, err
	}
	for _, g := range out.SecurityGroups {
		if d.owns(g.Tags, name) {
			return &g, nil
		}
	}
	return nil, nil
}

func (d *Deployer) findSGID(name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		sg, err := d.findSG(ctx, name)
		if sg == nil || err != nil {
			return "", err
		}
		return aws.ToString(sg.GroupId), nil
	}
}

// flatten turns AWS permissions into one Rule per CIDR.
func flatten(perms []ec2types.IpPermission) []Rule {
	var out []Rule
	for _, p := range perms {
		proto := aws.ToString(p.IpProtocol)
		var from, to int32
		if proto != "-1" {
			from, to = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
		}
		for _, r := range p.IpRanges {
			out = append(out, Rule{proto, from, to, aws.ToString(r.CidrIp)})
		}
	}
	return out
}

// diffRules returns the rules of want missing from have, and those of
// have not in want.
func diffRules(want, have []Rule) (missing, extra []Rule) { return setDiff(want, have) }

func toPerms(rules []Rule) []ec2types.IpPermission {
	var out []ec2types.IpPermission
	for _, r := range rules {
		p := ec2types.IpPermission{IpProtocol: aws.String(r.Protocol), IpRanges: []ec2types.IpRange{{CidrIp: aws.String(r.CIDR)}}}
		if r.Protocol != "-1" {
			p.FromPort, p.ToPort = aws.Int32(r.From), aws.Int32(r.To)
		}
		out = append(out, p)
	}
	return out
}

func ruleList(rs []Rule) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// stageSecurity is stage 01.
func (r *run) stageSecurity(ctx context.Context) error {
	d := r.d
	r.pageNotice()
	for _, spec := range d.SecurityGroups() {
		id, err := r.ensureWith(ctx, "security-group", spec.Name, "in "+d.cfg.VPCID, d.findSGID(spec.Name), func(ctx context.Context) (string, error) {
			out, err := d.c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
				GroupName: aws.String(spec.Name), Description: aws.String(spec.Description), VpcId: aws.String(d.cfg.VPCID),
				TagSpecifications: d.tagSpec(ec2types.ResourceTypeSecurityGroup, spec.Name, spec.Role),
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.GroupId), nil
		})
		if err != nil {
			return err
		}
		var haveIn, haveOut []Rule
		if !isPlanned(id) {
			sg, err := d.findSG(ctx, spec.Name)
			if err != nil || sg == nil {
				return r.fail("security-group", spec.Name, fmt.Errorf("read rules: %v", err))
			}
			haveIn, haveOut = flatten(sg.IpPermissions), flatten(sg.IpPermissionsEgress)
		} else {
			haveOut = []Rule{{"-1", 0, 0, "0.0.0.0/0"}} // what AWS gives a new group
		}
		if err := r.reconcileRules(ctx, spec.Name, id, spec.Ingress, haveIn, true); err != nil {
			return err
		}
		if err := r.reconcileRules(ctx, spec.Name, id, spec.Egress, haveOut, false); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) reconcileRules(ctx context.Context, name, id string, want, have []Rule, ingress bool) error {
	ec := r.d.c.EC2
	missing, extra := diffRules(want, have)
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	if len(missing) > 0 {
		err := r.change(ctx, "security-group", name, id, "authorize "+dir+" "+ruleList(missing), func(ctx context.Context) error {
			var err error
			if ingress {
				_, err = ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: toPerms(missing)})
			} else {
				_, err = ec.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: toPerms(missing)})
			}
			if errorCode(err) == "InvalidPermission.Duplicate" {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(extra) > 0 {
		return r.change(ctx, "security-group", name, id, "revoke "+dir+" "+ruleList(extra), func(ctx context.Context) error {
			var err error
			if ingress {
				_, err = ec.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: toPerms(extra)})
			} else {
				_, err = ec.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: toPerms(extra)})
			}
			return err
		})
	}
	return nil
}
