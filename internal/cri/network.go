package cri

import (
	"slices"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// defaultInterfaceName is the pod interface the kubelet treats as the default
// when the runtime names none (or names loopback).
const defaultInterfaceName = "eth0"

const loopbackName = "lo"

// networkStats converts a pod sandbox's network block. Interfaces lists every
// interface once, the default included, even when the runtime lists the
// default both as default and among the interfaces (containerd ≥ 2.3) or only
// as default (containerd 1.6). The default is never loopback: when the runtime
// names lo (CRI-O) or nothing, eth0 is chosen if present, else the first other
// interface by name; with none, the flattened default fields stay empty. A 0
// timestamp becomes the time the answer arrived.
func networkStats(n *runtimeapi.NetworkUsage, received time.Time) *statsapi.NetworkStats {
	if n == nil {
		return nil
	}
	out := &statsapi.NetworkStats{Time: sampleTime(n.GetTimestamp(), received)}
	def := n.GetDefaultInterface()
	out.Interfaces = make([]statsapi.InterfaceStats, 0, len(n.GetInterfaces())+1)
	counters := make([][4]uint64, cap(out.Interfaces)) // the list's copies
	add := func(i *runtimeapi.NetworkInterfaceUsage) {
		if i == nil || i.GetName() == "" {
			return
		}
		// A pod has a handful of interfaces: a scan, not a map per pod.
		for j := range out.Interfaces {
			if out.Interfaces[j].Name == i.GetName() {
				return
			}
		}
		out.Interfaces = append(out.Interfaces, interfaceStats(i, &counters[len(out.Interfaces)]))
	}
	add(def)
	for _, i := range n.GetInterfaces() {
		add(i)
	}
	if len(out.Interfaces) == 0 {
		out.Interfaces = nil
	}
	if def.GetName() == loopbackName {
		def = nil
	}
	if def.GetName() != "" {
		// Counters of its own: the list entry holds the others.
		out.InterfaceStats = interfaceStats(def, new([4]uint64))
		return out
	}
	// Pick a default among the listed interfaces.
	var candidates []statsapi.InterfaceStats
	for _, i := range out.Interfaces {
		if i.Name == defaultInterfaceName {
			out.InterfaceStats = cloneInterface(i)
			return out
		}
		if i.Name != loopbackName {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) > 0 {
		slices.SortFunc(candidates, func(a, b statsapi.InterfaceStats) int {
			switch {
			case a.Name < b.Name:
				return -1
			case a.Name > b.Name:
				return 1
			}
			return 0
		})
		out.InterfaceStats = cloneInterface(candidates[0])
	}
	return out
}

// interfaceStats converts an interface's counters, copied into v.
func interfaceStats(i *runtimeapi.NetworkInterfaceUsage, v *[4]uint64) statsapi.InterfaceStats {
	return statsapi.InterfaceStats{
		Name:     i.GetName(),
		RxBytes:  copyU64(&v[0], i.GetRxBytes()),
		RxErrors: copyU64(&v[1], i.GetRxErrors()),
		TxBytes:  copyU64(&v[2], i.GetTxBytes()),
		TxErrors: copyU64(&v[3], i.GetTxErrors()),
	}
}

// cloneInterface copies i so the default and its list entry share no pointer.
// Its counters take one allocation together.
func cloneInterface(i statsapi.InterfaceStats) statsapi.InterfaceStats {
	v := new([4]uint64)
	return statsapi.InterfaceStats{
		Name:     i.Name,
		RxBytes:  copyPtr(&v[0], i.RxBytes),
		RxErrors: copyPtr(&v[1], i.RxErrors),
		TxBytes:  copyPtr(&v[2], i.TxBytes),
		TxErrors: copyPtr(&v[3], i.TxErrors),
	}
}

// copyPtr copies *src into dst and returns dst; nil when src is nil.
func copyPtr(dst, src *uint64) *uint64 {
	if src == nil {
		return nil
	}
	*dst = *src
	return dst
}
