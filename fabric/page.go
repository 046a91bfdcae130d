package fabric

import (
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The probes' page: dxprobe serves it, with /api/windows, on its -metrics
// listener, the port PROBE_HEALTH_PORT names (the NLB health check's).
// The on-call reaches it from on-premises over the link itself, so the
// probes' group opens that port to ADMIN_CIDR, and to nothing else: never
// to 0.0.0.0/0 (LoadConfig refuses a /0 ADMIN_CIDR), and not at all when
// ADMIN_CIDR is empty, which a plan says.
//
// AWS, AuthorizeSecurityGroupIngress (Amazon EC2 API Reference): "An
// inbound rule permits instances to receive traffic from the specified IPv4
// or IPv6 address range"; "Amazon Web Services canonicalizes IPv4 and IPv6
// CIDRs … Any subsequent DescribeSecurityGroups … calls will return the
// canonicalized form": ADMIN_CIDR is accepted only without host bits
// (parsePrefix), so the rule read back equals the rule asked for.

// pageRules are the probes' group's ingress rules for the page: the
// -metrics port from ADMIN_CIDR, none when ADMIN_CIDR is empty (or is the
// VPC's CIDR, which the health check's rule already opens).
func (d *Deployer) pageRules() []Rule {
	a := d.cfg.AdminCIDR
	if !a.IsValid() || a.Bits() == 0 || a == d.cfg.VPCCIDR {
		return nil
	}
	port := d.cfg.ProbeHealthPort
	return []Rule{{"tcp", port, port, a.String()}}
}

// pageNotice is the plan's (and apply's) word on the page when ADMIN_CIDR
// is empty: the page is reachable from the VPC only.
func (r *run) pageNotice() {
	if r.d.cfg.AdminCIDR.IsValid() {
		return
	}
	r.event("security-group", r.d.name("probe-sg"), "", Skipped, "ADMIN_CIDR is empty: the probes' page (tcp/"+
		strconv.Itoa(int(r.d.cfg.ProbeHealthPort))+") is open to the VPC only, not to on-premises; set ADMIN_CIDR to reach it")
}

// PageURL is the address of a probe's page: http://<private IP>:<port>/.
func PageURL(privateIP string, port int32) string {
	return "http://" + net.JoinHostPort(privateIP, strconv.Itoa(int(port))) + "/"
}

// probePages lists the pages of the probes that have a private address.
func (d *Deployer) probePages(probes []ec2types.Instance) []string {
	var out []string
	for _, p := range probes {
		if ip := aws.ToString(p.PrivateIpAddress); ip != "" {
			out = append(out, PageURL(ip, d.cfg.ProbeHealthPort))
		}
	}
	return out
}
