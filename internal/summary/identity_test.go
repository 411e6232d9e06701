package summary

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// gatedPods is a runtime answer from a provider that records what the
// assembler tells it of identity answers.
type gatedPods struct {
	res  cri.PodStatsResult
	told []bool
}

func (g *gatedPods) PodStats(context.Context) (cri.PodStatsResult, error) { return g.res, nil }
func (g *gatedPods) IdentityAnswers(ok bool)                              { g.told = append(g.told, ok) }

// TestIdentityGate: in ModeCAdvisor the assembler tells the runtime provider,
// after each assembly, whether the cgroups gave every pod and container its
// CPU and memory — yes with the pod's and the container's cgroup samples, no
// when the container's is missing (its runtime values were used); in the
// other modes it tells nothing.
func TestIdentityGate(t *testing.T) {
	podCg, ctrCg := cgSample(), cgSample()
	both := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: podCg}, Containers: map[string]*cadvisor.CgroupStats{containerID: ctrCg}}
	podOnly := cadvisor.Snapshot{Node: cgSample(), Pods: map[string]*cadvisor.CgroupStats{podUID: podCg}}

	for _, tt := range []struct {
		name string
		mode Mode
		snap cadvisor.Snapshot
		want []bool
	}{
		{"cadvisor mode, every cgroup found", ModeCAdvisor, both, []bool{true}},
		{"cadvisor mode, a container cgroup missing", ModeCAdvisor, podOnly, []bool{false}},
		{"cri+cadvisor mode", ModeCRIFill, both, nil},
		{"cri mode", ModeCRI, both, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pods := &gatedPods{res: onePod(criCPU(1e9, nil), criMem(100, 50), criCPU(5e8, nil), criMem(60, 30))}
			a := NewAssembler(Options{NodeName: "n", Mode: tt.mode, Pods: pods, Cgroups: fakeCgroups{snap: tt.snap}})
			_, err := a.Get(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.want, pods.told)
		})
	}
}
