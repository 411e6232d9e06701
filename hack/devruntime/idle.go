package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// idleNamespace holds the idle pods.
const idleNamespace = "idle"

// idleOptions say how many idle pods to start, how big, and how many at once.
type idleOptions struct {
	pods, containers, parallel int
}

func (o idleOptions) String() string {
	s := fmt.Sprintf("%d idle pods × %d containers", o.pods, o.containers)
	if o.containers == 1 {
		s = s[:len(s)-1]
	}
	return s
}

func (o idleOptions) check() error {
	switch {
	case o.pods < 0:
		return fmt.Errorf("-pods %d: want 0 or more", o.pods)
	case o.containers < 1:
		return fmt.Errorf("-containers %d: want at least 1", o.containers)
	case o.parallel < 1:
		return fmt.Errorf("-parallel %d: want at least 1", o.parallel)
	}
	return nil
}

// idlePods are pods that cost the node nothing but their processes: each has
// its own network namespace on the instance's bridge (as most pods of a real
// node do, so the runtime reports their network) and containers that sleep.
func idlePods(o idleOptions) []containerdenv.PodSpec {
	specs := make([]containerdenv.PodSpec, o.pods)
	for i := range specs {
		cs := make([]containerdenv.ContainerSpec, o.containers)
		for j := range cs {
			cs[j] = containerdenv.ContainerSpec{Name: fmt.Sprintf("sleep-%d", j+1), Command: "exec sleep 2147483647"}
		}
		specs[i] = containerdenv.PodSpec{Name: fmt.Sprintf("idle-%03d", i+1), Namespace: idleNamespace, Containers: cs}
	}
	return specs
}

// startIdlePods starts the idle pods, o.parallel at a time (the runtime's own
// work — shims, runc, CNI — is what takes the time, on few cores), and returns
// how long it took. The first failure stops the pods not yet started.
func startIdlePods(ctx context.Context, env *containerdenv.Env, o idleOptions) (time.Duration, error) {
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.parallel)
	for _, spec := range idlePods(o) {
		if gctx.Err() != nil {
			break // a pod failed, or the caller gave up: the rest would fail too
		}
		g.Go(func() error {
			_, err := env.RunPod(gctx, spec)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("start idle pods: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("start idle pods: %w", err)
	}
	return time.Since(began), nil
}
