package fabric

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func (d *Deployer) roleName() string    { return d.name("probe-role") }
func (d *Deployer) policyName() string  { return d.name("probe-policy") }
func (d *Deployer) profileName() string { return d.name("probe-profile") }
func (d *Deployer) probeName(az string) string {
	return d.name("probe", az)
}

// bucket is stage 08's artifact bucket.
func (d *Deployer) bucket(account string) string {
	if d.cfg.ProbeBucket != "" {
		return d.cfg.ProbeBucket
	}
	return fmt.Sprintf("%s-%s-%s", d.cfg.ProjectTag, account, d.cfg.Region)
}

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string
	Statement []PolicyStatement
}

// PolicyStatement is one statement of a PolicyDocument.
type PolicyStatement struct {
	Sid      string `json:",omitempty"`
	Effect   string
	Action   []string
	Resource []string
	// Condition maps an operator (StringEquals) to condition keys and
	// values.
	Condition map[string]map[string]string `json:",omitempty"`
}

// TrustPolicy lets EC2 assume the probe role.
const TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// ProbePolicy is the probes' least-privilege policy: describe
// instances and interfaces for enrichment, publish to SNS_TOPIC_ARN when
// set, read the dxprobe artifacts of stage 08 from the bucket, and the SSM
// agent's own calls for Run Command (in place of the broad managed policy).
func (d *Deployer) ProbePolicy(account string) PolicyDocument {
	p := PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: "Enrich", Effect: "Allow", Action: []string{"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces"}, Resource: []string{"*"}},
		{Sid: "Artifacts", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{"arn:aws:s3:::" + d.bucket(account) + "/" + artifactPrefix + "*"}},
		{Sid: "RunCommand", Effect: "Allow", Action: runCommandActions(), Resource: []string{"*"}},
	}}
	if d.cfg.GuardBinary != "" {
		p.Statement = append(p.Statement, d.GuardStatements(account)...) // stage 08 installs dxdeploy guard on the probes (guardpolicy.go)
	}
	// The fleet table, by ARN: write this probe's summaries, read the
	// window's, claim alerts (fleet.API).
	p.Statement = append(p.Statement, PolicyStatement{Sid: "Fleet", Effect: "Allow", Action: fleetActions, Resource: []string{d.FleetTableARN(account)}})
	if d.cfg.SNSTopicARN != "" {
		p.Statement = append(p.Statement, PolicyStatement{Sid: "Alert", Effect: "Allow", Action: []string{"sns:Publish"}, Resource: []string{d.cfg.SNSTopicARN}})
	}
	return p
}

// runCommandActions are the SSM Agent's own calls, which Run Command needs.
func runCommandActions() []string {
	return []string{
		"ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "ssm:DescribeInstanceProperties",
		"ssm:DescribeDocumentParameters", "ssm:GetDocument", "ssm:PutInventory",
		"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
		"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage", "ec2messages:GetEndpoint",
		"ec2messages:GetMessages", "ec2messages:SendReply"}
}

func (d *Deployer) iamTags(role string) []iamtypes.Tag {
	return []iamtypes.Tag{{Key: aws.String(TagProject), Value: aws.String(d.cfg.ProjectTag)}, {Key: aws.String(TagRole), Value: aws.String(role)}}
}

func ownedIAM(tags []iamtypes.Tag, project string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == TagProject && aws.ToString(t.Value) == project {
			return true
		}
	}
	return false
}

// samePolicy compares two policy documents as JSON values (IAM returns the
// document URL-encoded and may reorder white space).
func samePolicy(a, b string) bool {
	if s, err := url.QueryUnescape(a); err == nil {
		a = s
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// iamSpec is one instance role: its names, its inline policy and the role
// tag on the role and profile.
type iamSpec struct {
	role, policy, profile, roleTag, description string
	doc                                         PolicyDocument
}

func (d *Deployer) probeIAM(account string) iamSpec {
	return iamSpec{role: d.roleName(), policy: d.policyName(), profile: d.profileName(), roleTag: "probe",
		description: "dxmon probes", doc: d.ProbePolicy(account)}
}

// stageIAM is the IAM half of stage 04: role, inline policy, instance
// profile holding the role.
func (r *run) stageIAM(ctx context.Context) error {
	return r.ensureIAM(ctx, r.d.probeIAM(r.env.account))
}

// ensureIAM makes an instance role: role, inline policy, instance profile
// holding the role.
func (r *run) ensureIAM(ctx context.Context, spec iamSpec) error {
	d := r.d
	role, pol, prof := spec.role, spec.policy, spec.profile
	doc, _ := json.Marshal(spec.doc)
	_, err := r.ensure(ctx, "iam-role", role, func(ctx context.Context) (string, error) {
		out, err := d.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if isNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if !ownedIAM(out.Role.Tags, d.cfg.ProjectTag) {
			return "", fmt.Errorf("role %s exists without tag %s=%s: not adopting it", role, TagProject, d.cfg.ProjectTag)
		}
		return aws.ToString(out.Role.Arn), nil
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(TrustPolicy),
			Description: aws.String(spec.description), Tags: d.iamTags(spec.roleTag)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Role.Arn), nil
	})
	if err != nil {
		return err
	}
	var have string
	out, err := d.c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(pol)})
	if err != nil && !isNotFound(err) {
		return r.fail("iam-policy", pol, err)
	}
	if err == nil {
		have = aws.ToString(out.PolicyDocument)
	}
	put := func(ctx context.Context) error {
		_, err := d.c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(pol), PolicyDocument: aws.String(string(doc))})
		return err
	}
	switch {
	case have == "":
		if _, err := r.ensure(ctx, "iam-policy", pol, func(context.Context) (string, error) { return "", nil },
			func(ctx context.Context) (string, error) { return pol, put(ctx) }); err != nil {
			return err
		}
	case !samePolicy(have, string(doc)):
		if err := r.change(ctx, "iam-policy", pol, pol, "policy document differs", put); err != nil {
			return err
		}
	default:
		r.event("iam-policy", pol, pol, Exists, "")
	}

	var roles []iamtypes.Role
	_, err = r.ensure(ctx, "instance-profile", prof, func(ctx context.Context) (string, error) {
		out, err := d.c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(prof)})
		if isNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		roles = out.InstanceProfile.Roles
		return aws.ToString(out.InstanceProfile.Arn), nil
	}, func(ctx context.Context) (string, error) {
		out, err := d.c.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(prof), Tags: d.iamTags(spec.roleTag)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.InstanceProfile.Arn), nil
	})
	if err != nil {
		return err
	}
	for _, ro := range roles {
		if aws.ToString(ro.RoleName) == role {
			return nil
		}
	}
	return r.change(ctx, "instance-profile", prof, prof, "add role "+role, func(ctx context.Context) error {
		_, err := d.c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(prof), RoleName: aws.String(role)})
		if errorCode(err) == "LimitExceeded" { // the profile already holds its one role
			return nil
		}
		return err
	})
}

// stageProbes is stage 04: the fleet table and its endpoint (fleet.go),
// IAM, then one probe instance per AZ.
func (r *run) stageProbes(ctx context.Context) error {
	d := r.d
	if err := r.stageFleet(ctx); err != nil {
		return err
	}
	if err := r.stageIAM(ctx); err != nil {
		return err
	}
	sg, err := r.need(ctx, StageSecurity, "security-group", d.name("probe-sg"), d.findSGID(d.name("probe-sg")))
	if err != nil {
		return err
	}
	var ids []string
	for _, w := range r.env.workload {
		for i := 1; i <= r.perAZ("probe"); i++ {
			id, err := r.ensureInstance(ctx, instanceSpec{role: "probe", name: d.probeNameN(w.az, i), subnet: w.subnet, sg: sg,
				instanceType: d.cfg.ProbeInstanceType, profile: d.profileName(), userData: ProbeUserData})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
	}
	return r.waitRunning(ctx, "probe-instance", ids)
}
