package report

import (
	"fmt"
	"strconv"
	"strings"
)

// writeDirections writes one line with each direction's rate and, when the
// link's capacity is known, how full it is: "to AWS 1.52 Mbps 260 pps
// (15 % of 10.0 Mbps) · from AWS …". Nothing without directions.
func writeDirections(b *strings.Builder, r *Report) {
	if r.Directions == nil {
		return
	}
	var parts []string
	for _, d := range []struct {
		name string
		dir  *Direction
	}{{"to AWS", r.Directions.ToAWS}, {"from AWS", r.Directions.FromAWS}} {
		if d.dir == nil {
			continue
		}
		p := fmt.Sprintf("%s %s %s", d.name, Bps(d.dir.BPS), Pps(d.dir.PPS))
		if r.LinkBPS > 0 {
			p += fmt.Sprintf(" (%s %% of %s)", strconv.FormatFloat(100*d.dir.Utilization, 'f', 1, 64), Bps(r.LinkBPS))
		}
		parts = append(parts, p)
	}
	fmt.Fprintf(b, "%s\n", strings.Join(parts, " · "))
}
