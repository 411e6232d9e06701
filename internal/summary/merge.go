package summary

import (
	"fmt"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// Origin names where a Summary block's values came from. It is a small
// integer, printed by String, so that a scrape's provenance costs a few bytes
// per block.
type Origin uint8

// Origins of a block.
const (
	// OriginNone: no source had the block; it is nil.
	OriginNone Origin = iota
	// OriginCRI: every value came from the runtime.
	OriginCRI
	// OriginCAdvisor: every value came from the cgroup (cAdvisor).
	OriginCAdvisor
	// OriginMixed: the primary source's block with fields filled by the other.
	OriginMixed
)

var originNames = [...]string{OriginNone: "none", OriginCRI: "cri", OriginCAdvisor: "cadvisor", OriginMixed: "cri+cadvisor"}

// String is the origin's name: none, cri, cadvisor or cri+cadvisor.
func (o Origin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return fmt.Sprintf("Origin(%d)", uint8(o))
}

// BlockOrigins says which source fed each block of a pod or container.
type BlockOrigins struct {
	CPU     Origin
	Memory  Origin
	Swap    Origin
	IO      Origin
	Network Origin
	Process Origin
}

// Provenance records the sources of every pod and container block of an
// assembly. Pods parallels the Summary's pods (slices, not maps: nothing is
// hashed per pod or container on the scrape path).
type Provenance struct {
	Pods []PodProvenance
}

// PodProvenance is the provenance of one pod's blocks and of its containers'.
type PodProvenance struct {
	UID string
	BlockOrigins
	// Containers parallels the pod's containers.
	Containers []ContainerProvenance
}

// ContainerProvenance is the provenance of one container's blocks.
type ContainerProvenance struct {
	Name string
	BlockOrigins
}

// Pod returns the origins of the blocks of the pod with uid.
func (p Provenance) Pod(uid string) (BlockOrigins, bool) {
	for i := range p.Pods {
		if p.Pods[i].UID == uid {
			return p.Pods[i].BlockOrigins, true
		}
	}
	return BlockOrigins{}, false
}

// Container returns the origins of the blocks of container name of the pod
// with uid.
func (p Provenance) Container(uid, name string) (BlockOrigins, bool) {
	for i := range p.Pods {
		if p.Pods[i].UID != uid {
			continue
		}
		for _, c := range p.Pods[i].Containers {
			if c.Name == name {
				return c.BlockOrigins, true
			}
		}
	}
	return BlockOrigins{}, false
}

// precedence says which source wins a field both have.
type precedence int

const (
	// criFirst keeps every value the runtime gave; the cgroup fills the rest.
	criFirst precedence = iota
	// cgroupFirst keeps the cgroup's values; the runtime fills the rest (the
	// cadvisor mode).
	cgroupFirst
)

// blocks is the mergeable part of a pod or container.
type blocks struct {
	cpu     **statsapi.CPUStats
	memory  **statsapi.MemoryStats
	swap    **statsapi.SwapStats
	io      **statsapi.IOStats
	network **statsapi.NetworkStats // nil for containers
	process **statsapi.ProcessStats // nil for containers
}

func podBlocks(p *statsapi.PodStats) blocks {
	return blocks{&p.CPU, &p.Memory, &p.Swap, &p.IO, &p.Network, &p.ProcessStats}
}

func containerBlocks(c *statsapi.ContainerStats) blocks {
	return blocks{cpu: &c.CPU, memory: &c.Memory, swap: &c.Swap, io: &c.IO}
}

// mergeBlocks fills a pod's or container's blocks from its cgroup sample,
// field by field, the source that prec names winning: with criFirst every
// value the runtime gave is kept and the cgroup only fills what the runtime
// left nil. An empty sample (an unreadable cgroup) changes nothing.
func mergeBlocks(b blocks, cg *cadvisor.CgroupStats, prec precedence) BlockOrigins {
	return mergeBlocksUsage(b, cg, prec, prec)
}

// mergeBlocksUsage is mergeBlocks with its own precedence for the CPU, memory
// and swap blocks (usagePrec).
func mergeBlocksUsage(b blocks, cg *cadvisor.CgroupStats, prec, usagePrec precedence) BlockOrigins {
	if cg.Empty() {
		cg = &cadvisor.CgroupStats{}
	}
	var out BlockOrigins
	out.CPU = mergeBlock(b.cpu, cg.CPU, usagePrec, fillCPU, emptyCPU)
	out.Memory = mergeBlock(b.memory, cg.Memory, usagePrec, fillMemory, emptyMemory)
	out.Swap = mergeBlock(b.swap, cg.Swap, usagePrec, fillSwap, emptySwap)
	out.IO = mergeBlock(b.io, cg.IO, prec, fillIO, emptyIO)
	out.Network, out.Process = OriginNone, OriginNone
	if b.network != nil {
		out.Network = mergeBlock(b.network, cg.Network, prec, fillNetwork, emptyNetwork)
	}
	if b.process != nil {
		out.Process = mergeBlock(b.process, cg.Process, prec, fillProcess, emptyProcess)
	}
	return out
}

// mergeBlock merges one block. With criFirst, *dst (the runtime's) keeps its
// values and fill copies the cgroup's only into nil fields; with cgroupFirst
// the roles swap. A cgroup block that is empty (all zero) is ignored. The
// result is never aliased to the cgroup sample, which the provider shares.
func mergeBlock[T any](dst **T, cg *T, prec precedence, fill func(dst, src *T) bool, empty func(*T) bool) Origin {
	if cg != nil && empty(cg) {
		cg = nil
	}
	cri := *dst
	switch {
	case cri == nil && cg == nil:
		return OriginNone
	case cg == nil:
		return OriginCRI
	case cri == nil:
		c := *cg
		*dst = &c
		return OriginCAdvisor
	}
	if prec == cgroupFirst {
		merged := *cg
		if fill(&merged, cri) {
			*dst = &merged
			return OriginMixed
		}
		*dst = &merged
		return OriginCAdvisor
	}
	merged := *cri
	if fill(&merged, cg) {
		*dst = &merged
		return OriginMixed
	}
	return OriginCRI
}

// fillPtr sets *dst from src when dst is nil and src is not; it reports
// whether it did.
func fillPtr[T any](dst **T, src *T) bool {
	if *dst != nil || src == nil {
		return false
	}
	v := *src
	*dst = &v
	return true
}

func isZero(p *uint64) bool { return p == nil || *p == 0 }

func fillCPU(d, s *statsapi.CPUStats) bool {
	a := fillPtr(&d.UsageCoreNanoSeconds, s.UsageCoreNanoSeconds)
	b := fillPtr(&d.UsageNanoCores, s.UsageNanoCores)
	c := fillPtr(&d.PSI, s.PSI)
	filled := a || b || c
	if filled && d.Time.IsZero() {
		d.Time = s.Time
	}
	return filled
}

func emptyCPU(s *statsapi.CPUStats) bool {
	return isZero(s.UsageCoreNanoSeconds) && isZero(s.UsageNanoCores) && s.PSI == nil
}

func fillMemory(d, s *statsapi.MemoryStats) bool {
	filled := false
	for _, f := range []struct {
		d **uint64
		s *uint64
	}{
		{&d.AvailableBytes, s.AvailableBytes},
		{&d.UsageBytes, s.UsageBytes},
		{&d.WorkingSetBytes, s.WorkingSetBytes},
		{&d.RSSBytes, s.RSSBytes},
		{&d.PageFaults, s.PageFaults},
		{&d.MajorPageFaults, s.MajorPageFaults},
	} {
		filled = fillPtr(f.d, f.s) || filled
	}
	filled = fillPtr(&d.PSI, s.PSI) || filled
	if filled && d.Time.IsZero() {
		d.Time = s.Time
	}
	return filled
}

func emptyMemory(s *statsapi.MemoryStats) bool {
	return isZero(s.UsageBytes) && isZero(s.WorkingSetBytes) && isZero(s.RSSBytes) && s.PSI == nil
}

func fillSwap(d, s *statsapi.SwapStats) bool {
	a := fillPtr(&d.SwapUsageBytes, s.SwapUsageBytes)
	b := fillPtr(&d.SwapAvailableBytes, s.SwapAvailableBytes)
	return a || b
}

func emptySwap(s *statsapi.SwapStats) bool {
	return isZero(s.SwapUsageBytes) && isZero(s.SwapAvailableBytes)
}

func fillIO(d, s *statsapi.IOStats) bool {
	filled := fillPtr(&d.PSI, s.PSI)
	if filled && d.Time.IsZero() {
		d.Time = s.Time
	}
	return filled
}

func emptyIO(s *statsapi.IOStats) bool { return s.PSI == nil }

// fillNetwork adds the interfaces the primary source did not list, and the
// default interface when it gave none. An interface the primary source gave
// only flattened (containerd 1.6: eth0 with an empty list) is listed with its
// values, never the other source's.
func fillNetwork(d, s *statsapi.NetworkStats) bool {
	filled := false
	if d.Name == "" && s.Name != "" {
		d.InterfaceStats = s.InterfaceStats
		filled = true
	}
	have := map[string]bool{}
	for _, i := range d.Interfaces {
		have[i.Name] = true
	}
	var add []statsapi.InterfaceStats
	for _, i := range s.Interfaces {
		if !have[i.Name] {
			if i.Name == d.Name {
				i = d.InterfaceStats
			}
			add = append(add, i)
			have[i.Name] = true
		}
	}
	if len(add) > 0 {
		d.Interfaces = append(append([]statsapi.InterfaceStats(nil), d.Interfaces...), add...)
		filled = true
	}
	if filled && d.Time.IsZero() {
		d.Time = s.Time
	}
	return filled
}

func emptyNetwork(s *statsapi.NetworkStats) bool { return s.Name == "" && len(s.Interfaces) == 0 }

func fillProcess(d, s *statsapi.ProcessStats) bool { return fillPtr(&d.ProcessCount, s.ProcessCount) }

func emptyProcess(s *statsapi.ProcessStats) bool { return isZero(s.ProcessCount) }

// mergePods merges the cgroup samples into the runtime's pods in place, per
// mode, and returns the provenance of every block. A pod sample's process
// count is taken over the pod's app containers only (withAppProcesses). In ModeCRI the cgroups
// give nothing; in ModeCRIFill pod and container cgroups fill what the
// runtime left empty (snap has container samples only when the provider
// tracks containers: the identity plan, ModeCAdvisor); in ModeCAdvisor pod
// and container cgroups win and the runtime fills. derivedPodTotals says the runtime gave no pod stats and
// the pods' CPU, memory and swap are sums of their containers: the pod
// cgroup's own totals (which include the sandbox) then win over those sums in
// every mode but ModeCRI. A hostNetwork pod (hostNet[i], parallel to pods)
// takes no network from its cgroup sample: its network namespace is the
// node's.
func mergePods(pods []statsapi.PodStats, ids cri.ContainerInfos, snap cadvisor.Snapshot, mode Mode, derivedPodTotals bool, hostNet []bool) Provenance {
	n := 0
	for i := range pods {
		n += len(pods[i].Containers)
	}
	prov := Provenance{Pods: make([]PodProvenance, len(pods))}
	// Every pod's container provenance is cut from one array.
	all := make([]ContainerProvenance, n)
	prec := criFirst
	if mode == ModeCAdvisor {
		prec = cgroupFirst
	}
	for i := range pods {
		p := &pods[i]
		var podCg *cadvisor.CgroupStats
		if mode != ModeCRI {
			podCg = withAppProcesses(snap.Pods[p.PodRef.UID], containersOf(ids, i))
		}
		if podCg != nil && podCg.Network != nil && i < len(hostNet) && hostNet[i] {
			noNet := *podCg
			noNet.Network = nil
			podCg = &noNet
		}
		usagePrec := prec
		if derivedPodTotals {
			usagePrec = cgroupFirst
		}
		pp := &prov.Pods[i]
		pp.UID = p.PodRef.UID
		pp.BlockOrigins = mergeBlocksUsage(podBlocks(p), podCg, prec, usagePrec)
		pp.Containers, all = all[:len(p.Containers):len(p.Containers)], all[len(p.Containers):]
		for j := range p.Containers {
			c := &p.Containers[j]
			var cg *cadvisor.CgroupStats
			if mode != ModeCRI {
				if info, ok := ids.Of(i, j); ok {
					cg = snap.Containers[info.ID]
				}
			}
			pp.Containers[j] = ContainerProvenance{Name: c.Name, BlockOrigins: mergeBlocks(containerBlocks(c), cg, prec)}
		}
	}
	return prov
}

// containersOf returns the runtime's containers of pods[i], nil when ids has
// none for it.
func containersOf(ids cri.ContainerInfos, i int) []cri.ContainerInfo {
	if i < 0 || i >= len(ids) {
		return nil
	}
	return ids[i]
}

// withAppProcesses returns the pod sample cg with its process count taken
// over the pod's app containers only — those the runtime lists, its sandbox
// (pause) left out — as containerd counts in its own pod stats (the sum of
// its app containers' pids). cg itself is shared and stays unchanged; a
// sample without a per-container breakdown is returned as it is.
func withAppProcesses(cg *cadvisor.CgroupStats, containers []cri.ContainerInfo) *cadvisor.CgroupStats {
	if cg == nil || cg.Containers == nil {
		return cg
	}
	var n uint64
	for _, c := range containers {
		n += cg.Containers[c.ID].Processes
	}
	out := *cg
	out.Process = nil
	if n > 0 {
		out.Process = &statsapi.ProcessStats{ProcessCount: &n}
	}
	return &out
}
