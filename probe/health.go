package probe

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Health is what the probe's /healthz answers: nil while every worker of
// a running pipeline is reading its socket, else an error saying why not —
// Run not started, a worker stopped on an error (which one, and the error),
// a worker that has not come back from its socket for longer than two
// windows and StallGrace (its reads return at least at every window's
// end, so it is stuck handing its window over), or the pipeline stopping.
// The internal NLB's health check takes the probe out of the target group
// on anything but nil, like dxappliance's check does for its reflector.
func (p *Pipeline) Health() error {
	return p.healthAt(time.Now())
}

// StallGrace is added to two windows before a worker that has not read is
// called stuck.
const StallGrace = 5 * time.Second

func (p *Pipeline) healthAt(now time.Time) error {
	switch {
	case !p.started.Load():
		return errors.New("not started: no worker reads yet")
	case p.stopping.Load():
		return errors.New("stopping: the pipeline was cancelled")
	}
	var problems []string
	if e := p.failure.Load(); e != nil {
		problems = append(problems, (*e).Error())
	}
	reading := 0
	limit := 2*p.cfg.Window + StallGrace
	for _, w := range p.workers {
		if !w.reading.Load() {
			continue
		}
		reading++
		if last := w.lastRead.Load(); last != 0 {
			if d := now.Sub(time.Unix(0, last)); d > limit {
				problems = append(problems, fmt.Sprintf("worker %d has not read for %s (over %s)", w.id, d.Round(time.Millisecond), limit))
			}
		}
	}
	if reading < len(p.workers) {
		problems = append([]string{fmt.Sprintf("%d of %d workers reading", reading, len(p.workers))}, problems...)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// HealthHandler answers GET /healthz: 200 "ok" while Health is nil, 503
// with the reason otherwise.
func (p *Pipeline) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := p.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "unhealthy:", err)
			return
		}
		fmt.Fprintf(w, "ok: %d workers reading\n", len(p.workers))
	})
}
