package fabric_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dxmon/dxmon/fabric"
)

// TestProbePolicyCoversDeployedPolicy: the policy stage 04 puts on the
// probe role grants every action of deploy/iam/probe-policy.json (the
// probe's own statement of what it calls), and no wildcard action.
func TestProbePolicyCoversDeployedPolicy(t *testing.T) {
	conf, err := fabric.ParseConfig(map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-1",
		"ONPREM_CIDRS": "172.16.0.0/12", "WORKLOAD_SUBNETS": "subnet-1", "GWLBE_SUBNETS": "subnet-2",
		"BUSINESS_SUBNET_CIDRS": "10.0.1.0/24", "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:dx",
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fabric.New(conf, fabric.NewClients(aws.Config{}), fabric.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, s := range d.ProbePolicy("123456789012").Statement {
		for _, a := range s.Action {
			if a == "*" || a[len(a)-1] == '*' {
				t.Errorf("wildcard action %q", a)
			}
			granted = append(granted, a)
		}
	}
	for _, a := range []string{"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "sns:Publish", "s3:GetObject"} {
		if !slices.Contains(granted, a) {
			t.Errorf("policy lacks %s", a)
		}
	}
	b, err := os.ReadFile("../deploy/iam/probe-policy.json")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("deploy/iam/probe-policy.json not written yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Action json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("deploy/iam/probe-policy.json: %v", err)
	}
	for _, s := range doc.Statement {
		var list []string
		if json.Unmarshal(s.Action, &list) != nil {
			var one string
			if err := json.Unmarshal(s.Action, &one); err != nil {
				t.Fatalf("deploy/iam/probe-policy.json: Action %s", s.Action)
			}
			list = []string{one}
		}
		for _, a := range list {
			if !slices.Contains(granted, a) {
				t.Errorf("deploy/iam/probe-policy.json needs %s, which stage 04 does not grant", a)
			}
		}
	}
}

// TestProbeIAMDocMatchesPolicy: deploy/iam's documentation names every
// action fabric grants the probe role, and no action it does not grant.
func TestProbeIAMDocMatchesPolicy(t *testing.T) {
	conf, err := fabric.ParseConfig(map[string]string{
		"AWS_REGION": "us-east-1", "VPC_ID": "vpc-1", "VPC_CIDR": "10.0.0.0/16", "VGW_ID": "vgw-1",
		"ONPREM_CIDRS": "172.16.0.0/12", "WORKLOAD_SUBNETS": "subnet-1", "GWLBE_SUBNETS": "subnet-2",
		"BUSINESS_SUBNET_CIDRS": "10.0.1.0/24", "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:dx",
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fabric.New(conf, fabric.NewClients(aws.Config{}), fabric.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../deploy/iam/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	granted := map[string]bool{}
	for _, s := range d.ProbePolicy("123456789012").Statement {
		for _, a := range s.Action {
			granted[a] = true
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(a) + `\b`).MatchString(doc) {
				t.Errorf("deploy/iam/doc.go does not name %s, which stage 04 grants the probe role", a)
			}
		}
	}
	for _, m := range regexp.MustCompile(`\b(ec2|sns|s3|ssm|ssmmessages|ec2messages):[A-Za-z]+\b`).FindAllString(doc, -1) {
		if !granted[m] {
			t.Errorf("deploy/iam/doc.go names %s, which stage 04 does not grant", m)
		}
	}
	if strings.Contains(doc, "exactly three") {
		t.Error("deploy/iam/doc.go still says the probe needs exactly three actions")
	}
}
