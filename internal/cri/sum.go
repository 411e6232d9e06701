package cri

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// sumContainers adds the containers' CPU and memory into pod totals. A field is
// set in the total only when at least one container has it; the total's time is
// the newest of the containers' sample times. Available bytes are not summed: a
// pod's headroom is not the sum of its containers' (limits may be unset).
func sumContainers(containers []statsapi.ContainerStats) (*statsapi.CPUStats, *statsapi.MemoryStats) {
	var cpu *statsapi.CPUStats
	var mem *statsapi.MemoryStats
	for i := range containers {
		if c := containers[i].CPU; c != nil {
			if cpu == nil {
				cpu = &statsapi.CPUStats{}
			}
			cpu.Time = newer(cpu.Time, c.Time)
			cpu.UsageCoreNanoSeconds = addPtr(cpu.UsageCoreNanoSeconds, c.UsageCoreNanoSeconds)
			cpu.UsageNanoCores = addPtr(cpu.UsageNanoCores, c.UsageNanoCores)
		}
		if m := containers[i].Memory; m != nil {
			if mem == nil {
				mem = &statsapi.MemoryStats{}
			}
			mem.Time = newer(mem.Time, m.Time)
			mem.UsageBytes = addPtr(mem.UsageBytes, m.UsageBytes)
			mem.WorkingSetBytes = addPtr(mem.WorkingSetBytes, m.WorkingSetBytes)
			mem.RSSBytes = addPtr(mem.RSSBytes, m.RSSBytes)
			mem.PageFaults = addPtr(mem.PageFaults, m.PageFaults)
			mem.MajorPageFaults = addPtr(mem.MajorPageFaults, m.MajorPageFaults)
		}
	}
	return cpu, mem
}

func addPtr(total, v *uint64) *uint64 {
	if v == nil {
		return total
	}
	if total == nil {
		x := *v
		return &x
	}
	*total += *v
	return total
}

func newer(a, b metav1.Time) metav1.Time {
	if b.After(a.Time) {
		return b
	}
	return a
}
