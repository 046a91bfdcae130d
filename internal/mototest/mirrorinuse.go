package mototest

import "net/url"

// This file serves the deletion of traffic mirror filters and targets,
// which moto creates and describes: one in use by a session cannot be
// deleted, and a deleted one is hidden from moto's Describe answers (see
// dropGone).

// deleteFilter is DeleteTrafficMirrorFilter; the filter's rules go with it.
func (p *MirrorProxy) deleteFilter(f url.Values) (any, *apiError) {
	st := &p.st
	id := f.Get("TrafficMirrorFilterId")
	if st.deletedFilters[id] {
		return nil, &apiError{"InvalidTrafficMirrorFilterId.NotFound", "filter " + id + " not found"}
	}
	for _, s := range st.sessions {
		if s.FilterID == id {
			return nil, &apiError{"DependencyViolation", "filter " + id + " is used by session " + s.ID}
		}
	}
	for rid, r := range st.rules {
		if r.FilterID == id {
			delete(st.rules, rid)
		}
	}
	st.deletedFilters[id] = true
	return struct {
		ID string `xml:"trafficMirrorFilterId"`
	}{id}, nil
}

// deleteTarget is DeleteTrafficMirrorTarget.
func (p *MirrorProxy) deleteTarget(f url.Values) (any, *apiError) {
	st := &p.st
	id := f.Get("TrafficMirrorTargetId")
	if st.deletedTargets[id] {
		return nil, &apiError{"InvalidTrafficMirrorTargetId.NotFound", "target " + id + " not found"}
	}
	for _, s := range st.sessions {
		if s.TargetID == id {
			return nil, &apiError{"DependencyViolation", "target " + id + " is used by session " + s.ID}
		}
	}
	st.deletedTargets[id] = true
	return struct {
		ID string `xml:"trafficMirrorTargetId"`
	}{id}, nil
}
