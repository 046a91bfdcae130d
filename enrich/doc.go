// Package enrich maps IP addresses to what they are in AWS: the EC2 instance
// (ID, Name tag, Auto Scaling group, owner tag) and network interface (ID,
// type, description) that hold them, or the on-premises CIDR they fall in.
//
// An Enricher reads one VPC with DescribeInstances and
// DescribeNetworkInterfaces (both paginated and filtered by vpc-id) and keeps
// the result as an immutable snapshot: every private IPv4 address and every
// IPv6 address of every interface maps to an Info. Interfaces with no
// instance (load balancers, NAT gateways, endpoints, Lambda) keep their type
// and description, and their own Name and owner tags if they have any. An
// instance's view of an interface wins over the interface's own.
//
// An OnPrem names addresses by the on-premises CIDRs alone, as an
// Enricher does for addresses outside its VPC, for a probe that reads no
// VPC: no AWS call, no refresh.
//
// # Lifetime and concurrency
//
// New checks the configuration and returns an Enricher with an empty
// snapshot. Run refreshes it at once and then every Config.Interval with
// jitter, until its context ends; Refresh does one refresh. Each successful
// refresh builds a new snapshot and swaps it in atomically, so Lookup and Get
// never lock and never allocate, and may be called from any goroutine while
// a refresh is running. The *Info that Get returns points into a snapshot
// that is never modified: share it, never write through it.
//
// # Failures
//
// A failed or throttled refresh keeps the previous snapshot whole, is counted
// (dxmon_enrich_refreshes_total{result="error"|"throttled"}), is logged once
// per streak of failures (and the recovery once), and is retried after
// Config.RetryMin, doubling up to Config.Interval. The snapshot's age is
// exported as dxmon_enrich_snapshot_age_seconds, its size as
// dxmon_enrich_entries. The SDK client's own retries happen inside each call.
//
// # Permissions
//
// The caller's credentials need ec2:DescribeInstances and
// ec2:DescribeNetworkInterfaces (see deploy/iam/probe-policy.json).
package enrich
