package cadvisor

import (
	"time"

	info "github.com/google/cadvisor/lib/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// cpuSample is what a nano-cores rate needs from the previous housekeeping.
type cpuSample struct {
	usage uint64
	at    time.Time
}

// nanoCores is the CPU rate between two samples of a cumulative counter; nil on
// the first sample, after a counter reset (a recreated cgroup), and when no
// time passed.
func nanoCores(prev *cpuSample, cur cpuSample) *uint64 {
	if prev == nil || cur.usage < prev.usage {
		return nil
	}
	dt := cur.at.Sub(prev.at)
	if dt <= 0 {
		return nil
	}
	v := uint64(float64(cur.usage-prev.usage) / dt.Seconds())
	return &v
}

func u64(v uint64) *uint64 { return &v }

// toCgroupStats converts a cAdvisor sample into Summary blocks. prev is the
// cgroup's previous CPU sample (nil on the first); capacity, when not zero,
// gives memory available = capacity − working set (the node's rule, and a
// pod's or container's limit). havePSI says the cgroup has *.pressure files
// (cgroup v2 with PSI on): its zeros are then reported as zeros, as the
// kubelet does, and not left out as on cgroup v1, where cAdvisor's zero value
// means that there is no file.
func toCgroupStats(name string, s *info.ContainerStats, prev *cpuSample, capacity uint64, havePSI bool) (*CgroupStats, cpuSample) {
	at := s.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	t := metav1.NewTime(at)
	out := &CgroupStats{Cgroup: name}
	var cur cpuSample
	if s.Cpu != nil {
		cur = cpuSample{usage: s.Cpu.Usage.Total, at: at}
		out.CPU = &statsapi.CPUStats{
			Time:                 t,
			UsageCoreNanoSeconds: u64(s.Cpu.Usage.Total),
			UsageNanoCores:       nanoCores(prev, cur),
			PSI:                  psiStats(s.Cpu.PSI, havePSI),
		}
	}

	if s.Memory != nil && (s.Memory.Usage > 0 || s.Memory.WorkingSet > 0) {
		m := &statsapi.MemoryStats{
			Time:            t,
			UsageBytes:      u64(s.Memory.Usage),
			WorkingSetBytes: u64(s.Memory.WorkingSet),
			RSSBytes:        u64(s.Memory.RSS),
			PageFaults:      u64(s.Memory.ContainerData.Pgfault),
			MajorPageFaults: u64(s.Memory.ContainerData.Pgmajfault),
			PSI:             psiStats(s.Memory.PSI, havePSI),
		}
		if capacity > 0 {
			avail := uint64(0)
			if capacity > s.Memory.WorkingSet {
				avail = capacity - s.Memory.WorkingSet
			}
			m.AvailableBytes = u64(avail)
		}
		out.Memory = m
		if s.Memory.Swap > 0 {
			out.Swap = &statsapi.SwapStats{Time: t, SwapUsageBytes: u64(s.Memory.Swap)}
		}
	}

	if s.DiskIo != nil {
		if p := psiStats(s.DiskIo.PSI, havePSI); p != nil {
			out.IO = &statsapi.IOStats{Time: t, PSI: p}
		}
	}

	if s.Processes != nil && s.Processes.ProcessCount > 0 {
		out.Process = &statsapi.ProcessStats{ProcessCount: u64(s.Processes.ProcessCount)}
	}

	if s.Network != nil && len(s.Network.Interfaces) > 0 {
		n := &statsapi.NetworkStats{Time: t}
		for _, i := range s.Network.Interfaces {
			n.Interfaces = append(n.Interfaces, statsapi.InterfaceStats{
				Name:     i.Name,
				RxBytes:  u64(i.RxBytes),
				RxErrors: u64(i.RxErrors),
				TxBytes:  u64(i.TxBytes),
				TxErrors: u64(i.TxErrors),
			})
		}
		out.Network = n
	}
	return out, cur
}

// setDefaultInterface flattens the named interface into the network block's
// top level, as the Summary does; with no default route, the first interface.
func setDefaultInterface(n *statsapi.NetworkStats, name string) {
	if n == nil || len(n.Interfaces) == 0 {
		return
	}
	n.InterfaceStats = n.Interfaces[0]
	for _, i := range n.Interfaces {
		if i.Name == name {
			n.InterfaceStats = i
			return
		}
	}
}

// psiStats converts pressure data. Without pressure files (havePSI false:
// cgroup v1, or a kernel without PSI) cAdvisor leaves every field zero, which
// is no reading: nil. With them, zeros are a reading (nothing stalled).
// cAdvisor's type documents Total in nanoseconds but copies the cgroup file's
// microseconds unchanged (lib/container/libcontainer setPSIData): the total is
// converted here, to the Summary's nanoseconds.
//
// An average that is not a finite number (which no kernel writes, but
// libcontainer's parser would take) is no reading either: JSON cannot hold it.
func psiStats(p info.PSIStats, havePSI bool) *statsapi.PSIStats {
	if !havePSI && p == (info.PSIStats{}) {
		return nil
	}
	for _, f := range [...]float64{p.Some.Avg10, p.Some.Avg60, p.Some.Avg300, p.Full.Avg10, p.Full.Avg60, p.Full.Avg300} {
		if !finite(f) {
			return nil
		}
	}
	conv := func(d info.PSIData) statsapi.PSIData {
		return statsapi.PSIData{Total: psiMicrosToNanos(d.Total), Avg10: d.Avg10, Avg60: d.Avg60, Avg300: d.Avg300}
	}
	return &statsapi.PSIStats{Full: conv(p.Full), Some: conv(p.Some)}
}
