package cri

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// TestStrictContainerLookup checks how the strict path finds a container's
// stats in the sandbox answers, with a few containers (scanned) and with more
// than scanLimit (a map), and that the container infos parallel the pods.
func TestStrictContainerLookup(t *testing.T) {
	for _, n := range []int{3, scanLimit + 5} {
		t.Run(fmt.Sprintf("containers=%d", n), func(t *testing.T) {
			var ctrs []*runtimeapi.Container
			var statsA []*runtimeapi.ContainerStats
			for i := range n {
				id := fmt.Sprintf("a-%02d", i)
				ctrs = append(ctrs, container(id, "sb-a", fmt.Sprintf("app-%02d", i), running, time.Second))
				statsA = append(statsA, cpuMem(id, 1, uint64(100+i)))
			}
			// a-00 is listed twice by its sandbox: the last listing wins.
			statsA = append(statsA, cpuMem("a-00", 1, 999))
			// b-01 runs in sb-b, but only sb-a's answer lists it: it has no
			// stats, and is left out.
			ctrs = append(ctrs,
				container("b-00", "sb-b", "web", running, time.Second),
				container("b-01", "sb-b", "sidecar", running, time.Second))
			statsA = append(statsA, cpuMem("b-01", 1, 7))

			srv := crifake.New(t)
			srv.SetState(crifake.State{
				Sandboxes: []*runtimeapi.PodSandbox{
					sandbox("sb-a", "a", "uid-a", ready, 0),
					sandbox("sb-b", "b", "uid-b", ready, 0),
				},
				Containers: ctrs,
				PodSandboxStats: []*runtimeapi.PodSandboxStats{
					{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"}, Linux: &runtimeapi.LinuxPodSandboxStats{Containers: statsA}},
					{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-b"}, Linux: &runtimeapi.LinuxPodSandboxStats{
						Containers: []*runtimeapi.ContainerStats{cpuMem("b-00", 1, 50)},
					}},
				},
			})
			res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
			require.NoError(t, err)
			require.Equal(t, PathStrict, res.Path)
			require.Len(t, res.Pods, 2)
			require.Len(t, res.Containers, 2, "one list of infos per pod")

			a, b := res.Pods[0], res.Pods[1]
			require.Equal(t, "a", a.PodRef.Name)
			require.Len(t, a.Containers, n)
			require.Len(t, res.Containers[0], n)
			for j, c := range a.Containers {
				info, ok := res.Containers.Of(0, j)
				require.True(t, ok)
				assert.Equal(t, ContainerInfo{ID: fmt.Sprintf("a-%02d", j), SandboxID: "sb-a"}, info, c.Name)
				want := uint64(100 + j)
				if j == 0 {
					want = 999
				}
				assert.Equal(t, want, *c.Memory.WorkingSetBytes, c.Name)
			}
			require.Equal(t, "b", b.PodRef.Name)
			require.Len(t, b.Containers, 1, "sidecar's stats are only in another sandbox's answer")
			assert.Equal(t, "web", b.Containers[0].Name)
			info, ok := res.Containers.Find(res.Pods, ContainerKey{PodUID: "uid-b", Name: "web"})
			require.True(t, ok)
			assert.Equal(t, "b-00", info.ID)
			_, ok = res.Containers.Find(res.Pods, ContainerKey{PodUID: "uid-b", Name: "sidecar"})
			assert.False(t, ok)
			assert.Equal(t, n+1, res.Containers.Len())
		})
	}
}

func TestContainerInfosOf(t *testing.T) {
	infos := ContainerInfos{{{ID: "a"}}, {}}
	for _, tt := range []struct {
		pod, ctr int
		ok       bool
	}{{0, 0, true}, {0, 1, false}, {1, 0, false}, {2, 0, false}, {-1, 0, false}, {0, -1, false}} {
		_, ok := infos.Of(tt.pod, tt.ctr)
		assert.Equal(t, tt.ok, ok, "Of(%d, %d)", tt.pod, tt.ctr)
	}
	var none ContainerInfos
	_, ok := none.Find([]statsapi.PodStats{{PodRef: statsapi.PodReference{UID: "u"}, Containers: []statsapi.ContainerStats{{Name: "c"}}}}, ContainerKey{PodUID: "u", Name: "c"})
	assert.False(t, ok, "infos shorter than the pods")
}
