package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
)

// withLayer is cpuMem with a writable layer of used bytes.
func withLayer(id string, cpuNs, workingSet, used uint64) *runtimeapi.ContainerStats {
	s := cpuMem(id, cpuNs, workingSet)
	s.WritableLayer = &runtimeapi.FilesystemUsage{
		Timestamp: at(100 * time.Second),
		FsId:      &runtimeapi.FilesystemIdentifier{Mountpoint: "/nonexistent/statssummary-test"},
		UsedBytes: &runtimeapi.UInt64Value{Value: used},
	}
	return s
}

// onePodWithLayer is a runtime with one pod of one container, c1, whose stats
// carry a writable layer of 4096 bytes; without ListPodSandboxStats (the
// partial path, ListContainerStats).
func onePodWithLayer() crifake.State {
	return crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
		ContainerStats: []*runtimeapi.ContainerStats{withLayer("c1", 2e9, 300, 4096)},
	}
}

// TestIdentityAnswersBetweenStatsCalls: with StatsEvery, once the caller says
// the cgroups cover every pod and container, the scrapes within StatsEvery of
// the last stats call ask the runtime for identity alone and carry the last
// answer's writable layers without any CPU or memory figure; a stats call is
// made again after StatsEvery, for a container the last answer did not list,
// and at every scrape while the caller says the cgroups do not cover all.
func TestIdentityAnswersBetweenStatsCalls(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodWithLayer())
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := newTestProvider(t, srv, Options{Now: clock.Now, StatsEvery: time.Minute})
	statsCalls := func() int { return srv.Calls("ListContainerStats") }

	scrape := func() PodStatsResult {
		t.Helper()
		res, err := p.PodStats(t.Context())
		require.NoError(t, err)
		require.Len(t, res.Pods, 1)
		require.Len(t, res.Pods[0].Containers, 1)
		return res
	}

	// Before the caller has said the cgroups cover all: stats every scrape.
	res := scrape()
	assert.Equal(t, PathPartial, res.Path)
	require.NotNil(t, res.Pods[0].Containers[0].CPU, "the runtime's CPU on a stats answer")
	clock.Advance(10 * time.Second)
	scrape()
	assert.Equal(t, 2, statsCalls(), "no identity answer before the caller allows it")

	p.IdentityAnswers(true)
	clock.Advance(10 * time.Second)
	ids := srv.Calls("ListContainers")
	res = scrape()
	assert.Equal(t, PathIdentity, res.Path)
	assert.Equal(t, 2, statsCalls(), "identity alone within StatsEvery of the last stats call")
	assert.Equal(t, ids+1, srv.Calls("ListContainers"), "identity is asked at every scrape")
	c := res.Pods[0].Containers[0]
	assert.Nil(t, c.CPU, "no CPU of the runtime's on an identity answer")
	assert.Nil(t, c.Memory, "no memory of the runtime's on an identity answer")
	assert.Nil(t, res.Pods[0].CPU, "no pod CPU summed from nothing")
	require.NotNil(t, c.Rootfs, "the last answer's writable layer")
	require.NotNil(t, c.Rootfs.UsedBytes)
	assert.Equal(t, uint64(4096), *c.Rootfs.UsedBytes)
	assert.Equal(t, t0.Add(100*time.Second), c.Rootfs.Time.UTC(), "with the time the runtime measured it")

	// A new container: stats again at once.
	st := crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second), container("c2", "sb-a", "side", running, 2*time.Second)},
		ContainerStats: []*runtimeapi.ContainerStats{withLayer("c1", 3e9, 300, 4096), withLayer("c2", 1e9, 100, 8192)},
	}
	srv.SetState(st)
	clock.Advance(10 * time.Second)
	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathPartial, res.Path, "a container the last answer did not list")
	assert.Equal(t, 3, statsCalls())

	// StatsEvery after the last stats call: stats again.
	clock.Advance(30 * time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathIdentity, res.Path)
	clock.Advance(31 * time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathPartial, res.Path, "StatsEvery since the last stats call")
	assert.Equal(t, 4, statsCalls())

	// The caller says the cgroups no longer cover all: stats every scrape.
	p.IdentityAnswers(false)
	clock.Advance(10 * time.Second)
	res, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathPartial, res.Path)
	assert.Equal(t, 5, statsCalls())
}

// TestIdentityAnswersNeverWithoutStatsEvery: IdentityAnswers does nothing to
// a provider without StatsEvery; every scrape asks for stats.
func TestIdentityAnswersNeverWithoutStatsEvery(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodWithLayer())
	p := newTestProvider(t, srv, Options{})
	p.IdentityAnswers(true)
	for range 3 {
		res, err := p.PodStats(t.Context())
		require.NoError(t, err)
		assert.Equal(t, PathPartial, res.Path)
	}
	assert.Equal(t, 3, srv.Calls("ListContainerStats"))
}

// TestIdentityRefreshesLayersWithContainerStats: once identity answers are
// allowed, the runtime's stats are refreshed with ListContainerStats (the
// writable layers are all they are for), not ListPodSandboxStats, which
// containerd 1.6 answers by asking every shim; before, the strict path holds.
func TestIdentityRefreshesLayersWithContainerStats(t *testing.T) {
	srv := crifake.New(t)
	c1 := withLayer("c1", 2e9, 300, 4096)
	srv.SetState(crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
		ContainerStats: []*runtimeapi.ContainerStats{c1},
		PodSandboxStats: []*runtimeapi.PodSandboxStats{{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
			Linux:      &runtimeapi.LinuxPodSandboxStats{Containers: []*runtimeapi.ContainerStats{c1}},
		}},
	})
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := newTestProvider(t, srv, Options{Now: clock.Now, StatsEvery: time.Minute})

	res, err := p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PathStrict, res.Path, "before identity answers are allowed")
	p.IdentityAnswers(true)
	for range 7 { // one minute at 10 s: one refresh
		clock.Advance(10 * time.Second)
		_, err = p.PodStats(t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, 1, srv.Calls("ListPodSandboxStats"), "the strict call only before identity answers")
	assert.Equal(t, 1, srv.Calls("ListContainerStats"), "the layers refreshed once, with ListContainerStats")
}

// TestIdentityKeepsLayersWhenTheRefreshFails: once identity answers are
// allowed, a refresh of the writable layers that fails (the runtime slower
// than the timeout) leaves the scrape its pods, with the last layers; the next
// scrape asks again. A container the last answer did not list still fails it.
func TestIdentityKeepsLayersWhenTheRefreshFails(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(onePodWithLayer())
	clock := fakeclock.New(t0.Add(200 * time.Second))
	p := newTestProvider(t, srv, Options{Now: clock.Now, StatsEvery: time.Minute})
	_, err := p.PodStats(t.Context())
	require.NoError(t, err)
	p.IdentityAnswers(true)

	srv.SetError("ListContainerStats", status.Error(codes.DeadlineExceeded, "too slow"))
	clock.Advance(time.Minute)
	res, err := p.PodStats(t.Context())
	require.NoError(t, err, "the identity answered: the scrape keeps its pods")
	assert.Equal(t, PathIdentity, res.Path)
	require.Len(t, res.Pods, 1)
	require.NotNil(t, res.Pods[0].Containers[0].Rootfs, "the last writable layer")
	assert.Equal(t, 2, srv.Calls("ListContainerStats"), "asked, failed")

	clock.Advance(10 * time.Second)
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, srv.Calls("ListContainerStats"), "the next scrape asks again")

	srv.SetState(crifake.State{
		Sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second), container("c2", "sb-a", "side", running, 2*time.Second)},
	})
	clock.Advance(10 * time.Second)
	_, err = p.PodStats(t.Context())
	require.Error(t, err, "a new container has no kept layer: the failure is the scrape's")
}
