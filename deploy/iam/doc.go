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
// dxprobe itself calls three actions (probe-policy.json):
//
//   - ec2:DescribeInstances and ec2:DescribeNetworkInterfaces, for
//     enrichment (package enrich). EC2's Describe actions support no
//     resource-level permissions, so their Resource is "*"; they read
//     metadata only.
//   - sns:Publish on the alert topic only (package alert).
//
// The role fabric puts on the probe instances (fabric's ProbePolicy, stage
// 04) grants those and what deploying dxprobe needs besides, which is not
// dxprobe's own doing:
//
//   - dynamodb:PutItem, dynamodb:Query and dynamodb:UpdateItem on the fleet
//     table alone (PROBE_FLEET_TABLE, by its ARN), for the fleet view and
//     its alert claims (package fleet);
//   - s3:GetObject on the dxprobe/ prefix of the artifact bucket, for the
//     Run Command that installs it (stage 08);
//   - the SSM Agent's own calls, without which Run Command cannot reach the
//     instance (in place of the broad managed policy
//     AmazonSSMManagedInstanceCore): ssm:UpdateInstanceInformation,
//     ssm:ListInstanceAssociations, ssm:DescribeInstanceProperties,
//     ssm:DescribeDocumentParameters, ssm:GetDocument, ssm:PutInventory,
//     ssmmessages:CreateControlChannel, ssmmessages:CreateDataChannel,
//     ssmmessages:OpenControlChannel, ssmmessages:OpenDataChannel,
//     ec2messages:AcknowledgeMessage, ec2messages:DeleteMessage,
//     ec2messages:FailMessage, ec2messages:GetEndpoint,
//     ec2messages:GetMessages and ec2messages:SendReply.
//
// A test in package fabric (TestProbeIAMDocMatchesPolicy) keeps this list
// equal to what fabric grants.
//
// The document's SNS statement has the placeholder "${SNS_TOPIC_ARN}" (the
// its environment variable) as its Resource. ProbePolicy substitutes the topic's ARN,
// or drops the statement when the probe has no topic, and is what fabric
// passes to iam:PutRolePolicy for the probe role. Import it under another
// name beside the SDK's IAM client, for example
//
//	import dxiam "github.com/dxmon/dxmon/deploy/iam"
package iam
