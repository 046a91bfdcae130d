// Package iam holds the least-privilege IAM policy of the probe instances
// (probe-policy.json beside this file) and renders it for one SNS topic,
// and the permissions of the person or CI role running dxdeploy
// (dxdeploy-policy.json, OperatorPolicy): exactly the actions behind
// fabric's AWS calls, plus those AWS authorizes beside them (tags given at
// creation, iam:PassRole for the probes' instance profile). A test in
// package fabric derives the list from fabric's client interfaces and fails
// when the file and the calls differ; its Resource is "*", to be narrowed
// to the account's VPC and the project's names by whoever grants it.
//
// The probe needs exactly three actions:
//
//   - ec2:DescribeInstances and ec2:DescribeNetworkInterfaces, for
//     enrichment (package enrich). EC2's Describe actions support no
//     resource-level permissions, so their Resource is "*"; they read
//     metadata only.
//   - sns:Publish on the alert topic only (package alert).
//
// The document's SNS statement has the placeholder "${SNS_TOPIC_ARN}" (the
// its environment variable) as its Resource. ProbePolicy substitutes the topic's ARN,
// or drops the statement when the probe has no topic, and is what fabric
// passes to iam:PutRolePolicy for the probe role. Import it under another
// name beside the SDK's IAM client, for example
//
//	import dxiam "github.com/dxmon/dxmon/deploy/iam"
package iam
