package cri

import (
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// timeFromNanos converts a CRI creation timestamp; 0 (unknown) stays the zero
// time, which the Summary encodes as null.
func timeFromNanos(ns int64) metav1.Time {
	if ns <= 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns))
}

// sampleTime converts a CRI sample timestamp. Runtimes leave it 0 on some
// blocks (containerd's pod network): the time the answer arrived stands in,
// never 1970.
func sampleTime(ns int64, received time.Time) metav1.Time {
	if ns <= 0 {
		return metav1.NewTime(received)
	}
	return metav1.NewTime(time.Unix(0, ns))
}

// sampleNanos is sampleTime in Unix nanoseconds, for the rate cache.
func sampleNanos(ns int64, received time.Time) int64 {
	if ns <= 0 {
		return received.UnixNano()
	}
	return ns
}

// The Summary's counters are copies, not pointers into the decoded answer:
// the provider decodes its next answer into the same messages
// (statsdecode.go). Each block is allocated with room for its counters, so
// a copy costs no allocation of its own.

// copyU64 copies v into dst and returns dst; nil when v is nil.
func copyU64(dst *uint64, v *runtimeapi.UInt64Value) *uint64 {
	if v == nil {
		return nil
	}
	*dst = v.Value
	return dst
}

// uint64Ptr points at the value inside the decoded answer: for a value
// read during the assembly only (the runtime's usageNanoCores, which
// chooseNanoCores copies when it keeps it).
func uint64Ptr(v *runtimeapi.UInt64Value) *uint64 {
	if v == nil {
		return nil
	}
	return &v.Value
}

// cpuStats converts a CPU block; usageNanoCores is decided by the caller, who
// owns the rate cache. A missing block stays nil (unknown), so another source
// may fill it.
func cpuStats(c *runtimeapi.CpuUsage, received time.Time, nanoCores *uint64) *statsapi.CPUStats {
	if c == nil {
		return nil
	}
	b := new(struct {
		out   statsapi.CPUStats
		total uint64
	})
	b.out = statsapi.CPUStats{
		Time:                 sampleTime(c.GetTimestamp(), received),
		UsageCoreNanoSeconds: copyU64(&b.total, c.GetUsageCoreNanoSeconds()),
		UsageNanoCores:       nanoCores,
		PSI:                  psiStats(c.GetPsi()),
	}
	return &b.out
}

func memoryStats(m *runtimeapi.MemoryUsage, received time.Time) *statsapi.MemoryStats {
	if m == nil {
		return nil
	}
	b := new(struct {
		out statsapi.MemoryStats
		v   [6]uint64
	})
	out := &b.out
	*out = statsapi.MemoryStats{
		Time:            sampleTime(m.GetTimestamp(), received),
		UsageBytes:      copyU64(&b.v[0], m.GetUsageBytes()),
		WorkingSetBytes: copyU64(&b.v[1], m.GetWorkingSetBytes()),
		RSSBytes:        copyU64(&b.v[2], m.GetRssBytes()),
		PageFaults:      copyU64(&b.v[3], m.GetPageFaults()),
		MajorPageFaults: copyU64(&b.v[4], m.GetMajorPageFaults()),
		PSI:             psiStats(m.GetPsi()),
	}
	// Available bytes are limit − working set. A value above unlimitedMemory
	// is what a runtime computes against "no limit" (CRI-O on cgroup v1
	// subtracts from v1's 2⁶³−4096): omitted. A 0 stays: containerd sends 0
	// both when there is no limit and when the container is at its limit, and
	// only the cgroup's limit tells them apart (the summary's merge decides).
	if a := m.GetAvailableBytes(); a != nil && a.GetValue() <= unlimitedMemory {
		out.AvailableBytes = copyU64(&b.v[5], a)
	}
	return out
}

// unlimitedMemory is the size above which a memory limit is "no limit", as
// containerd and cAdvisor take it: not 2⁶³−1, because the kernel rounds
// cgroup v1's unlimited value down to a page (9223372036854771712).
const unlimitedMemory = 1 << 62

func swapStats(s *runtimeapi.SwapUsage, received time.Time) *statsapi.SwapStats {
	if s == nil {
		return nil
	}
	b := new(struct {
		out statsapi.SwapStats
		v   [2]uint64
	})
	out := &b.out
	*out = statsapi.SwapStats{
		Time:           sampleTime(s.GetTimestamp(), received),
		SwapUsageBytes: copyU64(&b.v[0], s.GetSwapUsageBytes()),
	}
	// As for memory: a value computed against "no limit" (CRI-O subtracts
	// from swap.max "max", 2⁶⁴−1) is no figure at all.
	if a := s.GetSwapAvailableBytes(); a != nil && a.GetValue() <= unlimitedMemory {
		out.SwapAvailableBytes = copyU64(&b.v[1], a)
	}
	return out
}

func ioStats(io *runtimeapi.IoUsage, received time.Time) *statsapi.IOStats {
	if io == nil {
		return nil
	}
	return &statsapi.IOStats{
		Time: sampleTime(io.GetTimestamp(), received),
		PSI:  psiStats(io.GetPsi()),
	}
}

func processStats(p *runtimeapi.ProcessUsage) *statsapi.ProcessStats {
	if p.GetProcessCount() == nil {
		return nil
	}
	b := new(struct {
		out   statsapi.ProcessStats
		count uint64
	})
	b.out.ProcessCount = copyU64(&b.count, p.GetProcessCount())
	return &b.out
}

// psiStats converts pressure stall information; a missing half (some or full)
// stays zero, as in the Summary type. An average that is not a finite number
// (NaN or ±Inf: no kernel writes one, a runtime's bug can send one) makes the
// whole block no reading: nil, which cAdvisor may fill in the cri+cadvisor
// plans. Zeroing only that average would report "nothing stalled", and a
// non-finite float cannot be written as JSON at all, so kept it would fail the
// whole /stats/summary answer.
func psiStats(p *runtimeapi.PsiStats) *statsapi.PSIStats {
	if p == nil {
		return nil
	}
	full, some := psiData(p.GetFull()), psiData(p.GetSome())
	if !finitePSI(full) || !finitePSI(some) {
		return nil
	}
	return &statsapi.PSIStats{Full: full, Some: some}
}

func finitePSI(d statsapi.PSIData) bool {
	return finite(d.Avg10) && finite(d.Avg60) && finite(d.Avg300)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func psiData(d *runtimeapi.PsiData) statsapi.PSIData {
	return statsapi.PSIData{Total: d.GetTotal(), Avg10: d.GetAvg10(), Avg60: d.GetAvg60(), Avg300: d.GetAvg300()}
}
