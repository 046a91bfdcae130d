// Package report holds one window's result — totals, rates and the Top-N
// flows, sources, destinations and ports, with what is known of each address —
// and renders it as the JSON line of dxprobe's contract or as a text table in
// human units.
//
// With Window.Classify (the on-premises prefixes are known), a report also
// splits the window by direction: Directions holds to_aws (source
// on-premises) and from_aws (destination on-premises), both present even
// when idle, with exact totals (Window.DirTotals, counted on the packet
// path), rates, utilization of Window.LinkBPS, and Top-N rankings of their
// own; every top flow carries its Dir.
//
// A Printer writes reports as JSON lines or text tables, one report per
// Write, for the coordinator and a fleet's goroutine at once.
//
// A Report is built once per window by the coordinator from the merged flow
// tables (see flow), after enrichment, and is then read-only: the alert
// sinks, the metrics and the printer may share it.
package report
