package fabric

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// MirrorPacketLength is the bytes of each frame a mirror session copies:
// headers only, about 90% less mirror bandwidth (seed section 6).
const MirrorPacketLength = 128

// RejectRuleNumber is the reject fallback's rule number, the last one AWS
// accepts (the seed's 32767 is out of range).
const RejectRuleNumber = 32766

// FilterRule is one traffic mirror filter rule. It never has a protocol:
// the seed's "--protocol 0" meant HOPOPT, not "all", and mirrored nothing.
type FilterRule struct {
	Direction   ec2types.TrafficDirection
	Number      int32
	Action      ec2types.TrafficMirrorRuleAction
	Source      string
	Destination string
}

// String renders the rule as "ingress 100 accept 172.16.0.0/12→10.0.0.0/16".
func (f FilterRule) String() string {
	return fmt.Sprintf("%s %d %s %s→%s", f.Direction, f.Number, f.Action, f.Source, f.Destination)
}

// FilterRules returns the rules of stage 06: accept every on-prem CIDR to
// and from the VPC, numbered 100, 200, …, and reject everything else.
func (d *Deployer) FilterRules() []FilterRule {
	vpc := d.cfg.VPCCIDR.String()
	var out []FilterRule
	for i, p := range d.cfg.OnPremCIDRs {
		n := int32(100 * (i + 1))
		out = append(out,
			FilterRule{ec2types.TrafficDirectionIngress, n, ec2types.TrafficMirrorRuleActionAccept, p.String(), vpc},
			FilterRule{ec2types.TrafficDirectionEgress, n, ec2types.TrafficMirrorRuleActionAccept, vpc, p.String()})
	}
	return append(out,
		FilterRule{ec2types.TrafficDirectionIngress, RejectRuleNumber, ec2types.TrafficMirrorRuleActionReject, "0.0.0.0/0", "0.0.0.0/0"},
		FilterRule{ec2types.TrafficDirectionEgress, RejectRuleNumber, ec2types.TrafficMirrorRuleActionReject, "0.0.0.0/0", "0.0.0.0/0"})
}

func (d *Deployer) filterName() string { return d.name("mirror-filter") }

func (d *Deployer) findFilter(ctx context.Context) (string, error) {
	out, err := d.c.EC2.DescribeTrafficMirrorFilters(ctx, &ec2.DescribeTrafficMirrorFiltersInput{Filters: d.byName(d.filterName())})
	if err != nil {
		return "", err
	}
	for _, f := range out.TrafficMirrorFilters {
		if d.owns(f.Tags, d.filterName()) {
			return aws.ToString(f.TrafficMirrorFilterId), nil
		}
	}
	return "", nil
}

// haveRule is a rule AWS holds: its ID, its content, and whether it carries
// fields fabric never sets (protocol, ports), which make it differ.
type haveRule struct {
	id    string
	rule  FilterRule
	extra bool
}

func (d *Deployer) filterRules(ctx context.Context, filter string) ([]haveRule, error) {
	var out []haveRule
	in := &ec2.DescribeTrafficMirrorFilterRulesInput{TrafficMirrorFilterId: aws.String(filter)}
	for {
		page, err := d.c.EC2.DescribeTrafficMirrorFilterRules(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, r := range page.TrafficMirrorFilterRules {
			out = append(out, haveRule{
				id:    aws.ToString(r.TrafficMirrorFilterRuleId),
				rule:  FilterRule{r.TrafficDirection, aws.ToInt32(r.RuleNumber), r.RuleAction, aws.ToString(r.SourceCidrBlock), aws.ToString(r.DestinationCidrBlock)},
				extra: r.Protocol != nil || r.SourcePortRange != nil || r.DestinationPortRange != nil,
			})
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// diffFilter returns the rules to create and the rule IDs to delete so that
// have becomes want.
func diffFilter(want []FilterRule, have []haveRule) (create []FilterRule, del []string) {
	ok := map[FilterRule]bool{}
	for _, h := range have {
		if !h.extra {
			ok[h.rule] = true
		}
	}
	wanted := map[FilterRule]bool{}
	for _, w := range want {
		wanted[w] = true
		if !ok[w] {
			create = append(create, w)
		}
	}
	for _, h := range have {
		if h.extra || !wanted[h.rule] {
			del = append(del, h.id)
		}
	}
	return create, del
}

// stageFilter is stage 06.
func (r *run) stageFilter(ctx context.Context) error {
	d := r.d
	want := d.FilterRules()
	if len(want) > MaxRulesPerFilter { // checked by Validate too; never call AWS past the limit
		return fmt.Errorf("stage %s: mirror filter %s: %d rules, over the AWS limit of %d", r.stage, d.filterName(), len(want), MaxRulesPerFilter)
	}
	name := d.filterName()
	id, err := r.ensureWith(ctx, "mirror-filter", name, fmt.Sprintf("%d rules", len(want)), d.findFilter, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{
			Description:       aws.String("dxmon: on-prem <-> VPC"),
			TagSpecifications: d.tagSpec(ec2types.ResourceTypeTrafficMirrorFilter, name, "mirror"),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.TrafficMirrorFilter.TrafficMirrorFilterId), nil
	})
	if err != nil {
		return err
	}
	var have []haveRule
	if !isPlanned(id) {
		if have, err = d.filterRules(ctx, id); err != nil {
			return r.fail("mirror-filter", name, fmt.Errorf("rules: %w", err))
		}
	}
	create, del := diffFilter(want, have)
	if len(have)-len(del)+len(create) > MaxRulesPerFilter {
		return fmt.Errorf("stage %s: mirror filter %s: would hold %d rules, over the AWS limit of %d", r.stage, name, len(have)-len(del)+len(create), MaxRulesPerFilter)
	}
	for _, rid := range del {
		if err := r.change(ctx, "mirror-filter-rule", name, rid, "delete", func(ctx context.Context) error {
			_, err := d.c.EC2.DeleteTrafficMirrorFilterRule(ctx, &ec2.DeleteTrafficMirrorFilterRuleInput{TrafficMirrorFilterRuleId: aws.String(rid)})
			if isNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	for _, fr := range want {
		missing := false
		for _, c := range create {
			missing = missing || c == fr
		}
		rname := name + " " + fr.String()
		if !missing {
			r.event("mirror-filter-rule", rname, id, Exists, "")
			continue
		}
		if _, err := r.ensure(ctx, "mirror-filter-rule", rname, func(context.Context) (string, error) { return "", nil }, func(ctx context.Context) (string, error) {
			out, err := d.c.EC2.CreateTrafficMirrorFilterRule(ctx, &ec2.CreateTrafficMirrorFilterRuleInput{
				TrafficMirrorFilterId: aws.String(id), TrafficDirection: fr.Direction, RuleNumber: aws.Int32(fr.Number),
				RuleAction: fr.Action, SourceCidrBlock: aws.String(fr.Source), DestinationCidrBlock: aws.String(fr.Destination),
				// No Protocol: omitted means every protocol.
			})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.TrafficMirrorFilterRule.TrafficMirrorFilterRuleId), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// SyncResult is what one ENI sync did.
type SyncResult struct {
	Created []string `json:"created"` // ENIs that got a session
	Deleted []string `json:"deleted"` // ENIs whose session was deleted (or found gone)
	Full    []string `json:"full"`    // ENIs that already carry MaxSessionsPerENI sessions
	// Repaired lists the ENIs whose session had drifted (target, filter,
	// VNI or packet length) and was modified back.
	Repaired []string `json:"repaired"`
}

// MarshalJSON writes empty lists as [], never null.
func (s SyncResult) MarshalJSON() ([]byte, error) {
	type plain SyncResult
	p := plain(s)
	for _, l := range []*[]string{&p.Created, &p.Deleted, &p.Full, &p.Repaired} {
		if *l == nil {
			*l = []string{}
		}
	}
	return json.Marshal(p)
}

// ErrENIFull is wrapped by the error of a sync that left an ENI without a
// session because it already has MaxSessionsPerENI.
var ErrENIFull = errors.New("fabric: ENI has the maximum number of mirror sessions")

// applianceENIs lists the network interfaces attached to the appliances.
func (d *Deployer) applianceENIs(ctx context.Context) ([]string, error) {
	inst, err := d.findInstances(ctx, "appliance", "")
	if err != nil || len(inst) == 0 {
		return nil, err
	}
	var ids []string
	for _, i := range inst {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	var enis []string
	p := ec2.NewDescribeNetworkInterfacesPaginator(d.c.EC2, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: ids}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range page.NetworkInterfaces {
			enis = append(enis, aws.ToString(n.NetworkInterfaceId))
		}
	}
	sort.Strings(enis)
	return enis, nil
}

func (d *Deployer) sessions(ctx context.Context, f []ec2types.Filter) ([]ec2types.TrafficMirrorSession, error) {
	var out []ec2types.TrafficMirrorSession
	p := ec2.NewDescribeTrafficMirrorSessionsPaginator(d.c.EC2, &ec2.DescribeTrafficMirrorSessionsInput{Filters: f})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.TrafficMirrorSessions...)
	}
	return out, nil
}

// ourSessions lists the sessions carrying this project's session tags,
// checked here as well as in the filter.
func (d *Deployer) ourSessions(ctx context.Context) ([]ec2types.TrafficMirrorSession, error) {
	all, err := d.sessions(ctx, d.byRole("session"))
	if err != nil {
		return nil, err
	}
	var out []ec2types.TrafficMirrorSession
	for _, s := range all {
		if d.ownsRole(s.Tags, "session") {
			out = append(out, s)
		}
	}
	return out, nil
}

// SessionDrift lists how a session differs from what fabric creates:
// target, filter, VNI and packet length, each as "field have → want".
// ModifyTrafficMirrorSession changes every one of them in place (EC2 API
// Reference, ModifyTrafficMirrorSession: TrafficMirrorTargetId,
// TrafficMirrorFilterId, PacketLength, SessionNumber, VirtualNetworkId),
// so a drifted session is modified, never deleted and recreated.
func SessionDrift(s ec2types.TrafficMirrorSession, target, filter string, vni int32) []string {
	var out []string
	if got := aws.ToString(s.TrafficMirrorTargetId); got != target {
		out = append(out, fmt.Sprintf("target %s → %s", got, target))
	}
	if got := aws.ToString(s.TrafficMirrorFilterId); got != filter {
		out = append(out, fmt.Sprintf("filter %s → %s", got, filter))
	}
	if got := aws.ToInt32(s.VirtualNetworkId); got != vni {
		out = append(out, fmt.Sprintf("VNI %d → %d", got, vni))
	}
	if got := aws.ToInt32(s.PacketLength); got != MirrorPacketLength {
		pl := "whole packet"
		if s.PacketLength != nil {
			pl = fmt.Sprint(got)
		}
		out = append(out, fmt.Sprintf("packet length %s → %d", pl, MirrorPacketLength))
	}
	return out
}

// ErrSessionShadowed is wrapped by the error of a sync (and of stage 07)
// that leaves an appliance ENI with another's mirror session of a lower
// session number: AWS evaluates the sessions of an interface in session
// number order and the first whose filter matches mirrors the packet
// (EC2 API Reference, TrafficMirrorSession.SessionNumber: "The first
// session with a matching filter is the one that mirrors the packets"),
// so that session takes the traffic ours should see. fabric does not
// renumber sessions to take it back: that decision is a person's.
var ErrSessionShadowed = errors.New("fabric: another mirror session on the ENI is evaluated first")

// Shadowing returns the sessions on an ENI, other than ours, whose lower
// session number makes AWS evaluate them before ours.
func Shadowing(ours ec2types.TrafficMirrorSession, onENI []ec2types.TrafficMirrorSession) []ec2types.TrafficMirrorSession {
	var out []ec2types.TrafficMirrorSession
	for _, o := range onENI {
		if aws.ToString(o.TrafficMirrorSessionId) != aws.ToString(ours.TrafficMirrorSessionId) &&
			aws.ToString(o.NetworkInterfaceId) == aws.ToString(ours.NetworkInterfaceId) &&
			aws.ToInt32(o.SessionNumber) < aws.ToInt32(ours.SessionNumber) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return aws.ToInt32(out[i].SessionNumber) < aws.ToInt32(out[j].SessionNumber) })
	return out
}

func shadowText(ours ec2types.TrafficMirrorSession, by []ec2types.TrafficMirrorSession) string {
	var b []string
	for _, o := range by {
		b = append(b, fmt.Sprintf("%s (session number %d)", aws.ToString(o.TrafficMirrorSessionId), aws.ToInt32(o.SessionNumber)))
	}
	return fmt.Sprintf("ENI %s: %s evaluated before ours (session number %d) and mirrors first what its filter matches; delete it or renumber it above %d",
		aws.ToString(ours.NetworkInterfaceId), strings.Join(b, ", "), aws.ToInt32(ours.SessionNumber), aws.ToInt32(ours.SessionNumber))
}

// FreeSessionNumber returns the lowest session number (1–32766) not used
// on an ENI, and false when the ENI already has MaxSessionsPerENI sessions.
func FreeSessionNumber(used []int32) (int32, bool) {
	if len(used) >= MaxSessionsPerENI {
		return 0, false
	}
	taken := map[int32]bool{}
	for _, u := range used {
		taken[u] = true
	}
	for n := int32(1); n <= 32766; n++ {
		if !taken[n] {
			return n, true
		}
	}
	return 0, false
}

// SyncPlan is the pure diff of the ENI sync: ENIs that need a session and
// ENIs of this project's sessions that are no longer appliance ENIs.
func SyncPlan(enis []string, sessionENIs []string) (add, remove []string) {
	have := map[string]bool{}
	for _, e := range sessionENIs {
		have[e] = true
	}
	want := map[string]bool{}
	for _, e := range enis {
		want[e] = true
		if !have[e] {
			add = append(add, e)
		}
	}
	for _, e := range sessionENIs {
		if !want[e] {
			remove = append(remove, e)
		}
	}
	sort.Strings(add)
	sort.Strings(remove)
	return add, remove
}

func (d *Deployer) sessionName(eni string) string { return d.name("session", eni) }

// syncSessions is stages 07 and 10: one session per appliance ENI, none for
// ENIs that are gone.
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
	enis, err := d.applianceENIs(ctx)
	if err != nil {
		return res, r.fail("appliance-enis", "*", err)
	}
	if r.plan && len(enis) == 0 && r.planned[StageGWLB] {
		for _, w := range r.env.workload {
			r.event("mirror-session", d.applianceName(w.az)+" primary ENI", "", Create,
				fmt.Sprintf("session number 1, VNI %d, packet length %d", d.cfg.MirrorVNI, MirrorPacketLength))
		}
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
		s, ok := byENI[e]
		if !ok {
			continue
		}
		name, id := d.sessionName(e), aws.ToString(s.TrafficMirrorSessionId)
		if drift := SessionDrift(s, target, filter, d.cfg.MirrorVNI); len(drift) > 0 {
			if err := r.change(ctx, "mirror-session", name, id, "repair "+strings.Join(drift, ", "), func(ctx context.Context) error {
				_, err := d.c.EC2.ModifyTrafficMirrorSession(ctx, &ec2.ModifyTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id),
					TrafficMirrorTargetId: aws.String(target), TrafficMirrorFilterId: aws.String(filter),
					VirtualNetworkId: aws.Int32(d.cfg.MirrorVNI), PacketLength: aws.Int32(MirrorPacketLength)})
				return err
			}); err != nil {
				errs = append(errs, err)
				continue
			}
			if !r.plan {
				res.Repaired = append(res.Repaired, e)
			}
		} else {
			r.event("mirror-session", name, id, Exists, "")
		}
		if err := r.checkShadow(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range add {
		name := d.sessionName(e)
		onENI, err := d.sessions(ctx, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: []string{e}}})
		if err != nil {
			errs = append(errs, r.fail("mirror-session", name, err))
			continue
		}
		var used []int32
		for _, s := range onENI {
			used = append(used, aws.ToInt32(s.SessionNumber))
		}
		num, ok := FreeSessionNumber(used)
		if !ok {
			res.Full = append(res.Full, e)
			errs = append(errs, fmt.Errorf("stage %s: mirror-session %s: ENI %s has %d sessions, the AWS limit of %d per source ENI: %w",
				r.stage, name, e, len(used), MaxSessionsPerENI, ErrENIFull))
			continue
		}
		var made ec2types.TrafficMirrorSession
		attrs := fmt.Sprintf("ENI %s, session number %d, VNI %d, packet length %d", e, num, d.cfg.MirrorVNI, MirrorPacketLength)
		_, err = r.ensureWith(ctx, "mirror-session", name, attrs, func(context.Context) (string, error) { return "", nil }, func(ctx context.Context) (string, error) {
			out, err := d.c.EC2.CreateTrafficMirrorSession(ctx, &ec2.CreateTrafficMirrorSessionInput{
				NetworkInterfaceId: aws.String(e), TrafficMirrorTargetId: aws.String(target), TrafficMirrorFilterId: aws.String(filter),
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
			errs = append(errs, err)
			continue
		}
		made.NetworkInterfaceId, made.SessionNumber = aws.String(e), aws.Int32(num)
		if by := Shadowing(made, onENI); len(by) > 0 {
			errs = append(errs, r.shadowed(made, by))
		}
		if !r.plan {
			res.Created = append(res.Created, e)
		}
	}
	for _, e := range remove {
		s := byENI[e]
		id := aws.ToString(s.TrafficMirrorSessionId)
		detail := "ENI " + e + " is no appliance ENI"
		if r.plan {
			r.event("mirror-session", d.sessionName(e), id, Change, "delete: "+detail)
			continue
		}
		_, err := d.c.EC2.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(id)})
		if isNotFound(err) {
			detail = "already gone with its ENI"
			err = nil
		}
		if err != nil {
			errs = append(errs, r.fail("mirror-session", d.sessionName(e), fmt.Errorf("delete %s: %w", id, err)))
			continue
		}
		res.Deleted = append(res.Deleted, e)
		r.event("mirror-session", d.sessionName(e), id, Deleted, detail)
	}
	return res, errors.Join(errs...)
}

// checkShadow reports (Warning event, and an error wrapping
// ErrSessionShadowed outside a plan) another's session evaluated before
// ours on the same ENI.
func (r *run) checkShadow(ctx context.Context, ours ec2types.TrafficMirrorSession) error {
	onENI, err := r.d.sessions(ctx, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: []string{aws.ToString(ours.NetworkInterfaceId)}}})
	if err != nil {
		return r.fail("mirror-session", r.d.sessionName(aws.ToString(ours.NetworkInterfaceId)), err)
	}
	if by := Shadowing(ours, onENI); len(by) > 0 {
		return r.shadowed(ours, by)
	}
	return nil
}

func (r *run) shadowed(ours ec2types.TrafficMirrorSession, by []ec2types.TrafficMirrorSession) error {
	eni := aws.ToString(ours.NetworkInterfaceId)
	text := shadowText(ours, by)
	r.event("mirror-session", r.d.sessionName(eni), aws.ToString(ours.TrafficMirrorSessionId), Warning, text)
	if r.plan {
		return nil
	}
	return fmt.Errorf("stage %s: mirror-session %s: %s: %w", r.stage, r.d.sessionName(eni), text, ErrSessionShadowed)
}
