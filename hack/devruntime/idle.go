package main

import (
	"context"
	"fmt"
	"sync"
	"time"

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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	specs := make(chan containerdenv.PodSpec)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(o.parallel, o.pods) {
		wg.Go(func() {
			for spec := range specs {
				if _, err := env.RunPod(ctx, spec); err != nil {
					// The pods that fail after it fail because of it.
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for _, spec := range idlePods(o) {
		select {
		case specs <- spec:
		case <-ctx.Done():
			break feed
		}
	}
	close(specs)
	wg.Wait()
	if first != nil {
		return 0, fmt.Errorf("start idle pods: %w", first)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("start idle pods: %w", err)
	}
	return time.Since(began), nil
}
