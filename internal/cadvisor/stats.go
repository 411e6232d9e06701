package cadvisor

import (
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// CgroupStats is one cgroup's sample, already in Summary form. A nil block is
// one the cgroup could not give.
type CgroupStats struct {
	// Cgroup is the cgroup's name relative to the hierarchy root, e.g.
	// "/kubepods/burstable/pod<uid>".
	Cgroup string
	// StartTime is when the cgroup was made; set for system containers only.
	StartTime time.Time
	CPU       *statsapi.CPUStats
	Memory    *statsapi.MemoryStats
	Swap      *statsapi.SwapStats
	IO        *statsapi.IOStats
	Network   *statsapi.NetworkStats
	// Process counts every process in the cgroup and its descendants; for a
	// pod, the sandbox's (pause) among them.
	Process *statsapi.ProcessStats
	// MemoryLimit is the cgroup's memory limit in bytes; 0 when it has none
	// (memory.max "max", cgroup v1's huge value, or a limit at or above the
	// node's memory) and for the root cgroup, whose capacity is the node's.
	MemoryLimit uint64
	// Containers holds, for a pod cgroup, each container cgroup inside it by
	// container ID, the sandbox's among them: what the Summary's merge needs
	// to count processes as the runtime does (app containers only) and to
	// tell a runtime's available bytes of 0 under a limit from "no limit".
	// Nil for other cgroups.
	Containers map[string]ContainerCgroup
}

// ContainerCgroup is what a pod sample tells of one container cgroup in it.
type ContainerCgroup struct {
	// Processes counts the processes in the container cgroup and its
	// descendants.
	Processes uint64
	// MemoryLimit is the container cgroup's memory limit in bytes, 0 when it
	// has none (as CgroupStats.MemoryLimit).
	MemoryLimit uint64
}

// Empty reports whether the sample carries nothing worth merging: no CPU time
// and no memory use. A cgroup that cannot be read (removed mid-read, controller
// missing) yields such a sample, and it must never stand in for real values.
func (c *CgroupStats) Empty() bool {
	if c == nil {
		return true
	}
	cpu := c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil && *c.CPU.UsageCoreNanoSeconds > 0
	mem := c.Memory != nil && ((c.Memory.UsageBytes != nil && *c.Memory.UsageBytes > 0) ||
		(c.Memory.WorkingSetBytes != nil && *c.Memory.WorkingSetBytes > 0))
	return !cpu && !mem
}

// Snapshot is the provider's latest housekeeping: every tracked cgroup's sample.
type Snapshot struct {
	// Time is when the housekeeping ran; zero before the first one.
	Time time.Time
	// Node is the root cgroup "/", with the root network namespace's interfaces
	// and memory available = capacity − working set.
	Node *CgroupStats
	// System holds the system containers by Summary name (kubelet, runtime,
	// pods, misc); only those configured or detected.
	System map[string]*CgroupStats
	// Pods holds the pod cgroups by pod UID.
	Pods map[string]*CgroupStats
	// Containers holds container cgroups by runtime container ID; only filled
	// when the provider tracks containers (the cadvisor mode).
	Containers map[string]*CgroupStats
	// DefaultInterface is the interface carrying the default route, "" when
	// there is none.
	DefaultInterface string
	// MemoryCapacity is the node's MemTotal in bytes.
	MemoryCapacity uint64
}
