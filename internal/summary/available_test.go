package summary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// TestResolveAvailableRemembersAndForgets: a limit learned from a pod sample
// decides later assemblies that have no sample of the pod; once the pod has
// not been seen for limitsPurgeAfter it is forgotten, and the runtime's 0 is
// kept again (unknown), as it is with no sample ever.
func TestResolveAvailableRemembersAndForgets(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	pods := func() []statsapi.PodStats {
		return []statsapi.PodStats{{
			PodRef:     statsapi.PodReference{UID: podUID},
			Memory:     &statsapi.MemoryStats{AvailableBytes: p64(0)},
			Containers: []statsapi.ContainerStats{{Name: "app", Memory: &statsapi.MemoryStats{AvailableBytes: p64(0)}}},
		}}
	}
	ids := cri.ContainerInfos{{{ID: containerID}}}
	sampled := cadvisor.Snapshot{Pods: map[string]*cadvisor.CgroupStats{podUID: {
		MemoryLimit: 0, // no pod limit
		Containers:  map[string]cadvisor.ContainerCgroup{containerID: {MemoryLimit: 64 << 20}},
	}}}
	lim := newMemoryLimits()
	check := func(what string, snap cadvisor.Snapshot, now time.Time, wantPod, wantCtr *uint64) {
		t.Helper()
		ps := pods()
		resolveAvailable(ps, ids, snap, lim, now)
		assert.Equal(t, wantPod, ps[0].Memory.AvailableBytes, "%s: pod", what)
		assert.Equal(t, wantCtr, ps[0].Containers[0].Memory.AvailableBytes, "%s: container", what)
	}
	check("sampled", sampled, t0, nil, p64(0))
	check("unread, remembered", cadvisor.Snapshot{}, t0.Add(time.Minute), nil, p64(0))
	gone := t0.Add(time.Minute + limitsPurgeAfter + time.Second)
	resolveAvailable(nil, nil, cadvisor.Snapshot{}, lim, gone) // an assembly without the pod
	check("seen again after the purge: unknown, the runtime's 0", cadvisor.Snapshot{}, gone, p64(0), p64(0))
	// Without a memory of limits (nil) only the sample decides.
	ps := pods()
	resolveAvailable(ps, ids, sampled, nil, t0)
	assert.Nil(t, ps[0].Memory.AvailableBytes, "nil memory: the sample still decides")
}
