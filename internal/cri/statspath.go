package cri

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StatsPath names how pod and container stats are read from the runtime.
type StatsPath string

const (
	// PathAuto tries the strict path and falls back to the partial path when
	// the runtime answers Unimplemented.
	PathAuto StatsPath = "auto"
	// PathStrict reads pods and containers with one ListPodSandboxStats call;
	// pod totals are the runtime's (the sandbox cgroup), with network, process
	// count and pod pressure.
	PathStrict StatsPath = "strict"
	// PathPartial reads containers with ListContainerStats; pod CPU, memory
	// and swap are summed from the containers, and what only the sandbox knows
	// (network, process count, pressure) is left to other sources.
	PathPartial StatsPath = "partial"
)

// ParseStatsPath accepts "", "auto", "strict" or "partial" ("" is auto).
func ParseStatsPath(s string) (StatsPath, error) {
	switch StatsPath(s) {
	case "", PathAuto:
		return PathAuto, nil
	case PathStrict, PathPartial:
		return StatsPath(s), nil
	}
	return "", fmt.Errorf("unknown stats path %q: want auto, strict or partial", s)
}

// pathDetector remembers which path the runtime supports. The strict path is
// tried until the runtime answers Unimplemented; from then on the partial path
// is used without asking, until the runtime may have changed: its Version
// answer differs (checked once per assembly while on the partial path), or a
// call failed with Unavailable (the connection broke: it may be restarting,
// possibly as another version).
//
// A strict call that outlives its timeout falls back too, for SlowStrictRetry:
// containerd 1.6 asks every shim for its stats on each ListPodSandboxStats,
// one sandbox after another, and takes seconds on a dense node (4–5 s for
// 110 pods × 3 containers on a 2-core machine) where ListContainerStats, one
// batched request, answers in half a second. The scrape that timed out then
// reads the partial path at once, so it still carries every pod. Any other
// error is an error, never a reason to fall back. It is safe for concurrent
// use.
type pathDetector struct {
	forced StatsPath // PathAuto, or the configured path
	logger *zap.Logger
	now    func() time.Time // the provider's clock, for SlowStrictRetry
	// runtime, when set, learns the Version answers the detector gets and
	// forgets the runtime when the connection breaks.
	runtime *runtimeIdentity

	mu      sync.Mutex
	current StatsPath // "" while unknown
	version string    // the runtime's version when the partial path was chosen
	// slowUntil, when not zero, is when the strict path, abandoned for
	// outliving its timeout, is tried again.
	slowUntil time.Time
}

// SlowStrictRetry is how long the partial path stands in for a strict path
// whose call outlived its timeout before the strict path is tried again.
const SlowStrictRetry = 10 * time.Minute

// path returns the path in use, "" while undetermined.
func (d *pathDetector) path() StatsPath {
	if d.forced != PathAuto {
		return d.forced
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// tryStrict says whether this assembly should call ListPodSandboxStats.
func (d *pathDetector) tryStrict(ctx context.Context, c *Client) (bool, error) {
	switch d.forced {
	case PathStrict:
		return true, nil
	case PathPartial:
		return false, nil
	}
	if d.path() != PathPartial {
		return true, nil
	}
	d.mu.Lock()
	if !d.slowUntil.IsZero() {
		retry := !d.now().Before(d.slowUntil)
		if retry {
			d.logger.Info("trying ListPodSandboxStats again after it timed out", zap.Duration("after", SlowStrictRetry))
			d.current, d.slowUntil = "", time.Time{}
		}
		d.mu.Unlock()
		return retry, nil
	}
	d.mu.Unlock()
	v, err := c.Version(ctx)
	if err != nil {
		d.noteError(err)
		return false, err
	}
	if d.runtime != nil {
		d.runtime.learn(v.GetRuntimeName(), v.GetRuntimeVersion())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if id := versionID(v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetRuntimeApiVersion()); d.current == PathPartial && id != d.version {
		d.logger.Info("container runtime version changed; checking ListPodSandboxStats again",
			zap.String("was", d.version), zap.String("now", id))
		d.current = ""
		return true, nil
	}
	return d.current != PathPartial, nil
}

// strictWorked records that ListPodSandboxStats answered.
func (d *pathDetector) strictWorked() {
	if d.forced != PathAuto {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current != PathStrict {
		d.logger.Info("reading pod and container stats with ListPodSandboxStats (strict CRI stats path)")
		d.current = PathStrict
	}
}

// strictFailed decides what a ListPodSandboxStats error means: true when the
// runtime lacks the call, or the call outlived the client's own timeout (not
// a deadline of the caller's), and the partial path should be used instead;
// false when err must be reported.
func (d *pathDetector) strictFailed(ctx context.Context, c *Client, err error) bool {
	if d.forced == PathAuto && OutlivedTimeout(err) {
		// The call's own timeout, not the caller's: the runtime is slow on
		// this path.
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.slowUntil.IsZero() {
			d.logger.Warn("ListPodSandboxStats outlived cri.timeout; reading container stats with ListContainerStats (partial CRI stats path) and trying it again later",
				zap.Duration("retry_after", SlowStrictRetry), zap.Error(err))
		}
		d.current, d.slowUntil = PathPartial, d.now().Add(SlowStrictRetry)
		return true
	}
	if d.forced != PathAuto || status.Code(err) != codes.Unimplemented {
		d.noteError(err)
		return false
	}
	id := ""
	if v, verr := c.Version(ctx); verr == nil {
		id = versionID(v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetRuntimeApiVersion())
		if d.runtime != nil {
			d.runtime.learn(v.GetRuntimeName(), v.GetRuntimeVersion())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.slowUntil = time.Time{}
	if d.current != PathPartial {
		d.logger.Info("container runtime does not implement ListPodSandboxStats; reading container stats with ListContainerStats and summing pod totals (partial CRI stats path)",
			zap.String("runtime", id), zap.Error(err))
	}
	d.current, d.version = PathPartial, id
	return true
}

// noteError forgets the detected path, and the runtime's identity, when err
// says the connection to the runtime broke, so the next assembly probes again.
func (d *pathDetector) noteError(err error) {
	if d.runtime != nil {
		d.runtime.noteError(err)
	}
	if d.forced != PathAuto || status.Code(err) != codes.Unavailable {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.current, d.slowUntil = "", time.Time{}
}

func versionID(name, version, api string) string {
	return name + " " + version + " (CRI " + api + ")"
}
