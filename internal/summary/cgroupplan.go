package summary

import (
	"sync"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// PodCgroupFilter is a CgroupStatsProvider that can leave pod cgroups unread
// (cadvisor.Provider): read says which pods to read, nil every pod.
// ReadUnreadPods reads at once the pods the latest snapshot left unread and
// returns the snapshot with them.
type PodCgroupFilter interface {
	SetPodFilter(read func(uid string) bool)
	ReadUnreadPods() cadvisor.Snapshot
}

// FullCgroupReadEvery is how often, in assemblies, every pod cgroup is read
// even where the runtime answered in full the last time: every sixth
// assembly, once a minute at the default 10 s interval.
const FullCgroupReadEvery = 6

// cgroupPlan decides which pod cgroups the next assembly reads. Reading a pod
// cgroup costs about half a millisecond of CPU (libcontainer reads every
// memory file, the pod's processes are counted over its container cgroups,
// its network namespace is read): at 110 pods that was two thirds of the
// collector's CPU against a real containerd, and in ModeCRIFill the runtime's
// values win wherever it has them. So:
//   - ModeCRI reads no pod cgroup: nothing of them would be used;
//   - ModeCRIFill reads the pods to which the cgroups added something in the
//     last assembly (a field the runtime left empty, pod totals summed on the
//     partial path) and the pods not seen before, and every pod every
//     FullCgroupReadEvery assemblies, so a runtime that stops answering a
//     field is filled again within that many scrapes; any runtime error reads
//     every pod;
//   - ModeCAdvisor reads every pod, and so does ModeCRIFill under the
//     identity plan (IdentityGate): an identity answer has no CPU or memory
//     of the runtime's, every pod's come from its cgroup.
//
// What the cgroups add depends on the runtime's answer, and that changes
// shape when the stats path does (strict → partial: pod CPU and memory become
// container sums the pod cgroup must replace, pod network and process counts
// are gone): an assembly whose path differs from the previous one's reads the
// pods left unread at once (readNowIfPathChanged), not up to
// FullCgroupReadEvery−1 assemblies later.
type cgroupPlan struct {
	filter PodCgroupFilter // nil: the provider reads every pod
	mode   Mode

	mu        sync.Mutex
	sinceFull int
	lastPath  cri.StatsPath // the stats path of the latest answer, "" before one
}

func newCgroupPlan(cg CgroupStatsProvider, mode Mode, identityPlan bool) *cgroupPlan {
	if identityPlan {
		mode = ModeCAdvisor // every pod read, nothing learnt
	}
	f, _ := cg.(PodCgroupFilter)
	p := &cgroupPlan{filter: f, mode: mode}
	if f != nil && mode == ModeCRI {
		f.SetPodFilter(func(string) bool { return false })
	}
	return p
}

// readNowIfPathChanged returns snap, or, when path (this assembly's stats
// path) differs from the previous assembly's and the filter left pods
// unread, a snapshot with every pod read now.
func (p *cgroupPlan) readNowIfPathChanged(path cri.StatsPath, snap cadvisor.Snapshot) cadvisor.Snapshot {
	if p == nil || path == "" {
		return snap
	}
	p.mu.Lock()
	changed := p.lastPath != "" && p.lastPath != path
	p.lastPath = path
	p.mu.Unlock()
	if !changed || p.filter == nil || p.mode != ModeCRIFill {
		return snap
	}
	return p.filter.ReadUnreadPods()
}

// learn sets the filter for the next assembly from this one's provenance;
// criFailed says the runtime's answer is missing or incomplete.
func (p *cgroupPlan) learn(prov Provenance, criFailed bool) {
	if p.filter == nil || p.mode != ModeCRIFill {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sinceFull++
	if criFailed || p.sinceFull >= FullCgroupReadEvery {
		p.sinceFull = 0
		p.filter.SetPodFilter(nil)
		return
	}
	answered := make(map[string]struct{}, len(prov.Pods))
	for i := range prov.Pods {
		if !prov.Pods[i].fromCgroup() {
			answered[prov.Pods[i].UID] = struct{}{}
		}
	}
	p.filter.SetPodFilter(func(uid string) bool {
		_, skip := answered[uid]
		return !skip
	})
}

// fromCgroup reports whether a cgroup sample fed any of the pod's blocks.
func (o BlockOrigins) fromCgroup() bool {
	for _, b := range [...]Origin{o.CPU, o.Memory, o.Swap, o.IO, o.Network, o.Process} {
		if b == OriginCAdvisor || b == OriginMixed {
			return true
		}
	}
	return false
}
