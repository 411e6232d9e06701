package statssummaryreceiver

import (
	"github.com/statssummary/statssummary/internal/summary"
)

// extrasFor says what an assembly must gather beyond the Summary for the
// metrics cfg enables: requests, limits and the node's capacity for any of the
// utilization metrics (all off by default, as in kubeletstats: nothing is
// asked of the runtime or read from cgroup limit files then), cgroup counters
// for any of the throttling, memory event and disk metrics, each only for a
// group that is collected.
func extrasFor(cfg *Config) summary.ExtrasOptions {
	m := cfg.Metrics
	g := cfg.convertGroups()
	container := g.Container && (m.K8sContainerCPULimitUtilization.Enabled || m.K8sContainerCPURequestUtilization.Enabled ||
		m.K8sContainerCPUNodeUtilization.Enabled || m.K8sContainerMemoryLimitUtilization.Enabled ||
		m.K8sContainerMemoryRequestUtilization.Enabled || m.K8sContainerMemoryNodeUtilization.Enabled)
	pod := g.Pod && (m.K8sPodCPULimitUtilization.Enabled || m.K8sPodCPURequestUtilization.Enabled ||
		m.K8sPodCPUNodeUtilization.Enabled || m.K8sPodMemoryLimitUtilization.Enabled ||
		m.K8sPodMemoryRequestUtilization.Enabled || m.K8sPodMemoryNodeUtilization.Enabled)
	containerCounters := g.Container && anyEnabled(m.ContainerCPUThrottlingDataPeriods.Enabled, m.ContainerCPUThrottlingDataThrottledPeriods.Enabled,
		m.ContainerCPUThrottlingDataThrottledTime.Enabled, m.ContainerMemoryEvents.Enabled, m.ContainerDiskIo.Enabled, m.ContainerDiskOperations.Enabled)
	podCounters := g.Pod && anyEnabled(m.K8sPodCPUThrottlingDataPeriods.Enabled, m.K8sPodCPUThrottlingDataThrottledPeriods.Enabled,
		m.K8sPodCPUThrottlingDataThrottledTime.Enabled, m.K8sPodMemoryEvents.Enabled, m.K8sPodDiskIo.Enabled, m.K8sPodDiskOperations.Enabled)
	return summary.ExtrasOptions{Resources: container || pod, Counters: containerCounters || podCounters}
}

func anyEnabled(enabled ...bool) bool {
	for _, e := range enabled {
		if e {
			return true
		}
	}
	return false
}
