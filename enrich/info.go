package enrich

// Info is what dxmon knows about an IP address: the EC2 instance or network
// interface that holds it, or the on-premises network it belongs to. The zero
// value means unknown. It is immutable once published in a snapshot.
type Info struct {
	// InstanceID is the EC2 instance ID ("i-…"); empty for interfaces
	// without an instance (load balancers, NAT gateways, endpoints, Lambda).
	InstanceID string `json:"instance_id,omitempty"`
	// Name is the instance's Name tag.
	Name string `json:"name,omitempty"`
	// ASG is the aws:autoscaling:groupName tag.
	ASG string `json:"asg,omitempty"`
	// Owner is the value of the configured owner tag (default key "Owner").
	Owner string `json:"owner,omitempty"`
	// ENI is the network interface ID ("eni-…") that holds the address.
	ENI string `json:"eni,omitempty"`
	// InterfaceType is the interface's type as EC2 reports it
	// ("interface", "network_load_balancer", "natGateway", "lambda",
	// "vpc_endpoint", "gateway_load_balancer_endpoint", …).
	InterfaceType string `json:"interface_type,omitempty"`
	// Description is the interface's description.
	Description string `json:"description,omitempty"`
	// OnPrem names the configured on-premises CIDR that contains the
	// address, when it is one.
	OnPrem string `json:"onprem,omitempty"`
}

// IsZero reports whether nothing is known about the address.
func (i Info) IsZero() bool { return i == Info{} }

// Label is the shortest useful human name: the Name tag, else the instance
// ID, else the interface description or ID, else "on-prem CIDR", else "".
func (i Info) Label() string {
	switch {
	case i.Name != "":
		return i.Name
	case i.InstanceID != "":
		return i.InstanceID
	case i.Description != "":
		return i.Description
	case i.ENI != "":
		return i.ENI
	case i.OnPrem != "":
		return "on-prem " + i.OnPrem
	}
	return ""
}
