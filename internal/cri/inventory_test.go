package cri

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// TestInventory checks which pods and containers are reported, through the
// partial path against the CRI test server. want maps "pod/uid" to its
// containers as "name=id", sorted.
func TestInventory(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name       string
		sandboxes  []*runtimeapi.PodSandbox
		containers []*runtimeapi.Container
		stats      []*runtimeapi.ContainerStats // nil: cpuMem for every container
		want       map[string][]string
	}{
		{
			name:       "ready sandboxes with running containers",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0), sandbox("sb-b", "b", "uid-b", ready, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, s), container("c2", "sb-b", "app", running, s)},
			want:       map[string][]string{"a/uid-a": {"app=c1"}, "b/uid-b": {"app=c2"}},
		},
		{
			name: "a NOTREADY sandbox beside a READY one of the same pod is dropped",
			sandboxes: []*runtimeapi.PodSandbox{
				sandbox("sb-old", "a", "uid-a", notReady, 0), sandbox("sb-new", "a", "uid-a2", ready, 10*s),
			},
			containers: []*runtimeapi.Container{container("c-old", "sb-old", "app", running, s), container("c-new", "sb-new", "app", running, 11*s)},
			want:       map[string][]string{"a/uid-a2": {"app=c-new"}},
		},
		{
			name: "all READY sandboxes of one pod name are kept",
			sandboxes: []*runtimeapi.PodSandbox{
				sandbox("sb-1", "a", "uid-1", ready, 0), sandbox("sb-2", "a", "uid-2", ready, 10*s),
			},
			containers: []*runtimeapi.Container{container("c1", "sb-1", "app", running, s), container("c2", "sb-2", "app", running, 11*s)},
			want:       map[string][]string{"a/uid-1": {"app=c1"}, "a/uid-2": {"app=c2"}},
		},
		{
			name: "with no READY sandbox only the newest is kept",
			sandboxes: []*runtimeapi.PodSandbox{
				sandbox("sb-2", "a", "uid-2", notReady, 10*s), sandbox("sb-1", "a", "uid-1", notReady, 0),
			},
			containers: []*runtimeapi.Container{container("c1", "sb-1", "app", running, s), container("c2", "sb-2", "app", running, 11*s)},
			want:       map[string][]string{"a/uid-2": {"app=c2"}},
		},
		{
			name:       "a kept NOTREADY sandbox without running containers is not reported",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", notReady, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", exited, s)},
			want:       map[string][]string{},
		},
		{
			name:      "a READY sandbox without containers is reported empty",
			sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			want:      map[string][]string{"a/uid-a": {}},
		},
		{
			name:      "only RUNNING containers count",
			sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{
				container("c-run", "sb-a", "run", running, s), container("c-exit", "sb-a", "exit", exited, s),
				container("c-created", "sb-a", "created", created, s), container("c-unknown", "sb-a", "unknown", unknown, s),
			},
			want: map[string][]string{"a/uid-a": {"run=c-run"}},
		},
		{
			name:       "a container whose sandbox is not listed is dropped",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, s), container("c-orphan", "sb-gone", "app", running, s)},
			want:       map[string][]string{"a/uid-a": {"app=c1"}},
		},
		{
			name:       "stats of a container ListContainers does not know are dropped",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, s)},
			stats:      []*runtimeapi.ContainerStats{cpuMem("c1", 1, 1), cpuMem("c-unknown", 1, 1)},
			want:       map[string][]string{"a/uid-a": {"app=c1"}},
		},
		{
			name:       "a running container without stats is left out",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, s), container("c2", "sb-a", "side", running, s)},
			stats:      []*runtimeapi.ContainerStats{cpuMem("c1", 1, 1)},
			want:       map[string][]string{"a/uid-a": {"app=c1"}},
		},
		{
			name:      "of two RUNNING containers with one name the newest is kept",
			sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{
				container("c-new", "sb-a", "app", running, 20*s), container("c-old", "sb-a", "app", running, s),
			},
			want: map[string][]string{"a/uid-a": {"app=c-new"}},
		},
		{
			name: "sandbox and container identity from kubelet labels when metadata is nil",
			sandboxes: []*runtimeapi.PodSandbox{{
				Id: "sb-a", State: ready, CreatedAt: at(0),
				Labels: map[string]string{labelPodName: "a", labelPodNamespace: "shop", labelPodUID: "uid-a"},
			}},
			containers: []*runtimeapi.Container{{
				Id: "c1", PodSandboxId: "sb-a", State: running, CreatedAt: at(s),
				Labels: map[string]string{labelContainerName: "app"},
			}},
			want: map[string][]string{"a/uid-a": {"app=c1"}},
		},
		{
			name: "a sandbox without a pod UID or name, or without an ID, is dropped",
			sandboxes: []*runtimeapi.PodSandbox{
				{Id: "sb-nometa", State: ready},
				sandbox("sb-nouid", "a", "", ready, 0),
				sandbox("", "b", "uid-b", ready, 0),
				sandbox("sb-c", "c", "uid-c", ready, 0),
			},
			want: map[string][]string{"c/uid-c": {}},
		},
		{
			name:      "a container without a name is dropped",
			sandboxes: []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{
				{Id: "c-noname", PodSandboxId: "sb-a", State: running}, container("c1", "sb-a", "app", running, s),
			},
			want: map[string][]string{"a/uid-a": {"app=c1"}},
		},
		{
			name: "of READY sandboxes sharing a pod UID the newest is kept",
			sandboxes: []*runtimeapi.PodSandbox{
				sandbox("sb-1", "a", "uid-a", ready, 0), sandbox("sb-2", "a", "uid-a", ready, 10*s),
			},
			containers: []*runtimeapi.Container{container("c1", "sb-1", "app", running, s), container("c2", "sb-2", "app", running, 11*s)},
			want:       map[string][]string{"a/uid-a": {"app=c2"}},
		},
		{
			name:       "container stats with nil attributes are ignored",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			containers: []*runtimeapi.Container{container("c1", "sb-a", "app", running, s)},
			stats:      []*runtimeapi.ContainerStats{{Cpu: &runtimeapi.CpuUsage{UsageCoreNanoSeconds: testkit.U64(5)}}, cpuMem("c1", 1, 1), nil},
			want:       map[string][]string{"a/uid-a": {"app=c1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			stats := tt.stats
			if stats == nil {
				for _, c := range tt.containers {
					stats = append(stats, cpuMem(c.GetId(), 1, 1))
				}
			}
			srv.SetState(crifake.State{Sandboxes: tt.sandboxes, Containers: tt.containers, ContainerStats: stats})
			res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
			require.NoError(t, err)

			got := map[string][]string{}
			for _, p := range res.Pods {
				key := p.PodRef.Name + "/" + p.PodRef.UID
				_, dup := got[key]
				require.False(t, dup, "pod %s reported twice", key)
				assert.Equal(t, "shop", p.PodRef.Namespace)
				names := []string{}
				for _, c := range p.Containers {
					info, ok := res.Containers.Find(res.Pods, ContainerKey{PodUID: p.PodRef.UID, Name: c.Name})
					require.True(t, ok, "no container info for %s/%s", key, c.Name)
					names = append(names, c.Name+"="+info.ID)
				}
				sort.Strings(names)
				got[key] = names
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestInventoryStartTimes checks that a pod starts when its sandbox was
// created and a container when it was created, and that an unknown (0)
// creation time stays the zero time.
func TestInventoryStartTimes(t *testing.T) {
	srv := crifake.New(t)
	noTime := container("c2", "sb-a", "side", running, 0)
	noTime.CreatedAt = 0
	srv.SetState(crifake.State{
		Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 5*time.Second)},
		Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, 7*time.Second), noTime},
		ContainerStats: []*runtimeapi.ContainerStats{cpuMem("c1", 1, 1), cpuMem("c2", 1, 1)},
	})
	res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
	require.NoError(t, err)
	require.Len(t, res.Pods, 1)
	p := res.Pods[0]
	assert.True(t, p.StartTime.Time.Equal(time.Date(2026, 11, 1, 12, 0, 5, 0, time.UTC)), "pod start %v", p.StartTime)
	require.Len(t, p.Containers, 2)
	assert.True(t, p.Containers[0].StartTime.Time.Equal(time.Date(2026, 11, 1, 12, 0, 7, 0, time.UTC)), "container start %v", p.Containers[0].StartTime)
	assert.True(t, p.Containers[1].StartTime.IsZero(), "unknown creation time stays zero, got %v", p.Containers[1].StartTime)
}
