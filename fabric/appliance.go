package fabric

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The appliances' instance role: they pull dxappliance from the artifact
// bucket and take Run Command, nothing else.

func (d *Deployer) applianceIAM(account string) iamSpec {
	return iamSpec{role: d.name("appliance-role"), policy: d.name("appliance-policy"), profile: d.name("appliance-profile"),
		roleTag: "appliance", description: "dxmon appliances", doc: d.AppliancePolicy(account)}
}

// AppliancePolicy is the appliances' least-privilege policy: read the
// dxappliance artifacts of stage 02 and the SSM Agent's calls for Run
// Command.
func (d *Deployer) AppliancePolicy(account string) PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: "Artifacts", Effect: "Allow", Action: []string{"s3:GetObject"},
			Resource: []string{"arn:aws:s3:::" + d.bucket(account) + "/" + applianceArtifactPrefix + "*"}},
		{Sid: "RunCommand", Effect: "Allow", Action: runCommandActions(), Resource: []string{"*"}},
	}}
}

// deployAppliance is the end of stage 02: dxappliance, its unit and its
// environment file installed on the appliances like dxprobe on the probes
// (see deploy). Without APPLIANCE_BINARY nothing is installed and the
// appliances answer neither Geneve nor the health check unless the
// operator installs appliance software; stage 03 then waits for them to
// be healthy and fails.
func (r *run) deployAppliance(ctx context.Context) error {
	if r.d.cfg.ApplianceBinary == "" {
		r.event("appliance-deployment", "*", "", Skipped, "APPLIANCE_BINARY not set: no dxappliance installed; stage 03 needs healthy appliances")
		return nil
	}
	return r.deploy(ctx, r.d.applianceComponent())
}

// ensureProfile associates the instance profile with the instances that
// have none, such as appliances launched by a fabric that did not yet
// install dxappliance: without a role their SSM Agent cannot register, and
// Run Command cannot reach them. The agent picks the role up on its own
// (sendCommand then waits for the registration).
func (r *run) ensureProfile(ctx context.Context, kind string, ids []string, profile string) error {
	d := r.d
	var real []string
	for _, id := range ids {
		if !isPlanned(id) {
			real = append(real, id)
		}
	}
	if len(real) == 0 {
		return nil
	}
	has := map[string]bool{}
	in := &ec2.DescribeIamInstanceProfileAssociationsInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-id"), Values: real}}}
	for {
		out, err := d.c.EC2.DescribeIamInstanceProfileAssociations(ctx, in)
		if err != nil {
			return r.fail(kind, strings.Join(real, ","), fmt.Errorf("instance profile associations: %w", err))
		}
		for _, a := range out.IamInstanceProfileAssociations {
			if a.State == ec2types.IamInstanceProfileAssociationStateAssociated || a.State == ec2types.IamInstanceProfileAssociationStateAssociating {
				has[aws.ToString(a.InstanceId)] = true
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, id := range real {
		if has[id] {
			continue
		}
		if err := r.change(ctx, kind, id, id, "associate instance profile "+profile, func(ctx context.Context) error {
			_, err := d.c.EC2.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: aws.String(id),
				IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String(profile)}})
			if errorCode(err) == "IncorrectState" { // associated meanwhile
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
