package fabric

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dxmon/dxmon/fleet"
)

// Config is the deployment's configuration: the keys of
// config/dx-monitor.conf (docs/CONTRACTS.md lists them), including
// ADMIN_CIDR and the probe deployment's settings.
// Build it with ParseConfig or LoadConfig, or fill it in code and call
// Validate; every fabric entry point validates it again before any AWS call.
type Config struct {
	Region                string         // AWS_REGION
	VPCID                 string         // VPC_ID
	VPCCIDR               netip.Prefix   // VPC_CIDR
	VGWID                 string         // VGW_ID
	OnPremCIDRs           []netip.Prefix // ONPREM_CIDRS
	WorkloadSubnets       []string       // WORKLOAD_SUBNETS: appliances, probes, GWLB, NLB
	GWLBESubnets          []string       // GWLBE_SUBNETS: one GWLB endpoint each
	BusinessCIDRs         []netip.Prefix // BUSINESS_SUBNET_CIDRS: routed through the endpoints
	ApplianceInstanceType string         // APPLIANCE_INSTANCE_TYPE, default c6g.8xlarge (carries a 10 Gbps link, sizing.go)
	ProbeInstanceType     string         // PROBE_INSTANCE_TYPE, default c6gn.2xlarge
	MirrorVNI             int32          // MIRROR_VNI, default 12345
	ProjectTag            string         // PROJECT_TAG, default dx-monitoring
	AdminCIDR             netip.Prefix   // ADMIN_CIDR, optional: SSH to the appliances, the probes' page
	ProbeHealthPort       int32          // PROBE_HEALTH_PORT, default 9100: dxprobe -metrics, GET /healthz
	SNSTopicARN           string         // SNS_TOPIC_ARN, optional: the probes may publish to it
	ProbeBucket           string         // PROBE_BUCKET, default <project>-<account>-<region>
	ProbeBinary           string         // PROBE_BINARY: local path of the dxprobe binary (stage 08)
	ProbeUnit             string         // PROBE_UNIT: local path of dxprobe.service (stage 08)

	// Appliance deployment (stage 02) and the files both deployments write;
	// see artifacts.go.
	ApplianceBinary      string // APPLIANCE_BINARY: local path of the dxappliance binary; empty: not installed
	ApplianceUnit        string // APPLIANCE_UNIT, default examples/dxappliance/dxappliance.service
	ApplianceInstallPath string // APPLIANCE_INSTALL_PATH, default /usr/local/bin/dxappliance
	ApplianceEnvFile     string // APPLIANCE_ENV_FILE, default /etc/dxmon/dxappliance.env
	ProbeEnvFile         string // PROBE_ENV_FILE, default /etc/dxmon/dxprobe.env
	ProbeIPFIX           string // PROBE_IPFIX, optional: IPFIX collector URL written to the probes' env file
	SlackWebhookURL      string // SLACK_WEBHOOK_URL, optional, secret: written to the probes' env file, never logged
	FleetTable           string // PROBE_FLEET_TABLE, default <PROJECT_TAG>-fleet: the probes' shared DynamoDB table (fleet.go)
	ReturnRoutes         bool   // RETURN_ROUTES, default true (ParseConfig; false in a zero Config): business subnets route on-prem CIDRs through their AZ's GWLB endpoint
	GuardBinary          string // GUARD_BINARY: local path of a linux dxdeploy for the probes; empty: the guard is not installed (stage 08)
	GuardUnit            string // GUARD_UNIT, default examples/dxdeploy/dxguard.service

	// Sizing and failover of the in-line tier (sizing.go, failover.go).
	LinkBPS             float64       // LINK_BPS, default 10G: each direction's capacity, several links added up
	LinkMeanPacketBytes int           // LINK_MEAN_PACKET_BYTES, default 340 (Simple IMIX): mean IP packet size of the link
	AppliancesPerAZ     int           // APPLIANCES_PER_AZ, 0 = computed: may raise the computed count, never lower it
	ProbesPerAZ         int           // PROBES_PER_AZ, 0 = computed: may raise the computed count, never lower it
	GWLBTCPIdleTimeout  time.Duration // GWLB_TCP_IDLE_TIMEOUT, default 350s: the GWLB listener's tcp.idle_timeout.seconds (60s-6000s)
	// ProbeSettings holds the probe runtime keys set in the file
	// (PROBE_WORKERS, PROBE_SAMPLE_RATE, ALERT_THRESHOLD_BPS/PPS), copied
	// into the probes' environment file.
	ProbeSettings map[string]string
}

// Defaults of the optional keys (docs/CONTRACTS.md).
const (
	DefaultApplianceInstanceType = "c6g.8xlarge"
	DefaultProbeInstanceType     = "c6gn.2xlarge"
	DefaultMirrorVNI             = 12345
	DefaultProjectTag            = "dx-monitoring"
	DefaultProbeHealthPort       = 9100
	DefaultApplianceUnit         = "examples/dxappliance/dxappliance.service"
	DefaultApplianceInstallPath  = "/usr/local/bin/dxappliance"
	DefaultApplianceEnvFile      = "/etc/dxmon/dxappliance.env"
	DefaultProbeEnvFile          = "/etc/dxmon/dxprobe.env"
	DefaultLinkBPS               = 10e9
	DefaultLinkMeanPacketBytes   = 340
	DefaultGWLBTCPIdleTimeout    = 350 * time.Second
)

// requiredKeys are the keys a configuration file must set.
var requiredKeys = []string{"AWS_REGION", "VPC_ID", "VPC_CIDR", "VGW_ID", "ONPREM_CIDRS",
	"WORKLOAD_SUBNETS", "GWLBE_SUBNETS", "BUSINESS_SUBNET_CIDRS"}

// ConfigKeys lists every key a configuration may set, required ones first.
func ConfigKeys() []string {
	return append(append([]string{}, requiredKeys...), "APPLIANCE_INSTANCE_TYPE", "PROBE_INSTANCE_TYPE", "MIRROR_VNI",
		"PROJECT_TAG", "ADMIN_CIDR", "PROBE_HEALTH_PORT", "SNS_TOPIC_ARN", "PROBE_BUCKET", "PROBE_BINARY", "PROBE_UNIT",
		"APPLIANCE_BINARY", "APPLIANCE_UNIT", "APPLIANCE_INSTALL_PATH", "APPLIANCE_ENV_FILE", "PROBE_ENV_FILE", "PROBE_IPFIX",
		"SLACK_WEBHOOK_URL", "RETURN_ROUTES", "GUARD_BINARY", "GUARD_UNIT", "PROBE_FLEET_TABLE",
		"LINK_BPS", "LINK_MEAN_PACKET_BYTES", "APPLIANCES_PER_AZ", "PROBES_PER_AZ", "GWLB_TCP_IDLE_TIMEOUT")
}

// ignoredKeys are the probes' runtime keys, which may share the file;
// stage 08 copies them into the probes' environment file.
var ignoredKeys = map[string]bool{"PROBE_WORKERS": true, "PROBE_SAMPLE_RATE": true,
	"ALERT_THRESHOLD_BPS": true, "ALERT_THRESHOLD_PPS": true}

// LoadConfig reads and validates the KEY=VALUE file at path.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	kv, err := ReadKeyValues(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := ParseConfig(kv)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ReadKeyValues reads the shell-style KEY=VALUE format: one
// assignment a line, an optional "export " prefix, values optionally in
// single or double quotes, '#' comments and blank lines ignored. A line
// that is not an assignment is an error naming its number.
func ReadKeyValues(r io.Reader) (map[string]string, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !keyRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: not KEY=VALUE: %q", n, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		kv[k] = v
	}
	return kv, sc.Err()
}

var keyRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// ParseConfig builds a Config from KEY=VALUE pairs (the file's, with any
// command-line overrides already applied) and validates it. The first
// problem found is returned as one line naming the key.
func ParseConfig(kv map[string]string) (Config, error) {
	for _, k := range requiredKeys {
		if strings.TrimSpace(kv[k]) == "" {
			return Config{}, fmt.Errorf("%s is missing", k)
		}
	}
	known := map[string]bool{}
	for _, k := range ConfigKeys() {
		known[k] = true
	}
	for k := range kv {
		if !known[k] && !ignoredKeys[k] {
			return Config{}, fmt.Errorf("%s is not a known key", k)
		}
	}
	c := Config{
		Region:                kv["AWS_REGION"],
		VPCID:                 kv["VPC_ID"],
		VGWID:                 kv["VGW_ID"],
		WorkloadSubnets:       SplitList(kv["WORKLOAD_SUBNETS"]),
		GWLBESubnets:          SplitList(kv["GWLBE_SUBNETS"]),
		ApplianceInstanceType: orDefault(kv["APPLIANCE_INSTANCE_TYPE"], DefaultApplianceInstanceType),
		ProbeInstanceType:     orDefault(kv["PROBE_INSTANCE_TYPE"], DefaultProbeInstanceType),
		ProjectTag:            orDefault(kv["PROJECT_TAG"], DefaultProjectTag),
		SNSTopicARN:           kv["SNS_TOPIC_ARN"],
		ProbeBucket:           kv["PROBE_BUCKET"],
		ProbeBinary:           kv["PROBE_BINARY"],
		ProbeUnit:             kv["PROBE_UNIT"],
		MirrorVNI:             DefaultMirrorVNI,
		ProbeHealthPort:       DefaultProbeHealthPort,
		ApplianceBinary:       kv["APPLIANCE_BINARY"],
		ApplianceUnit:         orDefault(kv["APPLIANCE_UNIT"], DefaultApplianceUnit),
		ApplianceInstallPath:  orDefault(kv["APPLIANCE_INSTALL_PATH"], DefaultApplianceInstallPath),
		ApplianceEnvFile:      orDefault(kv["APPLIANCE_ENV_FILE"], DefaultApplianceEnvFile),
		ProbeEnvFile:          orDefault(kv["PROBE_ENV_FILE"], DefaultProbeEnvFile),
		ProbeIPFIX:            kv["PROBE_IPFIX"],
		SlackWebhookURL:       kv["SLACK_WEBHOOK_URL"],
		FleetTable:            kv["PROBE_FLEET_TABLE"],
	}
	var err error
	if c.VPCCIDR, err = parsePrefix("VPC_CIDR", kv["VPC_CIDR"]); err != nil {
		return Config{}, err
	}
	if c.OnPremCIDRs, err = parsePrefixes("ONPREM_CIDRS", kv["ONPREM_CIDRS"]); err != nil {
		return Config{}, err
	}
	if c.BusinessCIDRs, err = parsePrefixes("BUSINESS_SUBNET_CIDRS", kv["BUSINESS_SUBNET_CIDRS"]); err != nil {
		return Config{}, err
	}
	if v := kv["ADMIN_CIDR"]; v != "" {
		if c.AdminCIDR, err = parsePrefix("ADMIN_CIDR", v); err != nil {
			return Config{}, err
		}
		if c.AdminCIDR.Bits() == 0 { // SSH and the probes' page, never to every address
			return Config{}, fmt.Errorf("ADMIN_CIDR: %q is every address; want the on-premises admin network (SSH and the probes' page open to it)", v)
		}
	}
	if v := kv["MIRROR_VNI"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return Config{}, fmt.Errorf("MIRROR_VNI: %q is not a number", v)
		}
		c.MirrorVNI = int32(n)
	}
	if v := kv["PROBE_HEALTH_PORT"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return Config{}, fmt.Errorf("PROBE_HEALTH_PORT: %q is not a number", v)
		}
		c.ProbeHealthPort = int32(n)
	}
	for k := range ignoredKeys {
		if v := kv[k]; v != "" {
			if c.ProbeSettings == nil {
				c.ProbeSettings = map[string]string{}
			}
			c.ProbeSettings[k] = v
		}
	}
	// Both directions through the same appliance by default: AWS's gateway
	// route table documentation says return traffic "must be routed through
	// the same appliance. Asymmetric routing is not supported."
	c.ReturnRoutes = true
	c.GuardBinary, c.GuardUnit = kv["GUARD_BINARY"], orDefault(kv["GUARD_UNIT"], DefaultGuardUnit)
	if v := kv["RETURN_ROUTES"]; v != "" {
		b, ok := parseBool(v)
		if !ok {
			return Config{}, fmt.Errorf("RETURN_ROUTES: %q is not true or false", v)
		}
		c.ReturnRoutes = b
	}
	if err := c.parseSizing(kv); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// SplitList splits a list value on commas and white space.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func parsePrefix(key, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(v))
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s: %q is not an IPv4 CIDR", key, v)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s: %q has host bits set (want %s)", key, v, p.Masked())
	}
	return p, nil
}

func parsePrefixes(key, v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range SplitList(v) {
		p, err := parsePrefix(key, s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

var (
	projectRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,19}$`)
	idRE      = map[string]*regexp.Regexp{
		"VPC_ID": regexp.MustCompile(`^vpc-[0-9a-f]+$`),
		"VGW_ID": regexp.MustCompile(`^vgw-[0-9a-f]+$`),
		"subnet": regexp.MustCompile(`^subnet-[0-9a-f]+$`),
	}
)

// Validate checks everything that can be checked without AWS: presence,
// formats, CIDRs inside the VPC, and the AWS limits that depend on the
// configuration alone (rules per mirror filter). It returns one line naming
// the first bad key.
func (c Config) Validate() error {
	switch {
	case c.Region == "":
		return fmt.Errorf("AWS_REGION is missing")
	case !idRE["VPC_ID"].MatchString(c.VPCID):
		return fmt.Errorf("VPC_ID: %q is not a VPC ID (vpc-…)", c.VPCID)
	case !c.VPCCIDR.IsValid():
		return fmt.Errorf("VPC_CIDR is missing")
	case !idRE["VGW_ID"].MatchString(c.VGWID):
		return fmt.Errorf("VGW_ID: %q is not a virtual private gateway ID (vgw-…)", c.VGWID)
	case len(c.OnPremCIDRs) == 0:
		return fmt.Errorf("ONPREM_CIDRS is missing")
	case len(c.WorkloadSubnets) == 0:
		return fmt.Errorf("WORKLOAD_SUBNETS is missing")
	case len(c.GWLBESubnets) == 0:
		return fmt.Errorf("GWLBE_SUBNETS is missing")
	case len(c.BusinessCIDRs) == 0:
		return fmt.Errorf("BUSINESS_SUBNET_CIDRS is missing")
	case !projectRE.MatchString(c.ProjectTag):
		return fmt.Errorf("PROJECT_TAG: %q must be 1-20 letters, digits or '-' (it prefixes load balancer names of at most 32)", c.ProjectTag)
	case checkProjectBucket(c) != nil:
		return checkProjectBucket(c)
	case c.MirrorVNI < 0 || c.MirrorVNI > 1<<24-1:
		return fmt.Errorf("MIRROR_VNI: %d is outside 0-16777215", c.MirrorVNI)
	case c.ProbeHealthPort < 1 || c.ProbeHealthPort > 65535:
		return fmt.Errorf("PROBE_HEALTH_PORT: %d is not a port", c.ProbeHealthPort)
	case c.ApplianceInstanceType == "" || c.ProbeInstanceType == "":
		return fmt.Errorf("APPLIANCE_INSTANCE_TYPE and PROBE_INSTANCE_TYPE must not be empty")
	}
	if c.FleetTable != "" {
		if err := fleet.CheckTableName(c.FleetTable); err != nil {
			return fmt.Errorf("PROBE_FLEET_TABLE: %v", err)
		}
	}
	for _, key := range []string{"WORKLOAD_SUBNETS", "GWLBE_SUBNETS"} {
		list := c.WorkloadSubnets
		if key == "GWLBE_SUBNETS" {
			list = c.GWLBESubnets
		}
		seen := map[string]bool{}
		for _, s := range list {
			if !idRE["subnet"].MatchString(s) {
				return fmt.Errorf("%s: %q is not a subnet ID (subnet-…)", key, s)
			}
			if seen[s] {
				return fmt.Errorf("%s: %s is listed twice", key, s)
			}
			seen[s] = true
		}
	}
	for _, p := range c.BusinessCIDRs {
		if !c.VPCCIDR.Contains(p.Addr()) || p.Bits() < c.VPCCIDR.Bits() {
			return fmt.Errorf("BUSINESS_SUBNET_CIDRS: %s is outside VPC_CIDR %s", p, c.VPCCIDR)
		}
	}
	for _, p := range c.OnPremCIDRs {
		if p.Overlaps(c.VPCCIDR) {
			return fmt.Errorf("ONPREM_CIDRS: %s overlaps VPC_CIDR %s", p, c.VPCCIDR)
		}
	}
	if err := c.validateSizing(); err != nil {
		return err
	}
	if n := FilterRuleCount(); n > MaxRulesPerFilter {
		return fmt.Errorf("mirror filter: %d rules, over the AWS limit of %d rules per filter", n, MaxRulesPerFilter)
	}
	return c.validateDeployment()
}

// AWS limits fabric checks before it calls AWS.
const (
	// MaxRulesPerFilter is the number of rules a traffic mirror filter holds.
	MaxRulesPerFilter = 10
	// MaxSessionsPerENI is the number of mirror sessions one source ENI takes.
	MaxSessionsPerENI = 3
)

// FilterRuleCount is the number of rules of the mirror filter (see
// FilterRules): it no longer depends on the on-prem CIDRs, which the probes
// match on the inner packets.
func FilterRuleCount() int { return len(geneveRules(netip.MustParsePrefix("10.0.0.0/16"))) }
