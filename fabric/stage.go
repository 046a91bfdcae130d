package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Stage names one step of the pipeline, numbered 00 to 10 (docs/ARCHITECTURE.md).
type Stage string

// The stages. Apply runs StageInit to StageDeploy; StageVerify and
// StageSync may also be asked of Apply, which then runs Verify or SyncENIs.
const (
	StageInit     Stage = "00" // credentials, VPC, VGW, subnets, AMI (read-only)
	StageSecurity Stage = "01" // security groups
	StageGWLB     Stage = "02" // appliances, GENEVE target group, GWLB, endpoint service, GWLB endpoints
	StageRouting  Stage = "03" // VGW ingress route table, edge association, routes
	StageProbes   Stage = "04" // IAM role and profile, probe instances
	StageNLB      Stage = "05" // probe target group, internal NLB, mirror target
	StageFilter   Stage = "06" // mirror filter and rules
	StageSessions Stage = "07" // one mirror session per appliance ENI
	StageDeploy   Stage = "08" // dxprobe binary and unit through S3 and SSM Run Command
	StageVerify   Stage = "09" // read-only checks
	StageSync     Stage = "10" // ENI lifecycle sync
	StageDestroy  Stage = "99" // everything, in reverse
)

// stageDeps is the stages' DAG: 02 with 04, and 03 with 05–06, may run in
// parallel.
var stageDeps = map[Stage][]Stage{
	StageInit:     nil,
	StageSecurity: {StageInit},
	StageGWLB:     {StageSecurity},
	StageProbes:   {StageSecurity},
	StageRouting:  {StageGWLB},
	StageNLB:      {StageProbes},
	StageFilter:   {StageNLB},
	StageSessions: {StageGWLB, StageFilter},
	StageDeploy:   {StageSessions},
}

// ApplyStages lists the stages Apply runs when none is named, in order.
var ApplyStages = []Stage{StageInit, StageSecurity, StageGWLB, StageRouting, StageProbes,
	StageNLB, StageFilter, StageSessions, StageDeploy}

// ParseStage accepts "5", "05" or "05-nlb-mirror-target".
func ParseStage(s string) (Stage, error) {
	num, _, _ := strings.Cut(s, "-")
	if len(num) == 1 {
		num = "0" + num
	}
	st := Stage(num)
	if _, ok := stageDeps[st]; ok || st == StageVerify || st == StageSync {
		return st, nil
	}
	return "", fmt.Errorf("stage %q: want 00-10", s)
}

// runDAG runs the stages, each when its predecessors in the list have
// finished, independent ones in parallel. A failed stage skips the stages
// that depend on it; all errors are joined.
func runDAG(ctx context.Context, stages []Stage, do func(context.Context, Stage) error) error {
	in := map[Stage]bool{}
	for _, s := range stages {
		in[s] = true
	}
	done := map[Stage]chan struct{}{}
	failed := map[Stage]bool{}
	for _, s := range stages {
		done[s] = make(chan struct{})
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, s := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[s])
			var depFailed []string
			for _, dep := range stageDeps[s] {
				if !in[dep] {
					continue
				}
				<-done[dep]
				mu.Lock()
				if failed[dep] {
					depFailed = append(depFailed, string(dep))
				}
				mu.Unlock()
			}
			var err error
			if len(depFailed) > 0 {
				err = fmt.Errorf("stage %s: skipped: stage %s failed", s, strings.Join(depFailed, ", "))
			} else if err = ctx.Err(); err == nil {
				err = do(ctx, s)
			} else {
				err = fmt.Errorf("stage %s: %w", s, err)
			}
			if err != nil {
				mu.Lock()
				failed[s] = true
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
