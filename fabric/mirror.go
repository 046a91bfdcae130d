package fabric

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// MirrorPacketLength is the bytes of each frame a mirror session copies:
// headers only, about 90% less mirror bandwidth (seed section 6).
const MirrorPacketLength = 128

// ProtocolUDP is UDP's IANA protocol number, the value a mirror filter
// rule's Protocol takes for UDP. 0 would be HOPOPT, not "any" (the seed's
// "--protocol 0" mirrored nothing, seed section 14).
const ProtocolUDP = 17

// GeneveRuleNumber is the number of the mirror filter's one rule.
const GeneveRuleNumber = 100

// FilterRule is one traffic mirror filter rule.
type FilterRule struct {
	Direction   ec2types.TrafficDirection
	Number      int32
	Action      ec2types.TrafficMirrorRuleAction
	Source      string
	Destination string
	// Protocol is the IANA protocol number, 0 when the rule has none (every
	// protocol); fabric never sends 0, which AWS would read as HOPOPT.
	Protocol int32
	// DstFrom and DstTo are the destination port range, 0 when none.
	DstFrom, DstTo int32
}

// String renders the rule as "ingress 100 accept udp 10.0.0.0/16→10.0.0.0/16:6081".
func (f FilterRule) String() string {
	proto := "all"
	if f.Protocol == ProtocolUDP {
		proto = "udp"
	} else if f.Protocol != 0 {
		proto = fmt.Sprintf("proto-%d", f.Protocol)
	}
	s := fmt.Sprintf("%s %d %s %s %s→%s", f.Direction, f.Number, f.Action, proto, f.Source, f.Destination)
	if f.DstFrom != 0 || f.DstTo != 0 {
		if f.DstFrom == f.DstTo {
			s += fmt.Sprintf(":%d", f.DstFrom)
		} else {
			s += fmt.Sprintf(":%d-%d", f.DstFrom, f.DstTo)
		}
	}
	return s
}

// FilterRules returns the rules of stage 06: one rule, accepting the Geneve
// the appliance ENIs receive from the GWLB — UDP to port 6081 from the VPC
// CIDR (the GWLB's nodes) to the VPC CIDR (the appliance) — inbound only.
//
// What an appliance ENI carries is GWLB ↔ appliance Geneve: outer headers
// between VPC addresses, the on-premises packet inside. Rules on on-prem
// CIDRs would match no outer header, so the probes select on-prem traffic on
// the inner addresses (ONPREM_CIDRS in their environment file).
//
// Why inbound only: AWS evaluates inbound rules against the traffic the
// mirror source receives and outbound rules against the traffic it sends;
// "if you don't add outbound rules, then no outbound traffic is mirrored",
// and with no matching rule a packet is not mirrored ("Traffic mirror filter
// concepts", Amazon VPC Traffic Mirroring guide,
// https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-filters.html).
// The appliance sends every packet it received back to the GWLB, again as
// Geneve to UDP 6081, so an outbound rule would mirror each packet twice.
// With return routes (RETURN_ROUTES) the reply direction of a flow also
// arrives through the GWLB, and is mirrored once on its way in.
func (d *Deployer) FilterRules() []FilterRule { return geneveRules(d.cfg.VPCCIDR) }

func geneveRules(vpcCIDR netip.Prefix) []FilterRule {
	vpc := vpcCIDR.String()
	return []FilterRule{{Direction: ec2types.TrafficDirectionIngress, Number: GeneveRuleNumber, Action: ec2types.TrafficMirrorRuleActionAccept,
		Source: vpc, Destination: vpc, Protocol: ProtocolUDP, DstFrom: GenevePort, DstTo: GenevePort}}
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
// a field fabric never sets (a source port range), which makes it differ.
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
				rule:  ruleOf(r),
				extra: r.SourcePortRange != nil,
			})
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// ruleOf is the FilterRule of a rule AWS holds.
func ruleOf(r ec2types.TrafficMirrorFilterRule) FilterRule {
	f := FilterRule{Direction: r.TrafficDirection, Number: aws.ToInt32(r.RuleNumber), Action: r.RuleAction,
		Source: aws.ToString(r.SourceCidrBlock), Destination: aws.ToString(r.DestinationCidrBlock), Protocol: aws.ToInt32(r.Protocol)}
	if p := r.DestinationPortRange; p != nil {
		f.DstFrom, f.DstTo = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
	}
	if r.Protocol != nil && f.Protocol == 0 {
		f.Protocol = -1 // an explicit 0 is HOPOPT: never what fabric wants
	}
	return f
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
	id, err := r.ensureWith(ctx, "mirror-filter", name, fmt.Sprintf("%d rule%s", len(want), plural(len(want))), d.findFilter, func(ctx context.Context) (string, error) {
		out, err := d.c.EC2.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{
			Description:       aws.String("dxmon: GWLB Geneve into the appliances"),
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
			in := &ec2.CreateTrafficMirrorFilterRuleInput{
				TrafficMirrorFilterId: aws.String(id), TrafficDirection: fr.Direction, RuleNumber: aws.Int32(fr.Number),
				RuleAction: fr.Action, SourceCidrBlock: aws.String(fr.Source), DestinationCidrBlock: aws.String(fr.Destination),
			}
			if fr.Protocol > 0 { // never 0: that is HOPOPT, not "all"
				in.Protocol = aws.Int32(fr.Protocol)
			}
			if fr.DstFrom != 0 || fr.DstTo != 0 {
				in.DestinationPortRange = &ec2types.TrafficMirrorPortRangeRequest{FromPort: aws.Int32(fr.DstFrom), ToPort: aws.Int32(fr.DstTo)}
			}
			out, err := d.c.EC2.CreateTrafficMirrorFilterRule(ctx, in)
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
			for i := 1; i <= r.perAZ("appliance"); i++ {
				r.event("mirror-session", d.applianceNameN(w.az, i)+" primary ENI", "", Create,
					fmt.Sprintf("session number 1, VNI %d, packet length %d", d.cfg.MirrorVNI, MirrorPacketLength))
			}
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
