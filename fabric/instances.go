package fabric

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// liveStates are the instance states fabric counts as existing.
var liveStates = []string{"pending", "running", "stopping", "stopped"}

// findInstances returns the live instances with the given role (and Name,
// when name is not empty).
func (d *Deployer) findInstances(ctx context.Context, role, name string) ([]ec2types.Instance, error) {
	f := append(d.byRole(role), ec2types.Filter{Name: aws.String("instance-state-name"), Values: liveStates})
	if name != "" {
		f = append(f, ec2types.Filter{Name: aws.String("tag:" + TagName), Values: []string{name}})
	}
	var out []ec2types.Instance
	p := ec2.NewDescribeInstancesPaginator(d.c.EC2, &ec2.DescribeInstancesInput{Filters: f})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				if d.ownsRole(i.Tags, role) && (name == "" || tagValue(i.Tags, TagName) == name) {
					out = append(out, i)
				}
			}
		}
	}
	return out, nil
}

func (d *Deployer) findInstanceID(role, name string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		in, err := d.findInstances(ctx, role, name)
		if err != nil || len(in) == 0 {
			return "", err
		}
		return aws.ToString(in[0].InstanceId), nil
	}
}

// instanceSpec is one instance fabric launches.
type instanceSpec struct {
	role, name, subnet, sg, instanceType, profile, userData string
}

// ensureInstance finds or launches one instance. Launching retries while
// IAM has not propagated a new instance profile to EC2, polling rather
// than sleeping a fixed time.
func (r *run) ensureInstance(ctx context.Context, s instanceSpec) (string, error) {
	d := r.d
	attrs := fmt.Sprintf("%s in %s (%s), AMI %s", s.instanceType, s.subnet, r.env.subnetAZ[s.subnet], r.env.ami)
	return r.ensureWith(ctx, s.role+"-instance", s.name, attrs, d.findInstanceID(s.role, s.name), func(ctx context.Context) (string, error) {
		in := &ec2.RunInstancesInput{
			ImageId: aws.String(r.env.ami), InstanceType: ec2types.InstanceType(s.instanceType),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId: aws.String(s.subnet), SecurityGroupIds: []string{s.sg},
			MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{
				HttpTokens: ec2types.HttpTokensStateRequired, HttpEndpoint: ec2types.InstanceMetadataEndpointStateEnabled,
			},
			UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(s.userData))),
			TagSpecifications: append(d.tagSpec(ec2types.ResourceTypeInstance, s.name, s.role),
				d.tagSpec(ec2types.ResourceTypeVolume, s.name, s.role)...),
		}
		if s.profile != "" {
			in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(s.profile)}
		}
		if s.profile == "" {
			out, err := d.c.EC2.RunInstances(ctx, in)
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Instances[0].InstanceId), nil
		}
		var id string
		err := d.poll(ctx, "instance profile "+s.profile+" to reach EC2", func(ctx context.Context) (bool, error) {
			out, err := d.c.EC2.RunInstances(ctx, in)
			if err != nil {
				if errorCode(err) == "InvalidParameterValue" && strings.Contains(strings.ToLower(err.Error()), "iam") {
					return false, nil // IAM eventual consistency
				}
				return false, err
			}
			id = aws.ToString(out.Instances[0].InstanceId)
			return true, nil
		})
		return id, err
	})
}

// waitRunning waits for instances to run, with the SDK's waiter.
func (r *run) waitRunning(ctx context.Context, kind string, ids []string) error {
	var real []string
	for _, id := range ids {
		if !isPlanned(id) {
			real = append(real, id)
		}
	}
	if r.plan || len(real) == 0 {
		return nil
	}
	min, max := r.d.waitDelays()
	tick := r.ticker(kind, strings.Join(real, ","), "waiting for running")
	w := ec2.NewInstanceRunningWaiter(r.d.c.EC2, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = min, max
		o.Retryable = ticking(o.Retryable, tick)
	})
	if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: real}, r.d.opt.WaitTimeout); err != nil {
		return r.fail(kind, strings.Join(real, ","), fmt.Errorf("wait running: %w", err))
	}
	return nil
}

// terminate terminates the live instances of a role and waits until they
// are gone.
func (r *run) terminate(ctx context.Context, role string) error {
	d := r.d
	in, err := d.findInstances(ctx, role, "")
	if err != nil {
		return r.fail(role+"-instance", "*", err)
	}
	if len(in) == 0 {
		return nil
	}
	var ids []string
	for _, i := range in {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if _, err := d.c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil && !isNotFound(err) {
		return r.fail(role+"-instance", strings.Join(ids, ","), fmt.Errorf("terminate: %w", err))
	}
	min, max := d.waitDelays()
	tick := r.ticker(role+"-instance", strings.Join(ids, ","), "waiting for terminated")
	w := ec2.NewInstanceTerminatedWaiter(d.c.EC2, func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = min, max
		o.Retryable = ticking(o.Retryable, tick)
	})
	if err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, d.opt.WaitTimeout); err != nil {
		return r.fail(role+"-instance", strings.Join(ids, ","), fmt.Errorf("wait terminated: %w", err))
	}
	for _, i := range in {
		r.event(role+"-instance", tagValue(i.Tags, TagName), aws.ToString(i.InstanceId), Deleted, "")
	}
	return nil
}

// ApplianceUserData is the appliances' first-boot script: forwarding on.
// dxappliance, which returns GWLB's Geneve and answers the health check,
// arrives with stage 02's Run Command (APPLIANCE_BINARY).
const ApplianceUserData = `#!/bin/bash
set -eu
sysctl -w net.ipv4.ip_forward=1
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-dxmon-appliance.conf
`

// ProbeUserData is the probes' first-boot script: the NIC and kernel
// tuning of the receive path (docs/ARCHITECTURE.md: ring buffers, no interrupt coalescing,
// 256 MB/128 MB socket buffers, backlog, GRO, RPS over every CPU), kept
// across reboots, and tcpdump for diagnosis. dxprobe itself arrives with
// stage 08.
const ProbeUserData = `#!/bin/bash
set -u
dnf install -y tcpdump ethtool || true
IF=$(ip -o route show default | awk '{print $5; exit}')
IF=${IF:-eth0}
ethtool -G "$IF" rx 4096 tx 4096 || true
ethtool -C "$IF" rx-usecs 0 tx-usecs 0 || true
ethtool -K "$IF" gro on || true
cat > /etc/sysctl.d/90-dxmon-probe.conf <<'EOF'
net.core.rmem_max = 268435456
net.core.rmem_default = 134217728
net.core.netdev_max_backlog = 300000
EOF
sysctl --system
CPUS=$(nproc)
RPS_MASK=$(printf '%x' $(( (1 << CPUS) - 1 )))
for f in /sys/class/net/"$IF"/queues/rx-*/rps_cpus; do echo "$RPS_MASK" > "$f"; done
`
