package fabric

import "fmt"

// Action says what happened, or in a plan what would happen, to a resource.
type Action string

// Actions. A plan reports Create, Exists and Change; apply reports Created,
// Exists and Changed; sync and destroy report Deleted. Waiting is a
// progress line during a long wait; Warning is something fabric will not
// repair by itself (another tool's mirror session that takes the traffic
// first).
const (
	Create  Action = "create"
	Change  Action = "change"
	Exists  Action = "exists"
	Created Action = "created"
	Changed Action = "changed"
	Deleted Action = "deleted"
	Waiting Action = "waiting"
	Warning Action = "warning"
	// Skipped reports a step left out by the configuration (APPLIANCE_BINARY
	// unset, RETURN_ROUTES off); the detail says why.
	Skipped Action = "skipped"
	// Info is a line of explanation that changes nothing: stage 00's
	// sizing table, the failover settings.
	Info Action = "info"
)

// Event is one progress line: a resource, what was done to it, its ID.
type Event struct {
	Stage  Stage  `json:"stage"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	ID     string `json:"id,omitempty"`
	Action Action `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// String renders the event as one line for people.
func (e Event) String() string {
	s := fmt.Sprintf("%s %-8s %-26s %s", e.Stage, e.Action, e.Kind, e.Name)
	if e.ID != "" && e.ID != e.Name && !isPlanned(e.ID) {
		s += " " + e.ID
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}
