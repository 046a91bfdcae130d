package fabric_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/dxmon/dxmon/fabric"
)

func goodKV() map[string]string {
	return map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": "vpc-0123", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-0123",
		"ONPREM_CIDRS": "172.16.0.0/12 192.168.0.0/16", "WORKLOAD_SUBNETS": "subnet-01,subnet-02", "GWLBE_SUBNETS": "subnet-03",
		"BUSINESS_SUBNET_CIDRS": "10.0.21.0/24",
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := fabric.ParseConfig(goodKV())
	if err != nil {
		t.Fatal(err)
	}
	if c.ApplianceInstanceType != "c6g.8xlarge" || c.ProbeInstanceType != "c6gn.2xlarge" || c.MirrorVNI != 12345 ||
		c.ProjectTag != "dx-monitoring" || c.AdminCIDR.IsValid() || len(c.OnPremCIDRs) != 2 || len(c.WorkloadSubnets) != 2 {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestParseConfigErrors: every bad configuration fails with one line that
// names the key.
func TestParseConfigErrors(t *testing.T) {
	cases := map[string]struct {
		set  map[string]string
		want string
	}{
		"bad VPC CIDR":         {map[string]string{"VPC_CIDR": "10.0.0/16"}, `VPC_CIDR: "10.0.0/16" is not an IPv4 CIDR`},
		"host bits":            {map[string]string{"VPC_CIDR": "10.0.0.1/16"}, "VPC_CIDR: \"10.0.0.1/16\" has host bits set (want 10.0.0.0/16)"},
		"bad on-prem CIDR":     {map[string]string{"ONPREM_CIDRS": "172.16.0.0/12,banana"}, `ONPREM_CIDRS: "banana" is not an IPv4 CIDR`},
		"on-prem overlaps VPC": {map[string]string{"ONPREM_CIDRS": "10.0.0.0/8"}, "ONPREM_CIDRS: 10.0.0.0/8 overlaps VPC_CIDR 10.0.0.0/16"},
		"business outside VPC": {map[string]string{"BUSINESS_SUBNET_CIDRS": "10.1.21.0/24"}, "BUSINESS_SUBNET_CIDRS: 10.1.21.0/24 is outside VPC_CIDR 10.0.0.0/16"},
		"business wider":       {map[string]string{"BUSINESS_SUBNET_CIDRS": "10.0.0.0/8"}, "BUSINESS_SUBNET_CIDRS: 10.0.0.0/8 is outside VPC_CIDR"},
		"bad subnet":           {map[string]string{"WORKLOAD_SUBNETS": "subnet-01 sbnet-02"}, `WORKLOAD_SUBNETS: "sbnet-02" is not a subnet ID`},
		"twice":                {map[string]string{"GWLBE_SUBNETS": "subnet-03,subnet-03"}, "GWLBE_SUBNETS: subnet-03 is listed twice"},
		"bad VPC":              {map[string]string{"VPC_ID": "vgw-0123"}, `VPC_ID: "vgw-0123" is not a VPC ID`},
		"bad VGW":              {map[string]string{"VGW_ID": "vpc-0123"}, `VGW_ID: "vpc-0123" is not a virtual private gateway ID`},
		"bad VNI":              {map[string]string{"MIRROR_VNI": "12a"}, `MIRROR_VNI: "12a" is not a number`},
		"VNI range":            {map[string]string{"MIRROR_VNI": "16777216"}, "MIRROR_VNI: 16777216 is outside 0-16777215"},
		"bad admin":            {map[string]string{"ADMIN_CIDR": "0.0.0.0"}, `ADMIN_CIDR: "0.0.0.0" is not an IPv4 CIDR`},
		"long project":         {map[string]string{"PROJECT_TAG": "a-very-long-project-name-indeed"}, "PROJECT_TAG: \"a-very-long-project-name-indeed\" must be 1-20"},
		"unknown key":          {map[string]string{"VPCID": "vpc-1"}, "VPCID is not a known key"},
		"health port":          {map[string]string{"PROBE_HEALTH_PORT": "70000"}, "PROBE_HEALTH_PORT: 70000 is not a port"},
		// The mirror filter's one Geneve rule does not grow with the
		// on-prem CIDRs any more: the probes match them on inner packets.
		"many on-prem CIDRs ok":            {map[string]string{"ONPREM_CIDRS": "172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 198.18.0.0/15 203.0.113.0/24"}, ""},
		"return routes not bool":           {map[string]string{"RETURN_ROUTES": "maybe"}, `RETURN_ROUTES: "maybe" is not true or false`},
		"relative install path":            {map[string]string{"APPLIANCE_INSTALL_PATH": "bin/dxappliance"}, `APPLIANCE_INSTALL_PATH: "bin/dxappliance" must be an absolute path`},
		"env file with space":              {map[string]string{"PROBE_ENV_FILE": "/etc/dx mon/x.env"}, `PROBE_ENV_FILE: "/etc/dx mon/x.env" must be an absolute path`},
		"ipfix not a URL":                  {map[string]string{"PROBE_IPFIX": "collector"}, `PROBE_IPFIX: "collector" is not a collector URL`},
		"slack not https, no secret shown": {map[string]string{"SLACK_WEBHOOK_URL": "http://hooks.example/T0SECRET"}, "SLACK_WEBHOOK_URL: not an https URL (value not shown: it is a secret)"},
	}
	for _, key := range []string{"AWS_REGION", "VPC_ID", "VPC_CIDR", "VGW_ID", "ONPREM_CIDRS", "WORKLOAD_SUBNETS", "GWLBE_SUBNETS", "BUSINESS_SUBNET_CIDRS"} {
		cases["missing "+key] = struct {
			set  map[string]string
			want string
		}{map[string]string{key: ""}, key + " is missing"}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kv := goodKV()
			maps.Copy(kv, tc.set)
			_, err := fabric.ParseConfig(kv)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want one naming %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestReadKeyValues(t *testing.T) {
	kv, err := fabric.ReadKeyValues(strings.NewReader(`# comment
export AWS_REGION=eu-west-1
VPC_ID="vpc-1"   
VGW_ID='vgw-2'
ONPREM_CIDRS=172.16.0.0/12 # inline comment

EMPTY=
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"AWS_REGION": "eu-west-1", "VPC_ID": "vpc-1", "VGW_ID": "vgw-2", "ONPREM_CIDRS": "172.16.0.0/12", "EMPTY": ""}
	if !maps.Equal(kv, want) {
		t.Fatalf("got %v, want %v", kv, want)
	}
	if _, err := fabric.ReadKeyValues(strings.NewReader("A=1\nthis is not an assignment\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: err = %v, want one naming line 2", err)
	}
}

// TestExampleConfigParses keeps config/dx-monitor.conf valid.
func TestExampleConfigParses(t *testing.T) {
	c, err := fabric.LoadConfig("../config/dx-monitor.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.ProjectTag != "dx-monitoring" || len(c.OnPremCIDRs) != 2 || len(c.GWLBESubnets) != 2 {
		t.Fatalf("example config: %+v", c)
	}
}

// TestMotoBadSubnetsCreateNothing: subnets of another VPC, or unknown
// ones, stop Apply at stage 00 with a line naming the subnet, before any
// mutating call.
func TestMotoBadSubnetsCreateNothing(t *testing.T) {
	_, cfg, calls := emulator(t)
	w := makeWorld(t, cfg)
	ctx := context.Background()
	ec := ec2.NewFromConfig(cfg)
	other, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: other.Vpc.VpcId, CidrBlock: aws.String("10.9.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	foreign := aws.ToString(sub.Subnet.SubnetId)
	for name, tc := range map[string]struct{ key, value, want string }{
		"other VPC":   {"WORKLOAD_SUBNETS", foreign, "subnet " + foreign + " (10.9.1.0/24) is outside VPC_ID"},
		"unknown":     {"GWLBE_SUBNETS", "subnet-0000000000000dead", "subnet-0000000000000dead"},
		"VPC CIDR":    {"VPC_CIDR", "10.0.0.0/8", "VPC_CIDR 10.0.0.0/8 is not a CIDR of the VPC"},
		"VGW":         {"VGW_ID", "vgw-00000000000000001", "VGW_ID: vgw-00000000000000001 does not exist in us-east-1"},
		"missing VPC": {"VPC_ID", "vpc-00000000000000001", "VPC_ID: vpc-00000000000000001 does not exist in us-east-1"},
		"planned too": {"WORKLOAD_SUBNETS", foreign, "is outside VPC_ID"},
	} {
		t.Run(name, func(t *testing.T) {
			kv := maps.Clone(w.kv)
			kv[tc.key] = tc.value
			d := newDeployer(t, kv, cfg, nil)
			calls.reset(0, false)
			if name == "planned too" {
				_, err = d.Plan(ctx)
			} else {
				err = d.Apply(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "stage 00:") {
				t.Fatalf("err = %v, want stage 00 naming %q", err, tc.want)
			}
			if m := calls.list(); len(m) != 0 {
				t.Fatalf("mutating calls before the error: %v", m)
			}
		})
	}
	if inv := inventory(t, cfg, "dxtest"); len(inv) != 0 {
		t.Fatalf("resources created: %v", inv)
	}
}

// TestParseConfigSizingKeys: the sizing and failover keys, their defaults
// and their errors, each naming the key.
func TestParseConfigSizingKeys(t *testing.T) {
	c, err := fabric.ParseConfig(goodKV())
	if err != nil {
		t.Fatal(err)
	}
	if c.LinkBPS != 10e9 || c.LinkMeanPacketBytes != 340 || c.GWLBTCPIdleTimeout != 350*time.Second || c.AppliancesPerAZ != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	kv := goodKV()
	kv["LINK_BPS"], kv["GWLB_TCP_IDLE_TIMEOUT"], kv["APPLIANCES_PER_AZ"] = "10G,1.5G", "3600", "3"
	if c, err = fabric.ParseConfig(kv); err != nil || c.LinkBPS != 11.5e9 || c.GWLBTCPIdleTimeout != time.Hour || c.AppliancesPerAZ != 3 {
		t.Fatalf("%+v, %v", c, err)
	}
	for set, want := range map[[2]string]string{
		{"LINK_BPS", "10X"}:                   "LINK_BPS: \"10X\" is not a positive rate",
		{"LINK_MEAN_PACKET_BYTES", "20"}:      "LINK_MEAN_PACKET_BYTES: 20 is outside 40-8500",
		{"APPLIANCES_PER_AZ", "two"}:          "APPLIANCES_PER_AZ: \"two\" is not a whole number",
		{"PROBES_PER_AZ", "99"}:               "PROBES_PER_AZ: 99 is outside 0 (computed)-16",
		{"GWLB_TCP_IDLE_TIMEOUT", "59"}:       "GWLB_TCP_IDLE_TIMEOUT: 59s is not whole seconds in AWS's range 60s-6000s",
		{"GWLB_TCP_IDLE_TIMEOUT", "2h"}:       "GWLB_TCP_IDLE_TIMEOUT: 2h0m0s is not whole seconds",
		{"GWLB_TCP_IDLE_TIMEOUT", "soon"}:     "GWLB_TCP_IDLE_TIMEOUT: \"soon\" is not seconds",
		{"PROJECT_TAG", "DxMon"}:              "PROJECT_TAG: \"DxMon\" cannot start the artifact bucket's name",
		{"PROJECT_TAG", "xn--dx"}:             "PROJECT_TAG: \"xn--dx\" cannot start the artifact bucket's name",
		{"PROBE_BUCKET", "My_Bucket"}:         "PROBE_BUCKET: \"My_Bucket\" must be 3-63 lowercase",
		{"PROBE_BUCKET", "dxmon-art-s3alias"}: "PROBE_BUCKET: \"dxmon-art-s3alias\" ends with \"-s3alias\"",
	} {
		kv := goodKV()
		kv[set[0]] = set[1]
		_, err := fabric.ParseConfig(kv)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: err = %v, want %q", set[0], set[1], err, want)
		}
	}
}

// TestCheckNamesIsACopy: a caller that changes the list it got changes
// neither verify's order nor what ValidateChecks accepts.
func TestCheckNamesIsACopy(t *testing.T) {
	got := fabric.CheckNames()
	want := slices.Clone(got)
	got[0] = "nothing"
	if again := fabric.CheckNames(); !slices.Equal(again, want) {
		t.Errorf("after changing a copy: %v, want %v", again, want)
	}
	if err := fabric.ValidateChecks([]string{"nothing"}); err == nil {
		t.Error(`ValidateChecks accepts "nothing" after a caller changed its copy`)
	}
	if err := fabric.ValidateChecks(want); err != nil {
		t.Errorf("ValidateChecks(%v): %v", want, err)
	}
}
