package fabric

import (
	"context"
	"strconv"
	"strings"
)

// Stage 08 also installs the guard on every probe (with GUARD_BINARY): the
// dxdeploy binary as GuardBinaryPath, the unit GUARD_UNIT (default
// examples/dxdeploy/dxguard.service) as dxguard.service, and the keys the
// guard reads as GuardConfigFile (mode 0600, root; the unit hands it to its
// dynamic user as a credential), by the same S3 and Run Command path as
// dxprobe (artifacts.go), versioned in TagGuardVersion. Why the probes: see
// "Failing open" in the README; the probe role's guard statements
// (guardpolicy.go) include reading these artifacts.

// Where and how the guard is installed on the probes.
const (
	GuardBinaryPath  = "/usr/local/bin/dxdeploy"
	GuardConfigFile  = "/etc/dxmon/dx-monitor.conf"
	DefaultGuardUnit = "examples/dxdeploy/dxguard.service"
	// TagGuardVersion on a probe records the guard build stage 08 installed.
	TagGuardVersion = "dxmon:guard-version"
	// guardArtifactPrefix is the guard's S3 prefix in the artifact bucket.
	guardArtifactPrefix = "dxguard/"
)

// guardComponent is the guard as stage 08 installs it.
func (d *Deployer) guardComponent() component {
	c := d.cfg
	list := func(ps []string) string { return strings.Join(ps, ",") }
	var onprem, business []string
	for _, p := range c.OnPremCIDRs {
		onprem = append(onprem, p.String())
	}
	for _, p := range c.BusinessCIDRs {
		business = append(business, p.String())
	}
	env := []envVar{
		{key: "AWS_REGION", value: c.Region}, {key: "VPC_ID", value: c.VPCID}, {key: "VPC_CIDR", value: c.VPCCIDR.String()},
		{key: "VGW_ID", value: c.VGWID}, {key: "ONPREM_CIDRS", value: list(onprem)}, {key: "WORKLOAD_SUBNETS", value: list(c.WorkloadSubnets)},
		{key: "GWLBE_SUBNETS", value: list(c.GWLBESubnets)}, {key: "BUSINESS_SUBNET_CIDRS", value: list(business)},
		{key: "PROJECT_TAG", value: c.ProjectTag}, {key: "RETURN_ROUTES", value: strconv.FormatBool(c.ReturnRoutes)},
		{key: "APPLIANCE_INSTANCE_TYPE", value: c.ApplianceInstanceType}, {key: "PROBE_INSTANCE_TYPE", value: c.ProbeInstanceType},
		{key: "PROBE_FLEET_TABLE", value: d.fleetTable()}, // the guards' notice claims (GuardConfig.Claims)
	}
	if c.SNSTopicARN != "" {
		env = append(env, envVar{key: "SNS_TOPIC_ARN", value: c.SNSTopicARN})
	}
	if c.SlackWebhookURL != "" {
		env = append(env, envVar{key: "SLACK_WEBHOOK_URL", value: c.SlackWebhookURL, secret: true})
	}
	return component{name: "dxguard", role: "probe", from: StageProbes, binaryKey: "GUARD_BINARY", unitKey: "GUARD_UNIT",
		binaryPath: c.GuardBinary, unitPath: orDefault(c.GuardUnit, DefaultGuardUnit), install: GuardBinaryPath, envFile: GuardConfigFile, env: env,
		typeKey: "PROBE_INSTANCE_TYPE", instType: c.ProbeInstanceType, versionTag: TagGuardVersion, instName: d.probeNameN}
}

// deployGuard is stage 08's second part.
func (r *run) deployGuard(ctx context.Context) error {
	if r.d.cfg.GuardBinary == "" {
		r.event("guard-deployment", "dxguard", "", Skipped, "GUARD_BINARY unset: dxdeploy guard is not installed on the probes, "+
			"so nothing takes the appliances out of the path by itself (dxdeploy bypass still does by hand)")
		return nil
	}
	return r.deploy(ctx, r.d.guardComponent())
}
