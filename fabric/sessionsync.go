package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// mirrorEnds are the target and the filter every session of the
// deployment mirrors to and through.
type mirrorEnds struct{ target, filter string }

// syncSessions is stages 07 and 10: one session per appliance ENI, none for
// ENIs that are gone. Sessions on appliance ENIs are kept (and repaired if
// they drifted), ENIs without one get one, and sessions on ENIs that are no
// appliance's are deleted; every failure is collected and joined.
func (r *run) syncSessions(ctx context.Context) (SyncResult, error) {
	d := r.d
	var res SyncResult
	target, err := r.need(ctx, StageNLB, "mirror-target", d.mirrorTargetName(), d.findMirrorTarget)
	if err != nil {
		return res, err
	}
	filter, err := r.need(ctx, StageFilter, "mirror-filter", d.filterName(), d.findFilter)
	if err != nil {
		return res, err
	}
	ends := mirrorEnds{target, filter}
	enis, err := d.applianceENIs(ctx)
	if err != nil {
		return res, r.fail("appliance-enis", "*", err)
	}
	if r.plan && len(enis) == 0 && r.planned[StageGWLB] {
		r.planFirstSessions()
		return res, nil
	}
	ours, err := d.ourSessions(ctx)
	if err != nil {
		return res, r.fail("mirror-session", "*", err)
	}
	byENI := map[string]ec2types.TrafficMirrorSession{}
	var sessionENIs []string
	for _, s := range ours {
		e := aws.ToString(s.NetworkInterfaceId)
		byENI[e] = s
		sessionENIs = append(sessionENIs, e)
	}
	add, remove := SyncPlan(enis, sessionENIs)
	var errs []error
	for _, e := range enis {
		if s, ok := byENI[e]; ok {
			errs = append(errs, r.keepSession(ctx, &res, e, s, ends))
		}
	}
	for _, e := range add {
		errs = append(errs, r.addSession(ctx, &res, e, ends))
	}
	for _, e := range remove {
		errs = append(errs, r.removeSession(ctx, &res, e, byENI[e]))
	}
	return res, errors.Join(errs...)
}

// planFirstSessions is the plan of a first deployment, whose appliances
// (and so their ENIs) do not exist yet: a session per appliance to come.
func (r *run) planFirstSessions() {
	d := r.d
	for _, w := range r.env.workload {
		for i := 1; i <= r.perAZ("appliance"); i++ {
			r.event("mirror-session", d.applianceNameN(w.az, i)+" primary ENI", "", Create,
				fmt.Sprintf("session number 1, VNI %d, packet length %d", d.cfg.MirrorVNI, MirrorPacketLength))
		}
	}
}

// keepSession checks the session s of appliance ENI e: modified back to
// the deployment's target, filter, VNI and packet length if it drifted,
// and no other session on e may shadow it.
func (r *run) keepSession(ctx context.Context, res *SyncResult, e string, s ec2types.TrafficMirrorSession, ends mirrorEnds) error {
	d := r.d
	name, id := d.sessionName(e), aws.ToString(s.TrafficMirrorSessionId)
	drift := SessionDrift(s, ends.target, ends.filter, d.cfg.MirrorVNI)
	if len(drift) == 0 {
		r.event("mirror-session", name, id, Exists, "")
	} else {
		if err := r.change(ctx, "mirror-session", name, id, "repair "+strings.Join(drift, ", "), func(ctx context.Context) error {
			_, err := d.c.EC2.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id),
				TrafficMirrorTargetId: aws.String(ends.target), TrafficMirrorFilterId: aws.String(ends.filter),
				VirtualNetworkId: aws.Int32(d.cfg.MirrorVNI), PacketLength: aws.Int32(MirrorPacketLength)})
			return err
		}); err != nil {
			return err
		}
		if !r.plan {
			res.Repaired = append(res.Repaired, e)
		}
	}
	return r.checkShadow(ctx, s)
}

// addSession creates the session of appliance ENI e with the lowest
// session number free on e; e is Full when it already carries
// MaxSessionsPerENI sessions (other projects' included).
func (r *run) addSession(ctx context.Context, res *SyncResult, e string, ends mirrorEnds) error {
	d := r.d
	name := d.sessionName(e)
	onENI, err := d.sessions(ctx, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: []string{e}}})
	if err != nil {
		return r.fail("mirror-session", name, err)
	}
	var used []int32
	for _, s := range onENI {
		used = append(used, aws.ToInt32(s.SessionNumber))
	}
	num, ok := FreeSessionNumber(used)
	if !ok {
		res.Full = append(res.Full, e)
		return fmt.Errorf("stage %s: mirror-session %s: ENI %s has %d sessions, the AWS limit of %d per source ENI: %w",
			r.stage, name, e, len(used), MaxSessionsPerENI, ErrENIFull)
	}
	var made ec2types.TrafficMirrorSession
	attrs := fmt.Sprintf("ENI %s, session number %d, VNI %d, packet length %d", e, num, d.cfg.MirrorVNI, MirrorPacketLength)
	_, err = r.ensureWith(ctx, "mirror-session", name, attrs, func(context.Context) (string, error) { return "", nil }, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateTrafficMirrorSession(ctx, &ec2.CreateTrafficMirrorSessionInput{
			NetworkInterfaceId: aws.String(e), TrafficMirrorTargetId: aws.String(ends.target), TrafficMirrorFilterId: aws.String(ends.filter),
			SessionNumber: aws.Int32(num), VirtualNetworkId: aws.Int32(d.cfg.MirrorVNI), PacketLength: aws.Int32(MirrorPacketLength),
			Description:       aws.String("dxmon appliance ENI " + e),
			TagSpecifications: d.tagSpec(ec2types.ResourceTypeTrafficMirrorSession, name, "session"),
		})
		if err != nil {
			return "", err
		}
		made = *out.TrafficMirrorSession
		return aws.ToString(out.TrafficMirrorSession.TrafficMirrorSessionId), nil
	})
	if err != nil {
		return err
	}
	made.NetworkInterfaceId, made.SessionNumber = aws.String(e), aws.Int32(num)
	var shadowed error
	if by := Shadowing(made, onENI); len(by) > 0 {
		shadowed = r.shadowed(made, by)
	}
	if !r.plan {
		res.Created = append(res.Created, e)
	}
	return shadowed
}

// removeSession deletes the session s of ENI e, which is no appliance's
// (a plan only says so); a session already gone with its ENI counts as
// deleted.
func (r *run) removeSession(ctx context.Context, res *SyncResult, e string, s ec2types.TrafficMirrorSession) error {
	d := r.d
	id := aws.ToString(s.TrafficMirrorSessionId)
	detail := "ENI " + e + " is no appliance ENI"
	if r.plan {
		r.event("mirror-session", d.sessionName(e), id, Change, "delete: "+detail)
		return nil
	}
	_, err := d.c.EC2.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id)})
	if isNotFound(err) {
		detail = "already gone with its ENI"
		err = nil
	}
	if err != nil {
		return r.fail("mirror-session", d.sessionName(e), fmt.Errorf("delete %s: %w", id, err))
	}
	res.Deleted = append(res.Deleted, e)
	r.event("mirror-session", d.sessionName(e), id, Deleted, detail)
	return nil
}
