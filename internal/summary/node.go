package summary

import (
	"errors"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
)

// CgroupStatsProvider gives cgroup samples (the cAdvisor provider): Current
// returns a snapshot taken at most maxAge ago, reading the cgroups first when
// the last one is older. It reads cgroup files only, never walks a filesystem.
type CgroupStatsProvider interface {
	Current(maxAge time.Duration) cadvisor.Snapshot
}

// DefaultCgroupMaxAge is how old a cgroup snapshot may be for an assembly:
// assemblies within it (a scrape and a JSON request) share one housekeeping.
const DefaultCgroupMaxAge = time.Second

// errNoNodeCgroup is reported when the root cgroup has no sample yet or could
// not be read.
var errNoNodeCgroup = errors.New("no sample of the root cgroup")

// fillNodeFromCgroups writes the node's cgroup blocks and system containers.
func fillNodeFromCgroups(n *statsapi.NodeStats, snap cadvisor.Snapshot) error {
	names := make([]string, 0, len(snap.System))
	for name := range snap.System {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cg := snap.System[name]
		if cg.Empty() {
			continue
		}
		c := statsapi.ContainerStats{Name: name}
		if !cg.StartTime.IsZero() {
			c.StartTime = metav1.NewTime(cg.StartTime)
		}
		containerFromCgroup(&c, cg)
		n.SystemContainers = append(n.SystemContainers, c)
	}
	if snap.Node.Empty() {
		return errNoNodeCgroup
	}
	n.CPU = copyPtr(snap.Node.CPU)
	n.Memory = copyPtr(snap.Node.Memory)
	n.Swap = copyPtr(snap.Node.Swap)
	n.IO = copyPtr(snap.Node.IO)
	n.Network = copyPtr(snap.Node.Network)
	return nil
}

// containerFromCgroup sets a container's cgroup blocks from a sample.
func containerFromCgroup(c *statsapi.ContainerStats, cg *cadvisor.CgroupStats) {
	c.CPU = copyPtr(cg.CPU)
	c.Memory = copyPtr(cg.Memory)
	c.Swap = copyPtr(cg.Swap)
	c.IO = copyPtr(cg.IO)
}

// copyPtr returns a shallow copy, so the Summary never aliases the provider's
// shared snapshot.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
