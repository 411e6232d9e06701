package summary

import (
	"sync"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// memoryLimits remembers the memory limits that pod samples told of pods and
// their containers, so that an assembly whose cgroup plan left a pod unread
// still knows them (limits change rarely; every pod is read again within
// FullCgroupReadEvery assemblies). It is safe for concurrent use.
type memoryLimits struct {
	mu    sync.Mutex
	byKey map[limitKey]knownLimit
}

// limitKey names a pod (by UID) or a container (by runtime ID); a struct, not
// a joined string, so a lookup allocates nothing.
type limitKey struct {
	pod bool
	id  string
}

// knownLimit is a memory limit in bytes (0: none) and when it was last read
// or used.
type knownLimit struct {
	limit uint64
	seen  time.Time
}

// limitsPurgeAfter is how long a limit is kept once its pod or container is
// no longer seen.
const limitsPurgeAfter = 10 * time.Minute

func newMemoryLimits() *memoryLimits {
	return &memoryLimits{byKey: map[limitKey]knownLimit{}}
}

// resolveAvailable decides every runtime memory.availableBytes of 0 in pods:
// containerd sends 0 both for "no limit" and for a container (or pod) at its
// limit. Where the cgroup's limit is known — from this assembly's pod sample
// or an earlier one — 0 under no limit is dropped (nil: unbounded) and 0
// under a limit is kept (nothing left). Where it is not known (ModeCRI, a
// pod never read) the runtime's 0 stays, as the kubelet reports it. The pod
// samples read in this assembly refresh lim; a nil lim remembers nothing.
func resolveAvailable(pods []statsapi.PodStats, ids cri.ContainerInfos, snap cadvisor.Snapshot, lim *memoryLimits, now time.Time) {
	if lim != nil {
		lim.mu.Lock()
		defer lim.mu.Unlock()
	}
	for i := range pods {
		p := &pods[i]
		cg := snap.Pods[p.PodRef.UID]
		if cg != nil && cg.Containers == nil {
			cg = nil // a sample without its limits (not the cgroup provider's)
		}
		var podLimit uint64
		if cg != nil {
			podLimit = cg.MemoryLimit
		}
		limit, known := lim.of(limitKey{pod: true, id: p.PodRef.UID}, podLimit, cg != nil, now)
		dropUnboundedZero(p.Memory, limit, known)
		infos := containersOf(ids, i)
		for j := range p.Containers {
			if j >= len(infos) {
				break
			}
			id := infos[j].ID
			var c cadvisor.ContainerCgroup
			sampled := false
			if cg != nil {
				c, sampled = cg.Containers[id]
			}
			limit, known := lim.of(limitKey{id: id}, c.MemoryLimit, sampled, now)
			dropUnboundedZero(p.Containers[j].Memory, limit, known)
		}
	}
	lim.purge(now)
}

// of returns the limit of key: v, the sample's, when sampled (and remembers
// it), else the one remembered, if any. l's lock is held; l may be nil.
func (l *memoryLimits) of(key limitKey, v uint64, sampled bool, now time.Time) (uint64, bool) {
	if sampled {
		if l != nil {
			l.byKey[key] = knownLimit{limit: v, seen: now}
		}
		return v, true
	}
	if l == nil {
		return 0, false
	}
	k, ok := l.byKey[key]
	if ok {
		k.seen = now
		l.byKey[key] = k
	}
	return k.limit, ok
}

// purge forgets the limits not seen for limitsPurgeAfter. l's lock is held;
// l may be nil.
func (l *memoryLimits) purge(now time.Time) {
	if l == nil {
		return
	}
	for k, v := range l.byKey {
		if now.Sub(v.seen) > limitsPurgeAfter {
			delete(l.byKey, k)
		}
	}
}

// dropUnboundedZero clears an available-bytes value of 0 when the cgroup is
// known to have no limit.
func dropUnboundedZero(m *statsapi.MemoryStats, limit uint64, known bool) {
	if m == nil || m.AvailableBytes == nil || *m.AvailableBytes != 0 || !known || limit != 0 {
		return
	}
	m.AvailableBytes = nil
}
