package fabric

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Replacing the appliances one at a time (stage 02).
//
// Restarting dxappliance stops it returning packets for a moment; doing it
// on every appliance in one Run Command cuts the link. So stage 02 installs
// a new version on one appliance at a time:
//
//  1. when the appliance is a healthy target (it carries traffic), it is
//     deregistered and fabric waits until the GWLB has drained it (the
//     target leaves DescribeTargetHealth or is "unused", after the
//     deregistration delay of failover.go, during which "the Gateway Load
//     Balancer rehashes existing flows and sends them to healthy targets");
//     it refuses when no other target is healthy, since that would leave
//     the GWLB with nobody to send traffic to;
//  2. Run Command installs and restarts dxappliance on it alone;
//  3. it is registered again and fabric waits until it is healthy;
//  4. only then the next appliance.
//
// An appliance that was not healthy carries no traffic (target failover
// rebalances its flows): it is installed without the drain, and before
// any healthy one, so that the healthy ones are replaced last. A healthy
// appliance is drained only while another is healthy; when none is but
// this rollout has just installed some, it waits for those to pass their
// health checks first (a rollout cut between an appliance's install and
// its version tag leaves that one healthy and the others not yet
// installed: it is the next apply's only healthy target). An interrupted
// rollout converges: the next apply registers any appliance left
// deregistered (ensureTargets) and carries on with those whose version tag
// is not the new one.

// rollAppliances installs the appliance component's version on the stale
// appliances one at a time.
func (r *run) rollAppliances(ctx context.Context, c component, bucket, version string, stale []string) error {
	d := r.d
	kind := c.role + "-deployment"
	detail := c.name + " " + version
	tg, err := d.findTG(d.gwlbTGName())(ctx)
	if err != nil {
		return r.fail("target-group", d.gwlbTGName(), err)
	}
	healthy, err := r.healthyTargets(ctx, tg)
	if err != nil {
		return err
	}
	sort.Slice(stale, func(i, j int) bool { // idle ones first, then by ID
		if healthy[stale[i]] != healthy[stale[j]] {
			return !healthy[stale[i]]
		}
		return stale[i] < stale[j]
	})
	var installed []string // idle appliances installed by this rollout
	for _, id := range stale {
		serving := false
		if tg != "" {
			if healthy, err = r.healthyTargets(ctx, tg); err != nil {
				return err
			}
			serving = healthy[id]
			if serving && len(healthy) == 1 && len(installed) > 0 {
				for _, other := range installed { // let the fresh ones take over first
					if err := r.waitTargetHealthy(ctx, tg, other); err != nil {
						return err
					}
				}
				installed = nil
				if healthy, err = r.healthyTargets(ctx, tg); err != nil {
					return err
				}
			}
			if serving {
				if len(healthy) == 1 {
					return r.fail(kind, id, fmt.Errorf("not replacing %s: it is the only healthy appliance of %s, and draining it would leave the GWLB no target (fix the others first)", id, d.gwlbTGName()))
				}
				if err := r.drainTarget(ctx, tg, id); err != nil {
					return err
				}
			}
		}
		cmdID, err := r.sendCommand(ctx, kind, []string{id}, &ssm.SendCommandInput{
			DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id},
			Comment:    aws.String("dxmon: install " + detail),
			Parameters: map[string][]string{"commands": InstallScript(bucket, c.name, version, c.install, c.envFile)},
		})
		if err != nil {
			return err
		}
		if err := r.waitCommand(ctx, kind, cmdID, []string{id}); err != nil {
			return err
		}
		if _, err := d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{
			{Key: aws.String(c.versionTag), Value: aws.String(version)}}}); err != nil {
			return r.fail(kind, id, fmt.Errorf("tag version: %w", err))
		}
		if tg != "" {
			if _, err := d.c.ELB.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
				Targets: []elbtypes.TargetDescription{{Id: aws.String(id)}}}); err != nil {
				return r.fail(kind, id, fmt.Errorf("register again: %w", err))
			}
			if serving {
				if err := r.waitTargetHealthy(ctx, tg, id); err != nil {
					return err
				}
			} else {
				installed = append(installed, id)
			}
		}
		r.event(kind, id, cmdID, Created, detail)
	}
	return nil
}

// healthyTargets returns the healthy targets of the target group tg
// (none when tg is "").
func (r *run) healthyTargets(ctx context.Context, tg string) (map[string]bool, error) {
	healthy := map[string]bool{}
	if tg == "" {
		return healthy, nil
	}
	states, err := r.d.targetStates(ctx, tg)
	if err != nil {
		return nil, r.fail("target-group", r.d.gwlbTGName(), err)
	}
	for _, s := range states {
		if s.State == string(elbtypes.TargetHealthStateEnumHealthy) {
			healthy[s.ID] = true
		}
	}
	return healthy, nil
}

// drainTarget deregisters an appliance and waits until the GWLB has
// drained it.
func (r *run) drainTarget(ctx context.Context, tg, id string) error {
	d := r.d
	kind := "appliance-deployment"
	if _, err := d.c.ELB.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tg),
		Targets: []elbtypes.TargetDescription{{Id: aws.String(id)}}}); err != nil {
		return r.fail(kind, id, fmt.Errorf("deregister: %w", err))
	}
	r.event(kind, id, id, Waiting, fmt.Sprintf("deregistered; draining (deregistration delay %s)", DeregistrationDelay))
	return r.poll(ctx, kind, id, "waiting for the GWLB to drain it", func(ctx context.Context) (bool, error) {
		states, err := d.targetStates(ctx, tg)
		if err != nil {
			return false, err
		}
		for _, s := range states {
			if s.ID == id && s.State != string(elbtypes.TargetHealthStateEnumUnused) {
				return false, nil
			}
		}
		return true, nil
	})
}

// waitTargetHealthy waits until an appliance is a healthy target again;
// on timeout it names the state and reason.
func (r *run) waitTargetHealthy(ctx context.Context, tg, id string) error {
	d := r.d
	var last string
	err := r.poll(ctx, "appliance-deployment", id, "waiting for it to be healthy again", func(ctx context.Context) (bool, error) {
		states, err := d.targetStates(ctx, tg)
		if err != nil {
			return false, err
		}
		last = id + " not registered"
		for _, s := range states {
			if s.ID == id {
				last = s.String()
				return s.State == string(elbtypes.TargetHealthStateEnumHealthy), nil
			}
		}
		return false, nil
	})
	if err != nil {
		return r.fail("appliance-deployment", id, fmt.Errorf("not healthy after its restart, stopping before the next appliance: %s: %w", last, err))
	}
	return nil
}
