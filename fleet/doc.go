// Package fleet gives every probe of a deployment the whole link's picture
// and one alert for it, through a DynamoDB table the probes share.
//
// Behind the mirror target's Network Load Balancer each probe sees a share
// of the link: the mirror's outer source port is "determined by a 5-tuple
// hash of the original L2 packet" and the NLB sends "different UDP flows …
// to different targets". A link at 1.5× the threshold over three probes
// never alerts on any probe's own window. So, at each window's end, every
// probe writes a summary of its window to the table, waits Config.Wait
// (dxprobe -fleet-wait, 1 s), reads every probe's summary of the same
// window (windows are aligned to the wall clock), and merges them into the
// fleet's report: the report.Report contract with "scope":"fleet" and
// "probes":N, printed after the probe's own ("scope":"probe").
//
// # Why DynamoDB
//
// It gives what a fleet view needs without a server of our own to run, patch
// and make highly available: a regional, multi-AZ store the probes reach
// through a gateway VPC endpoint from private subnets, and conditional
// writes, which make "exactly one probe sends this alert" a single request:
// "Individual write operations such as UpdateItem are atomic and always
// operate on the most recent version of the item, regardless of
// concurrency" (Developer Guide, "Best practices for handling concurrent
// updates in DynamoDB"); a condition that fails returns
// ConditionalCheckFailedException, which here means "someone else did it".
//
// # Item layout
//
// The table has partition key pk and sort key sk (strings) and TTL on the
// number attribute ttl (seconds since the epoch).
//
//	pk = "win#<window start, RFC 3339 with nanoseconds when not whole, UTC>"
//	sk = "probe#<probe id>"        one probe's summary of one window
//	     ttl  window end + 1 h     (DynamoDB deletes expired items "typically within
//	                                two days"; reads address one window's pk, so an
//	                                expired item not yet deleted is harmless)
//	     v    format version (1), probe, start, end (unix ns), partial, rate (sample
//	          rate), skipped (map), so (sampled_out), pc (ports_cut), link (link_bps), k
//	     all  the window: totals and rankings, binary (codec.go)
//	     to, from  the same per direction (to_aws, from_aws); absent when the probe
//	          has no -onprem-cidrs
//
//	pk = "alert#<key>", sk = "claim"   the fleet's alert of key: "link" (no
//	     directions), "link#to_aws", "link#from_aws"
//	     until  end of the cooldown (unix ms); fired, resolved (unix ms, window ends);
//	     state  "active" | "resolved"; probe, probes (who sent it, how many merged);
//	     ttl    until + 24 h
//
//	pk = "guard#<AZ>", sk = "claim"   the guards' last notice about an AZ
//	     action "bypass" | "restore"; until  end of its hold (unix ms); probe;
//	     ttl    until + 24 h (Store.ClaimGuardNotice: one notice per change,
//	            whichever probes' guards act on it)
//
// The probe id is the EC2 instance ID from IMDSv2, else hostname:listen-port
// (dxprobe -probe-id, PROBE_ID, overrides it).
//
// # Summaries and the merge's error bound
//
// A summary holds the window's exact totals — packets, bytes, skipped,
// sampled_out, ports_cut, overall and per direction — and the top K of each
// ranking (flows, sources, destinations, destination ports), overall and per
// direction, K = DefaultK(top) = max(100, 10·top), at most MaxK. The fleet's
// totals are exactly the sums of the probes'. A ranking is the union of the
// probes' top K, each key's traffic summed over the probes that listed it,
// ranked by bytes. A list with K entries may have been cut: its K-th entry's
// bytes, kth_p, bound what any key missing from it had on probe p. Hence,
// for every key, merged ≤ true ≤ merged + Σ kth_p over the probes whose
// list lacks it; and a key whose true total exceeds Σ_p kth_p is in at least
// one probe's list, so it is never missed (TestMergeProperties checks both
// with rapid). A probe's list shorter than K is complete (its bound is 0).
//
// # Size and cost
//
// Rankings are stored as one binary attribute per part (about 20 bytes an
// IPv4 flow, against about 150 as DynamoDB maps), because what a write costs
// is its size: "A standard write request unit can write an item up to 1 KB"
// and "A strongly consistent read request of up to 4 KB requires one read
// request unit" (aws.amazon.com/dynamodb/pricing/on-demand). Item sizes are
// computed by the rules of "DynamoDB item sizes and formats" in
// TestItemSizeWorstCase: at the default -top 10 (K = 100), a busy IPv4
// window with directions is 16.4 KB (17 WRU); the worst case (every entry
// an IPv6 flow through a GWLB endpoint, counts near 2^64) 65.3 KB (66 WRU),
// well inside the 400 KB item limit; MaxK = 600 keeps the worst case at
// 388 KB.
//
// Per probe and month at 5 s windows (518 400 windows), on-demand in
// us-east-1 ($0.625 per million write request units, $0.125 per million
// read request units): writes 8.8 M WRU, $5.51 (worst case $21.39). Each
// probe reads the N summaries of every window with a strongly consistent
// Query (a Query's size is the sum of its items', rounded up to 4 KB):
// about 4.1·N RRU per probe and window, $0.27·N² a month for the fleet
// ($1.06·N² at worst). Three probes: about $19 a month ($74 at worst).
// Claims are a few writes per alert. Storage stays small: an hour of
// windows, up to two days more before TTL deletes them (free), about
// 1.7 GB for three probes at most, $0.43 a month; the gateway endpoint
// costs nothing. A longer -window divides all of it.
//
// # Alerts
//
// Every probe evaluates the fleet's report with the alert policy. Each
// acting direction (or the total, without directions) is then claimed with
// one conditional UpdateItem on its alert item: a fire succeeds when no
// alert of that key fired within the cooldown (until ≤ the window's end) and
// sets until to the window's end plus the cooldown; a resolved notice
// succeeds when the alert is active and moves it to resolved. Window ends
// stand for "now", so probes with skewed clocks compete for the same claim.
// Exactly one probe wins and sends; the message names how many probes'
// windows it merged and which. A probe restarting, or joining, with a
// fresh policy finds the claim held and sends nothing.
//
// When a request to the table fails (timeout, no endpoint, missing table,
// throttling), the probe falls back for that window: it alerts on its own
// window with a policy of its own, says so in the subject and the body
// ("this probe's share only"), counts dxmon_fleet_windows_total{outcome=
// "fallback"}, logs once, and returns to the fleet (logging "fleet table
// answers again") with the first window whose write and read succeed.
//
// # Off the packet path, never in the way
//
// The coordinator calls Fleet.Take with each window's report (built with K
// entries per ranking): it copies the summary, trims the report to -top in
// place and queues the window without waiting; a full queue (Config.Queue,
// 4 windows) drops it and counts dxmon_fleet_windows_total{outcome=
// "dropped"}. Fleet.Run writes, waits, reads, merges and claims on its own
// goroutine, each request bounded by Config.Timeout, so a slow or absent
// table never delays the next window. BenchmarkWindowEnd measures the
// coordinator's cost at 262 144 flows with and without it: the report's
// build grows from 65–74 ms to 102–113 ms (the K = 100 rankings; a load
// average of 17–28 on 2 vCPUs inflates both), 2 648 allocations instead of
// 349, a small part of the window's merge and report (430–790 ms there).
//
// Metrics: dxmon_fleet_windows_total{outcome="merged"|"fallback"|"dropped"},
// dxmon_fleet_claims_total{kind="fire"|"resolve",outcome="won"|"lost"|"error"},
// dxmon_fleet_probes (probes merged in the last fleet report),
// dxmon_fleet_bad_items_total (items that did not decode).
//
// # Permissions
//
// A probe needs dynamodb:PutItem, dynamodb:Query and dynamodb:UpdateItem on
// its table only; dxdeploy grants exactly those (fabric).
package fleet
