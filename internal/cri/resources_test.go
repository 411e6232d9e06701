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

// withResources is container id's status with the resources the kubelet
// would set for it.
func withResources(id string, period, quota, shares, memory int64) *runtimeapi.ContainerStatus {
	return &runtimeapi.ContainerStatus{Id: id, Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{
		CpuPeriod: period, CpuQuota: quota, CpuShares: shares, MemoryLimitInBytes: memory,
	}}}
}

// TestContainerResourcesAskedOncePerChange: each container's ContainerStatus
// is asked once, then only when its token changes (its cgroup limits did: an
// in-place resize), and again for a few scrapes while the runtime's answer
// lags the change; containers gone are forgotten.
func TestContainerResourcesAskedOncePerChange(t *testing.T) {
	srv := crifake.New(t)
	st := crifake.State{
		Sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb", "a", "uid-a", ready, 0)},
		Containers: []*runtimeapi.Container{container("c1", "sb", "app", running, 0), container("c2", "sb", "side", running, 0)},
		ContainerStatuses: []*runtimeapi.ContainerStatus{
			withResources("c1", 100000, 50000, 512, 256<<20),
			{Id: "c2", Resources: &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{}}},
		},
	}
	srv.SetState(st)
	p := newTestProvider(t, srv, Options{})
	token := ResourceToken{1}
	q := []ResourceQuery{{ID: "c1", Token: token}, {ID: "c2", Token: token}, {ID: "gone", Token: token}}

	got := p.ContainerResources(t.Context(), q)
	assert.Equal(t, []ResourceAnswer{
		{Resources: Resources{CPUPeriod: 100000, CPUQuota: 50000, CPUShares: 512, MemoryLimit: 256 << 20}, Known: true},
		{}, // an empty Linux block: the runtime told nothing
		{}, // NotFound: removed since listed
	}, got)
	assert.Equal(t, 3, srv.Calls("ContainerStatus"))

	p.ContainerResources(t.Context(), q)
	assert.Equal(t, 4, srv.Calls("ContainerStatus"), "the steady state asks nothing but the container it could not find")

	// A resize: the cgroup changed (a new token) and the runtime's status
	// follows one scrape later.
	resized := ResourceToken{2}
	q = []ResourceQuery{{ID: "c1", Token: resized}, {ID: "c2", Token: token}}
	calls := srv.Calls("ContainerStatus")
	got = p.ContainerResources(t.Context(), q)
	assert.Equal(t, int64(50000), got[0].Resources.CPUQuota, "the runtime's answer, not updated yet")
	st.ContainerStatuses[0] = withResources("c1", 100000, 100000, 1024, 512<<20)
	srv.SetState(st)
	got = p.ContainerResources(t.Context(), q)
	assert.Equal(t, Resources{CPUPeriod: 100000, CPUQuota: 100000, CPUShares: 1024, MemoryLimit: 512 << 20}, got[0].Resources, "asked again while the answer lagged")
	p.ContainerResources(t.Context(), q)
	assert.Equal(t, calls+2, srv.Calls("ContainerStatus"), "settled once the answer changed")

	// A token change whose answer never changes is taken after a few tries.
	calls = srv.Calls("ContainerStatus")
	q[1].Token = resized
	for range resourceRetries + 3 {
		p.ContainerResources(t.Context(), q)
	}
	assert.Equal(t, calls+1+resourceRetries, srv.Calls("ContainerStatus"))

	// Not queried: forgotten, asked afresh when it comes back.
	p.ContainerResources(t.Context(), q[:1])
	calls = srv.Calls("ContainerStatus")
	p.ContainerResources(t.Context(), q)
	assert.Equal(t, calls+1, srv.Calls("ContainerStatus"))
}

// TestContainerResourcesFaults: a failing call leaves its container unknown
// and is asked again; a runtime without ContainerStatus is not asked again
// for a while; nothing fails the caller.
func TestContainerResourcesFaults(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(crifake.State{
		Containers:        []*runtimeapi.Container{container("c1", "sb", "app", running, 0)},
		ContainerStatuses: []*runtimeapi.ContainerStatus{withResources("c1", 100000, 20000, 2, 0)},
	})
	clock := fakeclock.New(t0)
	p := newTestProvider(t, srv, Options{Now: clock.Now})
	q := []ResourceQuery{{ID: "c1"}}

	srv.SetError("ContainerStatus", status.Error(codes.Internal, "injected"))
	assert.Equal(t, []ResourceAnswer{{}}, p.ContainerResources(t.Context(), q))
	srv.SetError("ContainerStatus", nil)
	got := p.ContainerResources(t.Context(), q)
	require.True(t, got[0].Known, "asked again after the failure")
	assert.Equal(t, int64(20000), got[0].Resources.CPUQuota)

	srv.SetDelay("ContainerStatus", 5*time.Second)
	p2 := NewProvider(NewClient(dialFake(t, srv), 50*time.Millisecond), Options{Now: clock.Now})
	assert.Equal(t, []ResourceAnswer{{}}, p2.ContainerResources(t.Context(), q), "a timeout: unknown")
	srv.SetDelay("ContainerStatus", 0)

	p3 := newTestProvider(t, srv, Options{Now: clock.Now})
	srv.SetError("ContainerStatus", status.Error(codes.Unimplemented, "injected"))
	p3.ContainerResources(t.Context(), q)
	srv.SetError("ContainerStatus", nil)
	calls := srv.Calls("ContainerStatus")
	assert.Equal(t, []ResourceAnswer{{}}, p3.ContainerResources(t.Context(), q))
	assert.Equal(t, calls, srv.Calls("ContainerStatus"), "Unimplemented: not asked again")
	clock.Advance(resourceRecheck)
	assert.True(t, p3.ContainerResources(t.Context(), q)[0].Known, "asked again after the recheck period")
}
