package fabric

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	dxiam "github.com/dxmon/dxmon/deploy/iam"
)

// iamAction maps a client method of fabric (service prefix, method) to the
// IAM action that authorizes it, where the names differ: S3's HeadBucket
// and ListObjectsV2 need s3:ListBucket and HeadObject needs s3:GetObject
// (Amazon S3 API Reference, HeadBucket, ListObjectsV2, HeadObject; HeadObject
// answers a missing key with 404, which stage 08 relies on, only to a
// caller that also has s3:ListBucket, which HeadBucket needs anyway), and
// sts:GetCallerIdentity needs no permission at all (AWS STS API
// Reference, GetCallerIdentity: "No permissions are required to perform
// this operation").
var iamAction = map[string]string{
	"s3:HeadBucket":         "s3:ListBucket",
	"s3:ListObjectsV2":      "s3:ListBucket",
	"s3:HeadObject":         "s3:GetObject",
	"sts:GetCallerIdentity": "",
}

// impliedActions are authorized on the side of a call: tags given at
// creation need the tagging action too ("Grant permission to tag Amazon EC2
// resources during creation"; "ELB API permissions to tag resources during
// creation": elasticloadbalancing:AddTags; IAM's CreateRole and
// CreateInstanceProfile with Tags need iam:TagRole and
// iam:TagInstanceProfile), RunInstances with an instance profile
// needs iam:PassRole on its role, and the first load balancer of an
// account makes Elastic Load Balancing create its service-linked role
// AWSServiceRoleForElasticLoadBalancing with the caller's permission
// iam:CreateServiceLinkedRole ("Service-linked role for Elastic Load
// Balancing": "You must configure permissions to allow an IAM entity ...
// to create, edit, or delete a service-linked role"; the ELB API reference
// lists iam:CreateServiceLinkedRole among the permissions of
// CreateLoadBalancer), granted only for that service (TestOperatorPolicyServiceLinkedRole).
// DynamoDB's CreateTable with Tags is granted dynamodb:TagResource too, as
// the other services' tags on creation are (DynamoDB's tagging action is
// TagResource, API Reference).
var impliedActions = []string{"dynamodb:TagResource", "elasticloadbalancing:AddTags", "iam:PassRole", "iam:TagRole", "iam:TagInstanceProfile", "iam:CreateServiceLinkedRole"}

// operatorActions derives, from the narrow client interfaces every AWS
// call of fabric goes through (paginators and waiters included), the IAM
// actions the person running dxdeploy needs.
func operatorActions() []string {
	set := map[string]bool{}
	for prefix, iface := range map[string]reflect.Type{
		"ec2":                  reflect.TypeFor[EC2API](),
		"elasticloadbalancing": reflect.TypeFor[ELBAPI](),
		"iam":                  reflect.TypeFor[IAMAPI](),
		"s3":                   reflect.TypeFor[S3API](),
		"ssm":                  reflect.TypeFor[SSMAPI](),
		"sts":                  reflect.TypeFor[STSAPI](),
		"cloudwatch":           reflect.TypeFor[CloudWatchAPI](),
		"dynamodb":             reflect.TypeFor[DynamoDBAPI](),
	} {
		for i := range iface.NumMethod() {
			a := prefix + ":" + iface.Method(i).Name
			if m, ok := iamAction[a]; ok {
				a = m
			}
			if a != "" {
				set[a] = true
			}
		}
	}
	for _, a := range impliedActions {
		set[a] = true
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// TestOperatorPolicyMatchesCalls: deploy/iam/dxdeploy-policy.json grants
// exactly the actions of the calls fabric makes (no more, no fewer, no
// wildcard): a client method added to clients.go without its permission,
// or a permission left behind, fails here.
func TestOperatorPolicyMatchesCalls(t *testing.T) {
	var doc PolicyDocument
	if err := json.Unmarshal([]byte(dxiam.OperatorPolicy), &doc); err != nil {
		t.Fatalf("dxdeploy-policy.json: %v", err)
	}
	if doc.Version != "2012-10-17" {
		t.Fatalf("policy version %q", doc.Version)
	}
	var granted []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Fatalf("statement %s: effect %q", s.Sid, s.Effect)
		}
		granted = append(granted, s.Action...)
	}
	sort.Strings(granted)
	if diff := cmp.Diff(operatorActions(), granted); diff != "" {
		t.Fatalf("dxdeploy-policy.json's actions differ from fabric's calls (-calls +policy):\n%s", diff)
	}
}

// TestOperatorPolicyServiceLinkedRole: the operator may create Elastic
// Load Balancing's service-linked role, and no other service's: the
// statement carries the condition iam:AWSServiceName =
// elasticloadbalancing.amazonaws.com and names only that role.
func TestOperatorPolicyServiceLinkedRole(t *testing.T) {
	var doc struct {
		Statement []struct {
			Action    []string
			Resource  []string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(dxiam.OperatorPolicy), &doc); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			if a != "iam:CreateServiceLinkedRole" {
				continue
			}
			found++
			if len(s.Action) != 1 || s.Condition["StringEquals"]["iam:AWSServiceName"] != "elasticloadbalancing.amazonaws.com" ||
				len(s.Resource) != 1 || !strings.HasSuffix(s.Resource[0], "/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing") {
				t.Errorf("iam:CreateServiceLinkedRole statement not limited to Elastic Load Balancing: %+v", s)
			}
		}
	}
	if found != 1 {
		t.Errorf("iam:CreateServiceLinkedRole granted in %d statements, want 1", found)
	}
}
