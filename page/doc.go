// Package page is dxprobe's page: one self-contained HTML page that shows
// the link's traffic of the last hour, per direction, live in a browser,
// and the same page written as one static file for a capture.
//
// The coordinator feeds a History once per window (Add: one atomic store,
// no lock, no allocation) and the alert path feeds Alerts (RecordDecision
// for what an alert.Policy decided, RecordMessage for a message sent
// without a decision at hand, such as a fleet's); Page's handlers
// read both and serialise on the requesting goroutine, so a slow or busy
// browser never holds a window up. The packet path never sees the page.
//
// Routes (Register): "/" the page, "/page.css" and "/page.js" its only
// style and script (embedded; no CDN, no external font or script, a
// Content-Security-Policy that allows only the probe itself),
// "/api/windows" the last hour of reports as a JSON array, oldest first
// (the report JSON contract; ?since=RFC3339 returns only newer windows, which
// the page polls for once per window), "/api/alerts" the alerts fired and
// resolved in the last hour, "/api/config" the link's capacity and the
// alert thresholds. The page shows nothing secret: no webhook URL, no topic.
//
// The script draws inline SVG charts and tables from the JSON it fetched,
// putting every string from a report into the page as text, never as
// markup; the static page (WriteStatic) embeds the same JSON through
// html/template, whose contextual escaping keeps an instance's Name tag
// from ending the script element.
package page
