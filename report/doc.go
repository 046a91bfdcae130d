// Package report holds one window's result — totals, rates and the Top-N
// flows, sources, destinations and ports, with what is known of each address —
// and renders it as the JSON line of dxprobe's contract or as a text table in
// human units.
//
// A Report is built once per window by the coordinator from the merged flow
// tables (see flow), after enrichment, and is then read-only: the alert
// sinks, the metrics and the printer may share it.
package report
