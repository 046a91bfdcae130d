// Package fabric builds, plans, verifies, syncs and destroys the AWS
// pipeline of dxmon: appliances behind a Gateway Load Balancer that the
// VGW's ingress route table sends on-premises traffic through, a traffic
// mirror session on every appliance ENI, and the probes behind an internal
// NLB that receive the mirrored VXLAN.
//
// One builder per stage of the pipeline (00 init … 08 probe
// deployment, 09 verify, 10 ENI sync, 99 destroy). Every builder reads what
// exists before it creates anything, so Apply may be interrupted at any
// point and run again: it converges with no duplicate. A Plan lists, per
// resource, create / exists / change and makes no mutating call.
// Independent stages run in parallel (02 with 04, 03 with 05–06).
//
// # Tags are the state
//
// fabric keeps no local state file. Every resource it creates carries
//
//	Project     = PROJECT_TAG (default dx-monitoring)
//	Name        = <PROJECT_TAG>-<role>[-<AZ, subnet or ENI>], e.g. dx-monitoring-probe-us-east-1a
//	dxmon:role  = appliance, probe, gwlb, gwlbe, nlb, mirror, session, vgw-ingress, listener,
//	              fleet (the DynamoDB table), dynamodb-endpoint
//
// and probe instances also carry dxmon:probe-version, the content hash of
// the dxprobe build stage 08 installed (appliances: dxmon:appliance-version,
// stage 02), and both carry dxmon:nic-allowance, the ENA allowance
// counters verify saw there last (allowance.go). EC2 resources are found by the
// Project and Name (or role) tags; load balancers, target groups and IAM
// names, which depend on PROJECT_TAG alone, by name. In both cases fabric
// then checks the Project tag itself on what Describe returned: a tag
// filter narrows the answer, but an emulator that ignores it (moto 5.2 does
// for mirror filters) or a look-alike name must never make fabric adopt,
// change or delete another's resource. Destroy lists by the tags, never by
// the names today's configuration would give: an endpoint in a subnet since
// dropped from GWLBE_SUBNETS is deleted too, and a resource found by name
// without the tag is reported (Warning) and left alone.
//
// # Client tokens
//
// fabric sets no ClientToken of its own. The SDK fills one per call for the
// operations that have one (OperationIdempotencyTokenAutoFill, e.g.
// CreateTrafficMirrorSession, RunInstances, CreateRouteTable) and fabric
// makes a random one per call for the two that lack the auto-fill
// (CreateVpcEndpoint, CreateVpcEndpointServiceConfiguration): the SDK's
// retries of one call reuse it, so a lost answer does not duplicate. A
// token derived from the resource's specification would outlive the
// resource: AWS answers a repeated token with the first call's result
// without doing anything ("Ensuring idempotency in Amazon EC2 API
// requests"), so after a person deleted a session by hand, the next sync
// would be handed the deleted session back. What an interrupted run
// created is found on the next run by its tags, which every creation call
// sets atomically (TagSpecifications), not by its token. The price: a run
// repeated within the seconds EC2's Describe may lag behind a creation
// could create a second copy; the next plan shows it and destroy removes
// both.
//
// # Drift
//
// Apply and sync compare each session of ours with what they would create:
// mirror target, filter, VNI and packet length. A difference is a Change in
// a plan and a ModifyTrafficMirrorSession in apply, which changes all four
// in place (EC2 API Reference, ModifyTrafficMirrorSession), so the session
// keeps its ID and number. AWS evaluates the sessions of an interface in
// session number order and the first whose filter matches mirrors the
// packet (EC2 API Reference, TrafficMirrorSession.SessionNumber); another's
// session with a lower number on an appliance ENI therefore takes traffic
// ours should see. Plan reports it as a Warning, verify fails the mirror
// check, and sync and stage 07 fail with ErrSessionShadowed; fabric does
// not renumber sessions to take the traffic back, which is a person's call.
//
// # Output
//
// Events go to Options.Observer as they happen, but grouped by stage:
// while stages run in parallel, a later stage's events are held until the
// stages before it have finished. Creations carry their attributes in
// Detail (instance type, subnet and AZ, VNI and packet length, rule CIDRs);
// long waits (load balancers, GWLB endpoints, instances, Run Command)
// report a Waiting event every Options.ProgressEvery. Summarize counts a
// run's events and renders terraform's summary line ("Plan: 37 to create,
// 9 to change, 5 unchanged." or "No changes. …").
//
// # AWS limits
//
// Checked before any call, each failing with a line that names the number:
// MaxRulesPerFilter rules per mirror filter (fabric needs one: inbound
// Geneve, UDP 6081, see FilterRules), MaxSessionsPerENI mirror sessions per
// source ENI (the sync picks the lowest free session number and reports the
// ENIs that are full).
//
// # Sizing and failover
//
// Stage 00 reads the appliance and probe types from DescribeInstanceTypes
// and computes how many of each every AZ needs to carry both directions of
// the link (LINK_BPS, LINK_MEAN_PACKET_BYTES) at baseline bandwidth with
// one instance lost, at least two (sizing.go); it refuses an appliance type
// Traffic Mirroring does not take as a source and a type of another
// architecture than the AMI (instancetypes.go). Stage 02 turns on the
// GWLB's cross-zone load balancing, target failover, a short health check,
// a deregistration delay and the TCP idle timeout (failover.go), and
// replaces appliances one at a time (rollout.go).
//
// # Deployments and the production path
//
// Stage 02 installs dxappliance on the appliances and stage 08 dxprobe on
// the probes by one path (artifacts.go): binary, unit and an environment
// file written from the configuration go to S3 under a version hashing all
// three, and SSM Run Command installs them where the instance's version tag
// differs. The binary must be a linux ELF of the instance type's
// architecture. Stage 03, which re-routes the VGW's on-premises traffic
// through the appliances, runs only when every appliance is a healthy GWLB
// target (health.go); return routes through the same appliance are the
// default (RETURN_ROUTES, returnroutes.go). Bypass, Restore and the Guard
// take the appliances out of the path and put them back, per AZ
// (bypass.go, guard.go, guardloop.go); verify fails, and plan warns, when
// a business subnet's route more specific than an on-premises CIDR sends
// on-premises traffic past the appliances (shadow.go).
//
// # Clients
//
// Each AWS service is reached through a narrow interface (EC2API, ELBAPI,
// …) with the SDK's exact method signatures; NewClients fills them from an
// aws.Config, so AWS_ENDPOINT_URL points everything at an emulator. The
// IAM actions behind them are deploy/iam/dxdeploy-policy.json, which a
// test keeps equal to the interfaces' methods. Lists that may run to
// several pages use the SDK's paginators (sessions, instances, ENIs,
// endpoints, subnets, CloudWatch metric data); DescribeTrafficMirrorFilterRules
// has none in the SDK and is paged by NextToken by hand.
// Throttling is the SDK retryer's; waits use the SDK's waiters (instance
// running and terminated, load balancer available and deleted, Run Command
// executed) and, where the SDK has none (GWLB endpoints, target health, SSM
// registration), a poll bounded by Options.WaitTimeout.
package fabric
