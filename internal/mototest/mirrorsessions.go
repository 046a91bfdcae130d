package mototest

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
)

// This file serves the traffic mirror sessions: created, modified, deleted
// and described in the proxy's memory.

type mirrorSession struct {
	ID            string   `xml:"trafficMirrorSessionId"`
	TargetID      string   `xml:"trafficMirrorTargetId"`
	FilterID      string   `xml:"trafficMirrorFilterId"`
	ENI           string   `xml:"networkInterfaceId"`
	OwnerID       string   `xml:"ownerId"`
	PacketLength  int      `xml:"packetLength,omitempty"`
	SessionNumber int      `xml:"sessionNumber"`
	VNI           int      `xml:"virtualNetworkId"`
	Description   string   `xml:"description,omitempty"`
	Tags          []xmlTag `xml:"tagSet>item"`
}

// createSession is CreateTrafficMirrorSession: session numbers 1-32766,
// unique per ENI, at most 3 sessions per ENI.
func (p *MirrorProxy) createSession(f url.Values) (any, *apiError) {
	st := &p.st
	// OwnerId is "the ID of the account that owns the Traffic Mirror
	// session" (EC2 API Reference, TrafficMirrorSession): the proxy's.
	s := &mirrorSession{ID: newID("tms-"), TargetID: f.Get("TrafficMirrorTargetId"), FilterID: f.Get("TrafficMirrorFilterId"),
		ENI: f.Get("NetworkInterfaceId"), OwnerID: p.Account(), PacketLength: atoi(f.Get("PacketLength")),
		SessionNumber: atoi(f.Get("SessionNumber")), VNI: atoi(f.Get("VirtualNetworkId")), Description: f.Get("Description"),
		Tags: tagsOf(f, "traffic-mirror-session")}
	switch {
	case s.ENI == "":
		return nil, &apiError{"MissingParameter", "NetworkInterfaceId"}
	case s.TargetID == "" || st.deletedTargets[s.TargetID]:
		return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + s.TargetID + " not found"}
	case s.FilterID == "" || st.deletedFilters[s.FilterID]:
		return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + s.FilterID + " not found"}
	case s.SessionNumber < 1 || s.SessionNumber > 32766:
		return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is outside 1-32766", s.SessionNumber)}
	}
	n := 0
	for _, o := range st.sessions {
		if o.ENI == s.ENI {
			n++
			if o.SessionNumber == s.SessionNumber {
				return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is in use on %s", s.SessionNumber, s.ENI)}
			}
		}
	}
	if n >= 3 {
		return nil, &apiError{"TrafficMirrorSessionsPerInterfaceLimitExceeded", s.ENI + " already has 3 sessions"}
	}
	st.sessions[s.ID] = s
	snap := *s // the answer, as it was: a later modify or delete does not change it
	return struct {
		S   *mirrorSession `xml:"trafficMirrorSession"`
		Tok string         `xml:"clientToken,omitempty"`
	}{&snap, f.Get("ClientToken")}, nil
}

// modifySession is ModifyTrafficMirrorSession, with RemoveField.N.
func (p *MirrorProxy) modifySession(f url.Values) (any, *apiError) {
	st := &p.st
	id := f.Get("TrafficMirrorSessionId")
	s, ok := st.sessions[id]
	if !ok {
		return nil, &apiError{"InvalidTrafficMirrorSessionId.NotFound", "session " + id + " not found"}
	}
	n := *s
	if v := f.Get("TrafficMirrorTargetId"); v != "" {
		if st.deletedTargets[v] {
			return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + v + " not found"}
		}
		n.TargetID = v
	}
	if v := f.Get("TrafficMirrorFilterId"); v != "" {
		if st.deletedFilters[v] {
			return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + v + " not found"}
		}
		n.FilterID = v
	}
	if f.Has("VirtualNetworkId") {
		n.VNI = atoi(f.Get("VirtualNetworkId"))
	}
	if f.Has("PacketLength") {
		n.PacketLength = atoi(f.Get("PacketLength"))
	}
	if f.Has("Description") {
		n.Description = f.Get("Description")
	}
	if f.Has("SessionNumber") {
		n.SessionNumber = atoi(f.Get("SessionNumber"))
		for _, o := range st.sessions {
			if o.ID != id && o.ENI == n.ENI && o.SessionNumber == n.SessionNumber {
				return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("session number %d is in use on %s", n.SessionNumber, n.ENI)}
			}
		}
	}
	// RemoveField.N: packet-length and description go back to their
	// defaults (EC2 API Reference, ModifyTrafficMirrorSession).
	for _, rf := range list(f, "RemoveField") {
		switch rf {
		case "packet-length":
			n.PacketLength = 0
		case "description":
			n.Description = ""
		case "virtual-network-id":
			n.VNI = 0
		}
	}
	if n.PacketLength < 0 || n.PacketLength > 8500 {
		return nil, &apiError{"InvalidParameterValue", fmt.Sprintf("packet length %d is outside 1-8500", n.PacketLength)}
	}
	*s = n
	snap := n
	return struct {
		S *mirrorSession `xml:"trafficMirrorSession"`
	}{&snap}, nil
}

// deleteSession is DeleteTrafficMirrorSession.
func (p *MirrorProxy) deleteSession(f url.Values) (any, *apiError) {
	st := &p.st
	id := f.Get("TrafficMirrorSessionId")
	if _, ok := st.sessions[id]; !ok {
		return nil, &apiError{"InvalidTrafficMirrorSessionId.NotFound", "session " + id + " not found"}
	}
	delete(st.sessions, id)
	return struct {
		ID string `xml:"trafficMirrorSessionId"`
	}{id}, nil
}

// describeSessions is DescribeTrafficMirrorSessions, by ID and filters, in
// pages of SetPageSize.
func (p *MirrorProxy) describeSessions(f url.Values) (any, *apiError) {
	st := &p.st
	ids, flt := list(f, "TrafficMirrorSessionId"), filters(f)
	var out []*mirrorSession
	for _, s := range st.sessions {
		if (len(ids) > 0 && !contains(ids, s.ID)) || !match(flt, s.Tags, map[string]string{
			"network-interface-id": s.ENI, "traffic-mirror-target-id": s.TargetID, "traffic-mirror-filter-id": s.FilterID,
			"traffic-mirror-session-id": s.ID, "session-number": strconv.Itoa(s.SessionNumber),
			"virtual-network-id": strconv.Itoa(s.VNI), "owner-id": s.OwnerID}) {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	out, next := page(out, f, p.pageSize)
	return struct {
		Set  []*mirrorSession `xml:"trafficMirrorSessionSet>item"`
		Next string           `xml:"nextToken,omitempty"`
	}{out, next}, nil
}
