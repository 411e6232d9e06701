package summary

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// TestHostNetworkPodTakesNoCgroupNetwork: the pod cgroup sample of a
// hostNetwork pod carries the node's interfaces (its processes are in the
// node's network namespace); no mode fills the pod's network from it, while
// a pod with its own namespace is filled as before, and the rest of the
// hostNetwork pod's sample still fills what the runtime left empty.
func TestHostNetworkPodTakesNoCgroupNetwork(t *testing.T) {
	nodeNet := &statsapi.NetworkStats{
		InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(5e9)},
		Interfaces:     []statsapi.InterfaceStats{{Name: "eth0", RxBytes: p64(5e9)}, {Name: "ifb0", RxBytes: p64(7)}},
	}
	podNet := &statsapi.NetworkStats{
		InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: p64(1000)},
		Interfaces:     []statsapi.InterfaceStats{{Name: "eth0", RxBytes: p64(1000)}},
	}
	for _, mode := range []Mode{ModeCRIFill, ModeCAdvisor} {
		t.Run(string(mode), func(t *testing.T) {
			res := cri.PodStatsResult{
				Pods: []statsapi.PodStats{
					{PodRef: statsapi.PodReference{Name: "node-exporter", Namespace: "mon", UID: "uid-host"}},
					{PodRef: statsapi.PodReference{Name: "web", Namespace: "shop", UID: "uid-own"}},
				},
				Containers:  cri.ContainerInfos{nil, nil},
				Path:        cri.PathStrict,
				HostNetwork: []bool{true, false},
			}
			hostCg, ownCg := cgSample(), cgSample()
			hostCg.Network, ownCg.Network = nodeNet, podNet
			snap := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{"uid-host": hostCg, "uid-own": ownCg}}
			a := NewAssembler(Options{NodeName: "n", Mode: mode, Pods: fakePods{res: res}, Cgroups: fakeCgroups{snap: snap}})
			got, err := a.Get(t.Context())
			require.NoError(t, err)
			host, own := got.Summary.Pods[0], got.Summary.Pods[1]
			assert.Nil(t, host.Network, "the node's interfaces are not the hostNetwork pod's")
			require.NotNil(t, host.ProcessStats, "the rest of its cgroup sample still fills")
			assert.Equal(t, uint64(3), *host.ProcessStats.ProcessCount)
			require.NotNil(t, own.Network)
			assert.Equal(t, uint64(1000), *own.Network.RxBytes)
			hostSrc, _ := got.Provenance.Pod("uid-host")
			ownSrc, _ := got.Provenance.Pod("uid-own")
			assert.Equal(t, OriginNone, hostSrc.Network)
			assert.Equal(t, OriginCAdvisor, ownSrc.Network)
			assert.Same(t, nodeNet, hostCg.Network, "the shared sample is left as it was")
		})
	}
}
