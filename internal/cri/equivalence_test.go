package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// equivalenceState is two pods as a runtime implementing both paths reports
// them at sample time ts, with CPU counters advanced by step core-seconds per
// container (scaled per container so rates differ). Pod CPU and memory from
// the sandbox equal the containers' sums, so both paths can agree on them.
func equivalenceState(ts time.Duration, step uint64, withSandboxStats bool) crifake.State {
	type ctr struct {
		id, sandbox, name string
		scale             uint64
	}
	ctrs := []ctr{{"c1", "sb-web", "nginx", 1}, {"c2", "sb-web", "sidecar", 2}, {"c3", "sb-db", "postgres", 3}}
	stats := map[string]*runtimeapi.ContainerStats{}
	var containers []*runtimeapi.Container
	for _, c := range ctrs {
		containers = append(containers, container(c.id, c.sandbox, c.name, running, time.Second))
		stats[c.id] = &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: c.id},
			Cpu:        &runtimeapi.CpuUsage{Timestamp: at(ts), UsageCoreNanoSeconds: testkit.U64(c.scale * step * 1e9)},
			Memory: &runtimeapi.MemoryUsage{
				Timestamp: at(ts), WorkingSetBytes: testkit.U64(c.scale * 100), UsageBytes: testkit.U64(c.scale * 150), RssBytes: testkit.U64(c.scale * 80),
				AvailableBytes: testkit.U64(c.scale * 1000), PageFaults: testkit.U64(c.scale * 10), MajorPageFaults: testkit.U64(c.scale),
				Psi: psiCRI(c.scale, 0.1),
			},
			Swap:          &runtimeapi.SwapUsage{Timestamp: at(ts), SwapUsageBytes: testkit.U64(c.scale * 4096), SwapAvailableBytes: testkit.U64(1 << 20)},
			Io:            &runtimeapi.IoUsage{Timestamp: at(ts), Psi: psiCRI(c.scale*7, 0.7)},
			WritableLayer: &runtimeapi.FilesystemUsage{Timestamp: at(ts), UsedBytes: testkit.U64(c.scale * 4096), InodesUsed: testkit.U64(c.scale)},
		}
	}
	st := crifake.State{
		Sandboxes:  []*runtimeapi.PodSandbox{sandbox("sb-web", "web", "uid-web", ready, 0), sandbox("sb-db", "db", "uid-db", ready, 0)},
		Containers: containers,
		ContainerStats: []*runtimeapi.ContainerStats{
			stats["c1"], stats["c2"], stats["c3"],
		},
	}
	if !withSandboxStats {
		return st
	}
	pod := func(id string, members []string, sum uint64) *runtimeapi.PodSandboxStats {
		var cs []*runtimeapi.ContainerStats
		for _, m := range members {
			cs = append(cs, stats[m])
		}
		return &runtimeapi.PodSandboxStats{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: id},
			Linux: &runtimeapi.LinuxPodSandboxStats{
				Cpu: &runtimeapi.CpuUsage{Timestamp: at(ts), UsageCoreNanoSeconds: testkit.U64(sum * step * 1e9), Psi: psiCRI(1, 0.2)},
				Memory: &runtimeapi.MemoryUsage{
					Timestamp: at(ts), WorkingSetBytes: testkit.U64(sum * 100), UsageBytes: testkit.U64(sum * 150), RssBytes: testkit.U64(sum * 80),
					PageFaults: testkit.U64(sum * 10), MajorPageFaults: testkit.U64(sum), Psi: psiCRI(2, 0.3),
				},
				Network:    &runtimeapi.NetworkUsage{Timestamp: at(ts), DefaultInterface: ifaceCRI("eth0", 1000)},
				Process:    &runtimeapi.ProcessUsage{Timestamp: at(ts), ProcessCount: testkit.U64(4)},
				Io:         &runtimeapi.IoUsage{Timestamp: at(ts), Psi: psiCRI(3, 0.4)},
				Containers: cs,
			},
		}
	}
	st.PodSandboxStats = []*runtimeapi.PodSandboxStats{pod("sb-web", []string{"c1", "c2"}, 3), pod("sb-db", []string{"c3"}, 3)}
	return st
}

// TestStrictAndPartialAgree assembles the same pods through both paths, twice
// (so rates are computed), and checks they give the same Summary pods except
// what only the sandbox knows: pod network, process count, IO and pressure.
func TestStrictAndPartialAgree(t *testing.T) {
	strictSrv, partialSrv := crifake.New(t), crifake.New(t)
	strict := newTestProvider(t, strictSrv, Options{})
	partial := newTestProvider(t, partialSrv, Options{})

	for round, ts := range []time.Duration{100 * time.Second, 110 * time.Second} {
		strictSrv.SetState(equivalenceState(ts, uint64(round+1), true))
		partialSrv.SetState(equivalenceState(ts, uint64(round+1), false))
		s, err := strict.PodStats(t.Context())
		require.NoError(t, err)
		p, err := partial.PodStats(t.Context())
		require.NoError(t, err)
		require.Equal(t, PathStrict, s.Path)
		require.Equal(t, PathPartial, p.Path)

		require.Len(t, s.Pods, 2)
		for i := range s.Pods {
			sp := &s.Pods[i]
			// Only the sandbox knows these: the strict path has them, the
			// partial path leaves them to other sources.
			assert.Equal(t, &statsapi.ProcessStats{ProcessCount: testkit.P64(4)}, sp.ProcessStats, "round %d pod %s", round, sp.PodRef.Name)
			assert.NotNil(t, sp.Network, "round %d pod %s network", round, sp.PodRef.Name)
			assert.NotNil(t, sp.IO, "round %d pod %s io", round, sp.PodRef.Name)
			assert.NotNil(t, sp.CPU.PSI, "round %d pod %s cpu psi", round, sp.PodRef.Name)
			assert.NotNil(t, sp.Memory.PSI, "round %d pod %s memory psi", round, sp.PodRef.Name)
			sp.ProcessStats, sp.Network, sp.IO, sp.CPU.PSI, sp.Memory.PSI = nil, nil, nil, nil, nil
		}
		assert.Equal(t, p.Pods, s.Pods, "round %d", round)
		assert.Equal(t, p.Containers, s.Containers, "round %d", round)
	}

	// Between the rounds c1, c2 and c3 used 1, 2 and 3 core-seconds in 10 s:
	// 0.1, 0.2 and 0.3 cores, so web (c1+c2) and db (c3) both run 0.3 cores.
	// A third assembly of the same samples gets the same rates again.
	s, err := strict.PodStats(t.Context())
	require.NoError(t, err)
	for _, pod := range s.Pods {
		require.NotNil(t, pod.CPU.UsageNanoCores, pod.PodRef.Name)
		assert.Equal(t, uint64(3e8), *pod.CPU.UsageNanoCores, pod.PodRef.Name)
	}
}
