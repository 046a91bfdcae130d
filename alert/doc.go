// Package alert decides when a window's traffic deserves an alert, formats
// the message, and delivers it to SNS and Slack without ever blocking the
// caller.
//
// # Policy
//
// A Policy is consulted once per window with the window's report and the
// current time. It fires when the window's bps or pps is strictly above its
// threshold (defaults 1 Gbps and 500 Kpps) and no alert fired in the
// cooldown before (default 300 s); with Config.ResolveAfter set, it sends one
// "resolved" after that many consecutive quiet windows. It is deterministic:
// its only inputs are the reports and times passed to Observe.
//
// When the report has directions (report.Directions, from -onprem-cidrs),
// each direction is judged on its own: its bps and pps against the
// thresholds, and, with Config.Utilization and a link capacity, its bps
// against that fraction of the link; each direction has its own cooldown
// and resolved notice, and the Decision lists both (Decision.Dirs, with
// Acting for those that fire or resolve). Without directions the window's
// total is judged, as before. Observe only decides: a caller formats the
// Decision (NewMessage) and hands it to a Dispatcher, or does not — a fleet
// of probes formats it, claims the right to send it, and only the winner
// submits it.
//
// # Messages
//
// Format (and NewMessage) name the threshold crossed and by how much, the
// totals, and the top 5 sources, destinations and 5-tuples with what is known
// of each address (from the report's enrich.Info, else a lookup function), in
// human units. With directions, the subject names the direction and how
// full it is ("to AWS 9.30 Gbps, 93 % of 10.0 Gbps (over 90 %)"), the body
// has a row per direction, and the talkers listed (sources, destinations,
// flows, destination ports) are that direction's; a fleet report says how
// many probes' windows it merged. Each sink adapts the message to its channel: SNS gets a
// one-line subject cut to 99 characters on a character boundary (AWS
// documents "less than 100") and a message within 256 KiB; Slack gets an
// incoming-webhook JSON payload with the subject in bold and the table in a
// code block.
//
// # Delivery
//
// A Dispatcher holds a bounded queue and a goroutine per sink. Submit never
// blocks: a message for a full queue is dropped and counted. Each attempt is
// bounded by DispatcherConfig.RequestTimeout; throttling, 5xx responses,
// timeouts and refused connections (a *RetryableError from the sink) are
// retried with exponential backoff and jitter, honouring Retry-After, up to
// MaxAttempts. Outcomes are counted in
// dxmon_alert_deliveries_total{sink,outcome} with outcome sent, retried,
// dropped or failed; dxmon_alert_queued_messages{sink} is the queue depth.
// Cancelling Run's context abandons the attempt in flight (failed) and drops
// what is queued.
//
// The SNS sink's client retries inside each attempt by its own policy; set
// sns.Options.RetryMaxAttempts to 1 to leave retries to the Dispatcher.
//
// # Secrets
//
// The Slack webhook URL is a credential. It appears in no error (NewSlack's
// error withholds it; transport errors are stripped of it), no log line, and
// neither String nor LogValue of the sink. No credential is ever logged.
//
// # Permissions
//
// The SNS sink needs sns:Publish on its topic only (see
// deploy/iam/probe-policy.json).
package alert
