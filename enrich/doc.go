// Package enrich maps IP addresses to what they are in AWS: the EC2 instance
// (ID, Name tag, Auto Scaling group, owner tag) and network interface (ID,
// type, description) that hold them, or the on-premises CIDR they fall in.
package enrich
