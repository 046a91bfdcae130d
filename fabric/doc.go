// Package fabric builds, plans, verifies, syncs and destroys the AWS
// pipeline of dxmon: appliances behind a Gateway Load Balancer that the
// VGW's ingress route table sends on-premises traffic through, a traffic
// mirror session on every appliance ENI, and the probes behind an internal
// NLB that receive the mirrored VXLAN.
//
// One builder per stage of the seed's scripts (00 init … 08 probe
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
//	dxmon:role  = appliance, probe, gwlb, gwlbe, nlb, mirror, session, vgw-ingress, listener
//
// and probe instances also carry dxmon:probe-version, the content hash of
// the dxprobe build stage 08 installed (appliances: dxmon:appliance-version,
// stage 02). Resources are found by the Project
// and Name tags (load balancers, target groups and IAM names by name, then
// their Project tag is checked: fabric never adopts what it did not tag).
// Creation calls that accept one get a deterministic ClientToken, the hash
// of project, kind, name and specification, so a call repeated after a
// lost answer returns the first call's resource.
//
// # AWS limits
//
// Checked before any call, each failing with a line that names the number:
// MaxRulesPerFilter rules per mirror filter (fabric needs one: inbound
// Geneve, UDP 6081, see FilterRules), MaxSessionsPerENI mirror sessions per
// source ENI (the sync picks the lowest free session number and reports the
// ENIs that are full).
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
// target (health.go); return routes through the same appliance are an
// option (RETURN_ROUTES, returnroutes.go).
//
// # Clients
//
// Each AWS service is reached through a narrow interface (EC2API, ELBAPI,
// …) with the SDK's exact method signatures; NewClients fills them from an
// aws.Config, so AWS_ENDPOINT_URL points everything at an emulator.
// Throttling is the SDK retryer's; waits use the SDK's waiters (instance
// running and terminated, load balancer available and deleted, Run Command
// executed) and, where the SDK has none (GWLB endpoints, target health, SSM
// registration), a poll bounded by Options.WaitTimeout.
package fabric
