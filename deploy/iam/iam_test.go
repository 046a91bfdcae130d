package iam_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	dxiam "github.com/dxmon/dxmon/deploy/iam"
	"github.com/dxmon/dxmon/internal/mototest"
)

const topic = "arn:aws:sns:us-east-1:123456789012:dxmon-alerts"

type statement struct {
	Effect   string
	Action   any
	Resource string
}

func parse(t *testing.T, doc string) (actions map[string]string) {
	t.Helper()
	var d struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, doc)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version %q, want 2012-10-17", d.Version)
	}
	actions = map[string]string{}
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement effect %q, want Allow", s.Effect)
		}
		var as []string
		switch a := s.Action.(type) {
		case string:
			as = []string{a}
		case []any:
			for _, x := range a {
				as = append(as, x.(string))
			}
		}
		for _, a := range as {
			actions[a] = s.Resource
		}
	}
	return actions
}

func TestProbePolicyIsLeastPrivilege(t *testing.T) {
	doc, err := dxiam.ProbePolicy(topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ec2:DescribeInstances":         "*",
		"ec2:DescribeNetworkInterfaces": "*",
		"sns:Publish":                   topic,
	}
	if diff := cmp.Diff(want, parse(t, doc)); diff != "" {
		t.Errorf("actions → resource (-want +got):\n%s", diff)
	}
	if strings.Contains(doc, dxiam.Placeholder) {
		t.Errorf("placeholder left in:\n%s", doc)
	}
	// The stored template has the same actions, with the placeholder.
	want["sns:Publish"] = dxiam.Placeholder
	if diff := cmp.Diff(want, parse(t, dxiam.ProbePolicyTemplate)); diff != "" {
		t.Errorf("template (-want +got):\n%s", diff)
	}
}

func TestProbePolicyWithoutTopic(t *testing.T) {
	doc, err := dxiam.ProbePolicy("")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for a := range parse(t, doc) {
		got = append(got, a)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces"}, got); diff != "" {
		t.Errorf("actions without a topic (-want +got):\n%s", diff)
	}
	if _, err := dxiam.ProbePolicy("arn:aws:sqs:us-east-1:1:q"); err == nil || !strings.Contains(err.Error(), "arn:aws:sqs") {
		t.Errorf("ProbePolicy(SQS ARN) = %v, want an error naming it", err)
	}
}

// moto's IAM validates policy documents as AWS does (syntax, actions,
// resources): the rendered policy must be accepted.
func TestProbePolicyAcceptedByIAM(t *testing.T) {
	s := mototest.Start(t)
	c := awsiam.NewFromConfig(s.Config(t))
	for _, arn := range []string{topic, ""} {
		doc, err := dxiam.ProbePolicy(arn)
		if err != nil {
			t.Fatal(err)
		}
		name := "dxmon-probe"
		if arn == "" {
			name += "-no-topic"
		}
		if _, err := c.CreatePolicy(context.Background(), &awsiam.CreatePolicyInput{
			PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Errorf("IAM rejected the probe policy (topic %q): %v\n%s", arn, err, doc)
		}
	}
	// And a broken document is rejected: the check can fail.
	if _, err := c.CreatePolicy(context.Background(), &awsiam.CreatePolicyInput{
		PolicyName: aws.String("broken"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`)}); err == nil {
		t.Error("moto accepted a policy with no Action and Resource; the check above proves nothing")
	}
}

// TestOperatorPolicyAcceptedByIAM: moto's IAM validates the operator
// policy, its service-linked-role condition included, as AWS does.
func TestOperatorPolicyAcceptedByIAM(t *testing.T) {
	s := mototest.Start(t)
	c := awsiam.NewFromConfig(s.Config(t))
	if _, err := c.CreatePolicy(context.Background(), &awsiam.CreatePolicyInput{
		PolicyName: aws.String("dxdeploy"), PolicyDocument: aws.String(dxiam.OperatorPolicy)}); err != nil {
		t.Fatalf("IAM rejected dxdeploy-policy.json: %v", err)
	}
}
