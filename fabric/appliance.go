package fabric

import (
	"context"
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
