package fabric

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// MirrorSourceUnsupportedFamilies are the instance families AWS does not
// allow as a traffic mirror source: "Traffic Mirroring is not available on
// the following virtualized Nitro instance types" (Amazon VPC Traffic
// Mirroring, "Traffic Mirroring limitations", Instance types,
// https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-network-limitations.html).
// The appliances are the mirror sources, so APPLIANCE_INSTANCE_TYPE must be
// none of these. The same page: "Traffic Mirroring is not available on bare
// metal instances", and of the Xen (non-Nitro) types only MirrorSourceXenFamilies.
var MirrorSourceUnsupportedFamilies = []string{
	// General purpose
	"m8g", "m6a", "m6i", "m6id", "m6idn", "m6in", "m7a", "m7g", "m7gd", "m7i", "m7i-flex",
	// Compute optimized
	"c8g", "c6a", "c6gd", "c6gn", "c6i", "c6id", "c6in", "c7a", "c7g", "c7gd", "c7gn", "c7i",
	// Memory optimized
	"r8g", "r6a", "r6i", "r6id", "r6idn", "r6in", "r7a", "r7g", "r7gd", "r7i", "r7iz", "x8g", "x2idn", "x2iedn", "x2iezn",
	// Storage optimized
	"i4g", "i4i", "im4gn", "is4gen",
	// Accelerated computing
	"inf2", "p5", "trn1", "trn1n",
	// High-performance computing
	"hpc6a", "hpc6id", "hpc7a", "hpc7g",
}

// MirrorSourceXenFamilies are the only non-Nitro families Traffic
// Mirroring is available on ("C4, D2, G3, G3s, H1, I3, M4, P2, P3, R4, X1,
// and X1e. Note that this does not include T2 instances", same page).
var MirrorSourceXenFamilies = []string{"c4", "d2", "g3", "g3s", "h1", "i3", "m4", "p2", "p3", "r4", "x1", "x1e"}

// MirrorSourceError says why an instance type cannot be a traffic mirror
// source, or is nil.
func MirrorSourceError(it InstanceTypeInfo) error {
	family, _, _ := strings.Cut(strings.ToLower(it.Type), ".")
	const doc = "Traffic Mirroring limitations, https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-network-limitations.html"
	switch {
	case slices.Contains(MirrorSourceUnsupportedFamilies, family):
		return fmt.Errorf("%s: AWS does not support %s instances as a traffic mirror source (%s)", it.Type, strings.ToUpper(family[:1])+family[1:], doc)
	case it.BareMetal || strings.HasSuffix(it.Type, ".metal") || strings.Contains(it.Type, ".metal-"):
		return fmt.Errorf("%s: AWS does not support bare metal instances as a traffic mirror source (%s)", it.Type, doc)
	case strings.EqualFold(it.Hypervisor, "xen") && !slices.Contains(MirrorSourceXenFamilies, family):
		return fmt.Errorf("%s: of the Xen instance families AWS supports only %s as a traffic mirror source (%s)", it.Type, strings.Join(MirrorSourceXenFamilies, ", "), doc)
	}
	return nil
}

// instanceTypes reads the sizing facts of the given types in one call.
func (d *Deployer) instanceTypes(ctx context.Context, types ...string) (map[string]InstanceTypeInfo, error) {
	var in []ec2types.InstanceType
	for _, t := range types {
		if !slices.Contains(in, ec2types.InstanceType(t)) {
			in = append(in, ec2types.InstanceType(t))
		}
	}
	out, err := d.c.EC2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: in})
	if err != nil {
		return nil, err
	}
	m := map[string]InstanceTypeInfo{}
	for _, t := range out.InstanceTypes {
		it := InstanceTypeInfo{Type: string(t.InstanceType), BareMetal: aws.ToBool(t.BareMetal), Hypervisor: string(t.Hypervisor)}
		if t.VCpuInfo != nil {
			it.VCPUs = int(aws.ToInt32(t.VCpuInfo.DefaultVCpus))
		}
		if t.ProcessorInfo != nil {
			for _, a := range t.ProcessorInfo.SupportedArchitectures {
				it.Archs = append(it.Archs, string(a))
			}
		}
		if t.NetworkInfo != nil {
			for _, c := range t.NetworkInfo.NetworkCards {
				it.BaselineGbps += aws.ToFloat64(c.BaselineBandwidthInGbps)
			}
		}
		m[it.Type] = it
	}
	return m, nil
}

// sizeTiers is stage 00's sizing: it reads both instance types, checks the
// appliance type against Traffic Mirroring's sources and both against the
// AMI's architecture, computes the counts per AZ (ComputeSizing) and shows
// the arithmetic as a table. Everything fails here, before any write.
func (r *run) sizeTiers(ctx context.Context, e *env) error {
	d := r.d
	types, err := d.instanceTypes(ctx, d.cfg.ApplianceInstanceType, d.cfg.ProbeInstanceType)
	if err != nil {
		return r.fail("instance-types", d.cfg.ApplianceInstanceType+","+d.cfg.ProbeInstanceType, err)
	}
	get := func(key, t string) (InstanceTypeInfo, error) {
		it, ok := types[t]
		switch {
		case !ok:
			return it, fmt.Errorf("%s: %s is not an instance type of %s", key, t, d.cfg.Region)
		case !slices.Contains(it.Archs, AMIArchitecture):
			return it, fmt.Errorf("%s: %s runs %s, not %s, the architecture of the AMI (%s)", key, t, strings.Join(it.Archs, ", "), AMIArchitecture, AMIParameter)
		case it.BaselineGbps <= 0 || it.VCPUs <= 0:
			return it, fmt.Errorf("%s: DescribeInstanceTypes gave %s no baseline bandwidth or vCPUs to size with", key, t)
		}
		return it, nil
	}
	app, err := get("APPLIANCE_INSTANCE_TYPE", d.cfg.ApplianceInstanceType)
	if err != nil {
		return r.fail("instance-type", d.cfg.ApplianceInstanceType, err)
	}
	if err := MirrorSourceError(app); err != nil {
		return r.fail("instance-type", app.Type, fmt.Errorf("APPLIANCE_INSTANCE_TYPE: %w", err))
	}
	probe, err := get("PROBE_INSTANCE_TYPE", d.cfg.ProbeInstanceType)
	if err != nil {
		return r.fail("instance-type", d.cfg.ProbeInstanceType, err)
	}
	s, err := ComputeSizing(d.cfg, app, probe)
	if err != nil {
		return r.fail("sizing", "link", err)
	}
	e.sizing = s
	for _, row := range s.Rows() {
		r.event("sizing", row, "", Info, "")
	}
	return nil
}
