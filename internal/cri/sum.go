package cri

import (
	"math"
	"math/bits"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// podTotals are pod-level blocks summed from the pod's containers.
type podTotals struct {
	cpu  *statsapi.CPUStats
	mem  *statsapi.MemoryStats
	swap *statsapi.SwapStats
}

// sumContainers adds the containers' CPU, memory and swap into pod totals. A
// field is set in the total only when at least one container has it; a
// block's time is the newest of the containers'. usageNanoCores is the sum of
// the containers' rates, and unknown (nil) when any container with a CPU block
// has no rate yet: a partial sum would read as a drop in usage. Available bytes
// (memory and swap) are not summed: a pod's headroom is not the sum of its
// containers' (limits may be unset). Pressure (PSI) cannot be summed either.
func sumContainers(containers []statsapi.ContainerStats) podTotals {
	var t podTotals
	rateUnknown := false
	for i := range containers {
		if c := containers[i].CPU; c != nil {
			if t.cpu == nil {
				t.cpu = &statsapi.CPUStats{}
			}
			t.cpu.Time = newer(t.cpu.Time, c.Time)
			t.cpu.UsageCoreNanoSeconds = addPtr(t.cpu.UsageCoreNanoSeconds, c.UsageCoreNanoSeconds)
			if c.UsageNanoCores == nil {
				rateUnknown = true
			}
			t.cpu.UsageNanoCores = addPtr(t.cpu.UsageNanoCores, c.UsageNanoCores)
		}
		if m := containers[i].Memory; m != nil {
			if t.mem == nil {
				t.mem = &statsapi.MemoryStats{}
			}
			t.mem.Time = newer(t.mem.Time, m.Time)
			t.mem.UsageBytes = addPtr(t.mem.UsageBytes, m.UsageBytes)
			t.mem.WorkingSetBytes = addPtr(t.mem.WorkingSetBytes, m.WorkingSetBytes)
			t.mem.RSSBytes = addPtr(t.mem.RSSBytes, m.RSSBytes)
			t.mem.PageFaults = addPtr(t.mem.PageFaults, m.PageFaults)
			t.mem.MajorPageFaults = addPtr(t.mem.MajorPageFaults, m.MajorPageFaults)
		}
		if s := containers[i].Swap; s != nil {
			if t.swap == nil {
				t.swap = &statsapi.SwapStats{}
			}
			t.swap.Time = newer(t.swap.Time, s.Time)
			t.swap.SwapUsageBytes = addPtr(t.swap.SwapUsageBytes, s.SwapUsageBytes)
		}
	}
	if rateUnknown && t.cpu != nil {
		t.cpu.UsageNanoCores = nil
	}
	return t
}

// addPtr adds v into total, saturating at the largest uint64: a runtime that
// reports absurd values must not make a pod total wrap around below one of its
// containers' values.
func addPtr(total, v *uint64) *uint64 {
	if v == nil {
		return total
	}
	if total == nil {
		x := *v
		return &x
	}
	sum, carry := bits.Add64(*total, *v, 0)
	if carry != 0 {
		sum = math.MaxUint64
	}
	*total = sum
	return total
}

func newer(a, b metav1.Time) metav1.Time {
	if b.After(a.Time) {
		return b
	}
	return a
}
