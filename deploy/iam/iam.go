package iam

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Placeholder is the Resource of the SNS statement in ProbePolicyTemplate.
const Placeholder = "${SNS_TOPIC_ARN}"

// ProbePolicyTemplate is probe-policy.json as stored, with Placeholder.
//
//go:embed probe-policy.json
var ProbePolicyTemplate string

// ProbePolicy returns the probe's policy document for topicARN: the
// template with Placeholder replaced by the ARN, or, when topicARN is empty,
// without the statement that names it. A topicARN that is not an SNS ARN is
// an error naming it.
func ProbePolicy(topicARN string) (string, error) {
	if topicARN != "" {
		a, err := arn.Parse(topicARN)
		if err != nil || a.Service != "sns" || a.Resource == "" {
			return "", fmt.Errorf("iam: %q is not an SNS topic ARN", topicARN)
		}
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(ProbePolicyTemplate), &doc); err != nil {
		return "", fmt.Errorf("iam: parse embedded probe-policy.json: %w", err)
	}
	kept := doc.Statement[:0]
	for _, s := range doc.Statement {
		if s["Resource"] == Placeholder {
			if topicARN == "" {
				continue
			}
			s["Resource"] = topicARN
		}
		kept = append(kept, s)
	}
	doc.Statement = kept
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("iam: encode probe policy: %w", err)
	}
	return string(out), nil
}

// OperatorPolicy is dxdeploy-policy.json: the IAM actions the person (or
// CI role) running dxdeploy needs for plan, apply, verify, sync-enis and
// destroy. fabric's tests derive the list from the calls fabric makes and
// fail when the two differ.
//
//go:embed dxdeploy-policy.json
var OperatorPolicy string
