package summary

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// gatedPods is a runtime answer from a provider that records what the
// assembler tells it of identity answers; plan is what it says of
// IdentityPlan (a stats interval was set).
type gatedPods struct {
	res  cri.PodStatsResult
	plan bool
	told []bool
}

func (g *gatedPods) PodStats(context.Context) (cri.PodStatsResult, error) { return g.res, nil }
func (g *gatedPods) IdentityPlan() bool                                   { return g.plan }
func (g *gatedPods) IdentityAnswers(ok bool)                              { g.told = append(g.told, ok) }

// TestIdentityGate: in the modes that take CPU and memory from the cgroups
// where the runtime gives none (cadvisor, and cri+cadvisor — the default's),
// the assembler tells a runtime provider with the identity plan, after each
// assembly, whether the cgroup samples held every pod's and container's CPU
// and memory: yes with both samples whole, no when the container's is
// missing or has no rate yet. Which source won the merge does not matter:
// in cri+cadvisor the runtime's values are kept and the gate still opens.
// In cri mode, or for a provider without the plan, it tells nothing.
func TestIdentityGate(t *testing.T) {
	podCg, ctrCg := cgSample(), cgSample()
	both := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: podCg}, Containers: map[string]*cadvisor.CgroupStats{containerID: ctrCg}}
	podOnly := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: podCg}}
	noRate := cgSample()
	noRate.CPU.UsageNanoCores = nil // a container's first sample
	firstSample := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: podCg}, Containers: map[string]*cadvisor.CgroupStats{containerID: noRate}}

	for _, tt := range []struct {
		name string
		mode Mode
		plan bool
		snap cadvisor.Snapshot
		want []bool
		// wantCtrCPU is the container's usageCoreNanoSeconds after the merge.
		wantCtrCPU uint64
	}{
		{"cadvisor mode, every cgroup found", ModeCAdvisor, true, both, []bool{true}, 999_000},
		{"cadvisor mode, a container cgroup missing", ModeCAdvisor, true, podOnly, []bool{false}, 5e8},
		{"cri+cadvisor mode, every cgroup found: the runtime's value kept", ModeCRIFill, true, both, []bool{true}, 5e8},
		{"auto (cri+cadvisor), a container cgroup missing", ModeAuto, true, podOnly, []bool{false}, 5e8},
		{"cri+cadvisor mode, a container's first sample has no rate", ModeCRIFill, true, firstSample, []bool{false}, 5e8},
		{"cri+cadvisor mode, a provider without the plan", ModeCRIFill, false, both, nil, 5e8},
		{"cri mode", ModeCRI, true, both, nil, 5e8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pods := &gatedPods{res: onePod(criCPU(1e9, nil), criMem(100, 50), criCPU(5e8, nil), criMem(60, 30)), plan: tt.plan}
			a := NewAssembler(Options{NodeName: "n", Mode: tt.mode, Pods: pods, Cgroups: fakeCgroups{snap: tt.snap}})
			got, err := a.Get(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.want, pods.told)
			require.Len(t, got.Summary.Pods, 1)
			ctr := got.Summary.Pods[0].Containers[0]
			require.NotNil(t, ctr.CPU)
			assert.Equal(t, tt.wantCtrCPU, *ctr.CPU.UsageCoreNanoSeconds)
		})
	}
}

// TestIdentityGateNeedsPodNetwork: where the runtime's stats answer gave a
// pod network (containerd on the strict path), an identity answer must find
// it in the pod's cgroup sample — a collector that cannot see the pods'
// processes (a DaemonSet without hostPID) reads no pod network namespace, and
// its identity answers would lose the network the runtime gives. A pod to
// which the runtime gave none (a hostNetwork pod, the partial path) has none
// to lose. Identity answers keep what the last stats answer said.
func TestIdentityGateNeedsPodNetwork(t *testing.T) {
	withNet := cgSample()
	withNet.Network = &statsapi.NetworkStats{InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: testkit.P64(1)}}
	snap := func(pod *cadvisor.CgroupStats) cadvisor.Snapshot {
		return cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: pod}, Containers: map[string]*cadvisor.CgroupStats{containerID: cgSample()}}
	}
	for _, tt := range []struct {
		name       string
		runtimeNet bool
		pod        *cadvisor.CgroupStats
		want       bool
	}{
		{"the runtime gave network, the cgroups have it", true, withNet, true},
		{"the runtime gave network, the cgroups do not", true, cgSample(), false},
		{"the runtime gave none, the cgroups none", false, cgSample(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := onePod(criCPU(1e9, nil), criMem(100, 50), criCPU(5e8, nil), criMem(60, 30))
			res.Path = cri.PathStrict
			if tt.runtimeNet {
				res.Pods[0].Network = &statsapi.NetworkStats{Time: criTime, InterfaceStats: statsapi.InterfaceStats{Name: "eth0", RxBytes: testkit.P64(5)}}
			}
			pods := &gatedPods{res: res, plan: true}
			a := NewAssembler(Options{NodeName: "n", Mode: ModeAuto, Pods: pods, Cgroups: fakeCgroups{snap: snap(tt.pod)}})
			_, err := a.Get(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []bool{tt.want}, pods.told)

			pods.res = onePod(nil, nil, nil, nil)
			pods.res.Path = cri.PathIdentity
			_, err = a.Get(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []bool{tt.want, tt.want}, pods.told, "an identity answer: what the last stats answer gave")
		})
	}
}
