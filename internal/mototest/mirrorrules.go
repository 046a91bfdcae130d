package mototest

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
)

// This file serves the traffic mirror filter rules: created, deleted and
// described in the proxy's memory.

type mirrorRule struct {
	ID         string `xml:"trafficMirrorFilterRuleId"`
	FilterID   string `xml:"trafficMirrorFilterId"`
	Direction  string `xml:"trafficDirection"`
	RuleNumber int    `xml:"ruleNumber"`
	RuleAction string `xml:"ruleAction"`
	Protocol   *int   `xml:"protocol,omitempty"`
	// Port ranges as AWS returns them (TrafficMirrorPortRange).
	DestinationPortRange *portRange `xml:"destinationPortRange,omitempty"`
	SourcePortRange      *portRange `xml:"sourcePortRange,omitempty"`
	Destination          string     `xml:"destinationCidrBlock"`
	Source               string     `xml:"sourceCidrBlock"`
	Description          string     `xml:"description,omitempty"`
	Tags                 []xmlTag   `xml:"tagSet>item"`
}

type portRange struct {
	From int `xml:"fromPort"`
	To   int `xml:"toPort"`
}

func portRangeOf(f url.Values, key string) *portRange {
	if !f.Has(key+".FromPort") && !f.Has(key+".ToPort") {
		return nil
	}
	return &portRange{atoi(f.Get(key + ".FromPort")), atoi(f.Get(key + ".ToPort"))}
}

// createRule is CreateTrafficMirrorFilterRule: rule numbers 1-32766,
// unique per filter and direction, at most 10 rules per filter.
func (p *MirrorProxy) createRule(f url.Values) (any, *apiError) {
	st := &p.st
	fid := f.Get("TrafficMirrorFilterId")
	if fid == "" || st.deletedFilters[fid] {
		return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + fid + " not found"}
	}
	r := &mirrorRule{ID: newID("tmfr-"), FilterID: fid, Direction: f.Get("TrafficDirection"), RuleNumber: atoi(f.Get("RuleNumber")),
		RuleAction: f.Get("RuleAction"), Destination: f.Get("DestinationCidrBlock"), Source: f.Get("SourceCidrBlock"),
		Description: f.Get("Description"), Tags: tagsOf(f, "traffic-mirror-filter-rule")}
	if f.Has("Protocol") {
		n := atoi(f.Get("Protocol"))
		r.Protocol = &n
	}
	r.DestinationPortRange, r.SourcePortRange = portRangeOf(f, "DestinationPortRange"), portRangeOf(f, "SourcePortRange")
	if r.RuleNumber < 1 || r.RuleNumber > 32766 {
		return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("rule number %d is outside 1-32766", r.RuleNumber)}
	}
	count := 0
	for _, o := range st.rules {
		if o.FilterID == fid {
			count++
			if o.Direction == r.Direction && o.RuleNumber == r.RuleNumber {
				return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("rule number %d already used in direction %s", r.RuleNumber, r.Direction)}
			}
		}
	}
	if count >= 10 {
		return nil, &apiError{"TrafficMirrorFilterRuleLimitExceeded", "filter " + fid + " already has 10 rules"}
	}
	st.rules[r.ID] = r
	return struct {
		R   *mirrorRule `xml:"trafficMirrorFilterRule"`
		Tok string      `xml:"clientToken,omitempty"`
	}{r, f.Get("ClientToken")}, nil
}

// deleteRule is DeleteTrafficMirrorFilterRule.
func (p *MirrorProxy) deleteRule(f url.Values) (any, *apiError) {
	st := &p.st
	id := f.Get("TrafficMirrorFilterRuleId")
	if _, ok := st.rules[id]; !ok {
		return nil, &apiError{"InvalidTrafficMirrorFilterRuleId.NotFound", "rule " + id + " not found"}
	}
	delete(st.rules, id)
	return struct {
		ID string `xml:"trafficMirrorFilterRuleId"`
	}{id}, nil
}

// describeRules is DescribeTrafficMirrorFilterRules, by ID, filter ID and
// filters, in pages of SetPageSize.
func (p *MirrorProxy) describeRules(f url.Values) (any, *apiError) {
	st := &p.st
	ids, fid, flt := list(f, "TrafficMirrorFilterRuleId"), f.Get("TrafficMirrorFilterId"), filters(f)
	var out []*mirrorRule
	for _, r := range st.rules {
		if (fid != "" && r.FilterID != fid) || (len(ids) > 0 && !contains(ids, r.ID)) ||
			!match(flt, r.Tags, map[string]string{"traffic-direction": r.Direction, "rule-action": r.RuleAction,
				"rule-number": strconv.Itoa(r.RuleNumber), "source-cidr-block": r.Source, "destination-cidr-block": r.Destination,
				"traffic-mirror-filter-rule-id": r.ID}) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	out, next := page(out, f, p.pageSize)
	return struct {
		Set  []*mirrorRule `xml:"trafficMirrorFilterRuleSet>item"`
		Next string        `xml:"nextToken,omitempty"`
	}{out, next}, nil
}
