package cri

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// mt is the metav1 time of a fixture offset, as the provider builds it.
func mt(d time.Duration) metav1.Time { return metav1.NewTime(time.Unix(0, at(d))) }

// received is the provider clock of newTestProvider: what stands in for a
// zero sample timestamp.
var received = metav1.NewTime(t0.Add(200 * time.Second))

func psiCRI(someTotal uint64, avg10 float64) *runtimeapi.PsiStats {
	return &runtimeapi.PsiStats{Some: &runtimeapi.PsiData{Total: someTotal, Avg10: avg10, Avg60: 0.5, Avg300: 0.25}}
}

func psiWant(someTotal uint64, avg10 float64) *statsapi.PSIStats {
	return &statsapi.PSIStats{Some: statsapi.PSIData{Total: someTotal, Avg10: avg10, Avg60: 0.5, Avg300: 0.25}}
}

// TestContainerStatsConversion checks each block of a container's stats as
// read through the partial path.
func TestContainerStatsConversion(t *testing.T) {
	const s = time.Second
	attrs := &runtimeapi.ContainerAttributes{Id: "c1"}
	tests := []struct {
		name  string
		stats *runtimeapi.ContainerStats
		want  statsapi.ContainerStats // Name and StartTime are filled in
	}{
		{
			name:  "nil Cpu and Memory stay unknown (nil), not zero",
			stats: &runtimeapi.ContainerStats{Attributes: attrs},
			want:  statsapi.ContainerStats{},
		},
		{
			name: "memory with a limit: every field, available kept",
			stats: &runtimeapi.ContainerStats{Attributes: attrs, Memory: &runtimeapi.MemoryUsage{
				Timestamp: at(100 * s), WorkingSetBytes: testkit.U64(100), AvailableBytes: testkit.U64(400), UsageBytes: testkit.U64(150),
				RssBytes: testkit.U64(80), PageFaults: testkit.U64(1000), MajorPageFaults: testkit.U64(3),
			}},
			want: statsapi.ContainerStats{Memory: &statsapi.MemoryStats{
				Time: mt(100 * s), WorkingSetBytes: testkit.P64(100), AvailableBytes: testkit.P64(400), UsageBytes: testkit.P64(150),
				RSSBytes: testkit.P64(80), PageFaults: testkit.P64(1000), MajorPageFaults: testkit.P64(3),
			}},
		},
		{
			// containerd: no limit, or at the limit; the merge asks the cgroup.
			name: "memory available 0 is kept for the merge to decide",
			stats: &runtimeapi.ContainerStats{Attributes: attrs, Memory: &runtimeapi.MemoryUsage{
				Timestamp: at(100 * s), WorkingSetBytes: testkit.U64(100), AvailableBytes: testkit.U64(0),
			}},
			want: statsapi.ContainerStats{Memory: &statsapi.MemoryStats{Time: mt(100 * s), WorkingSetBytes: testkit.P64(100), AvailableBytes: testkit.P64(0)}},
		},
		{
			// CRI-O on cgroup v1 without a limit: 9223372036854771712 − working set.
			name: "memory available computed against cgroup v1's unlimited value is omitted",
			stats: &runtimeapi.ContainerStats{Attributes: attrs, Memory: &runtimeapi.MemoryUsage{
				Timestamp: at(100 * s), WorkingSetBytes: testkit.U64(100), AvailableBytes: testkit.U64(9223372036854771712 - 100),
			}},
			want: statsapi.ContainerStats{Memory: &statsapi.MemoryStats{Time: mt(100 * s), WorkingSetBytes: testkit.P64(100)}},
		},
		{
			name: "swap available computed against an unlimited swap.max is omitted",
			stats: &runtimeapi.ContainerStats{Attributes: attrs, Swap: &runtimeapi.SwapUsage{
				Timestamp: at(100 * s), SwapUsageBytes: testkit.U64(4096), SwapAvailableBytes: testkit.U64(math.MaxUint64 - 4096),
			}},
			want: statsapi.ContainerStats{Swap: &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(4096)}},
		},
		{
			name: "swap usage and available",
			stats: &runtimeapi.ContainerStats{Attributes: attrs, Swap: &runtimeapi.SwapUsage{
				Timestamp: at(100 * s), SwapUsageBytes: testkit.U64(4096), SwapAvailableBytes: testkit.U64(8192),
			}},
			want: statsapi.ContainerStats{Swap: &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(4096), SwapAvailableBytes: testkit.P64(8192)}},
		},
		{
			name: "PSI on CPU, memory and IO",
			stats: &runtimeapi.ContainerStats{
				Attributes: attrs,
				Cpu:        &runtimeapi.CpuUsage{Timestamp: at(100 * s), Psi: psiCRI(11, 1.5)},
				Memory:     &runtimeapi.MemoryUsage{Timestamp: at(100 * s), Psi: psiCRI(22, 2.5)},
				Io: &runtimeapi.IoUsage{Timestamp: at(100 * s), Psi: &runtimeapi.PsiStats{
					Full: &runtimeapi.PsiData{Total: 33, Avg10: 3.5}, Some: &runtimeapi.PsiData{Total: 44},
				}},
			},
			want: statsapi.ContainerStats{
				CPU:    &statsapi.CPUStats{Time: mt(100 * s), PSI: psiWant(11, 1.5)},
				Memory: &statsapi.MemoryStats{Time: mt(100 * s), PSI: psiWant(22, 2.5)},
				IO: &statsapi.IOStats{Time: mt(100 * s), PSI: &statsapi.PSIStats{
					Full: statsapi.PSIData{Total: 33, Avg10: 3.5}, Some: statsapi.PSIData{Total: 44},
				}},
			},
		},
		{
			// A NaN or infinite average cannot be written as JSON; the block is
			// no reading (nil), the other blocks are kept.
			name: "PSI with a non-finite average is dropped, block by block",
			stats: &runtimeapi.ContainerStats{
				Attributes: attrs,
				Cpu:        &runtimeapi.CpuUsage{Timestamp: at(100 * s), Psi: psiCRI(11, math.NaN())},
				Memory: &runtimeapi.MemoryUsage{Timestamp: at(100 * s), Psi: &runtimeapi.PsiStats{
					Some: &runtimeapi.PsiData{Total: 22, Avg10: 2.5}, Full: &runtimeapi.PsiData{Total: 1, Avg300: math.Inf(1)},
				}},
				Io: &runtimeapi.IoUsage{Timestamp: at(100 * s), Psi: &runtimeapi.PsiStats{
					Some: &runtimeapi.PsiData{Total: 44, Avg60: math.Inf(-1)},
				}},
				Swap: &runtimeapi.SwapUsage{Timestamp: at(100 * s), SwapUsageBytes: testkit.U64(9)},
			},
			want: statsapi.ContainerStats{
				CPU:    &statsapi.CPUStats{Time: mt(100 * s)},
				Memory: &statsapi.MemoryStats{Time: mt(100 * s)},
				IO:     &statsapi.IOStats{Time: mt(100 * s)},
				Swap:   &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(9)},
			},
		},
		{
			name: "zero timestamps become the receive time, not 1970",
			stats: &runtimeapi.ContainerStats{
				Attributes: attrs,
				Cpu:        &runtimeapi.CpuUsage{UsageCoreNanoSeconds: testkit.U64(5)},
				Memory:     &runtimeapi.MemoryUsage{WorkingSetBytes: testkit.U64(7)},
				Swap:       &runtimeapi.SwapUsage{SwapUsageBytes: testkit.U64(9)},
				Io:         &runtimeapi.IoUsage{},
				WritableLayer: &runtimeapi.FilesystemUsage{
					UsedBytes: testkit.U64(4096), InodesUsed: testkit.U64(12),
				},
			},
			want: statsapi.ContainerStats{
				CPU:    &statsapi.CPUStats{Time: received, UsageCoreNanoSeconds: testkit.P64(5)},
				Memory: &statsapi.MemoryStats{Time: received, WorkingSetBytes: testkit.P64(7)},
				Swap:   &statsapi.SwapStats{Time: received, SwapUsageBytes: testkit.P64(9)},
				IO:     &statsapi.IOStats{Time: received},
				Rootfs: &statsapi.FsStats{Time: received, UsedBytes: testkit.P64(4096), InodesUsed: testkit.P64(12)},
			},
		},
		{
			name: "the name comes from ListContainers, not the stats' own metadata",
			stats: &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{
				Id: "c1", Metadata: &runtimeapi.ContainerMetadata{Name: "stale-name"},
			}},
			want: statsapi.ContainerStats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetState(crifake.State{
				Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
				Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, s)},
				ContainerStats: []*runtimeapi.ContainerStats{tt.stats},
			})
			res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
			require.NoError(t, err)
			require.Len(t, res.Pods, 1)
			require.Len(t, res.Pods[0].Containers, 1)
			want := tt.want
			want.Name, want.StartTime = "app", mt(s)
			assert.Equal(t, want, res.Pods[0].Containers[0])
		})
	}
}

// strictPod reads one ready pod with one running container c1 through the
// strict path, the runtime answering stats; it returns the pod.
func strictPod(t *testing.T, stats []*runtimeapi.PodSandboxStats) statsapi.PodStats {
	t.Helper()
	srv := crifake.New(t)
	srv.SetState(crifake.State{
		Sandboxes:       []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
		Containers:      []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
		PodSandboxStats: stats,
	})
	res, err := newTestProvider(t, srv, Options{}).PodStats(t.Context())
	require.NoError(t, err)
	require.Equal(t, PathStrict, res.Path)
	require.Len(t, res.Pods, 1)
	return res.Pods[0]
}

// TestPodStatsStrict checks the pod-level blocks of the strict path.
func TestPodStatsStrict(t *testing.T) {
	const s = time.Second
	sbAttrs := &runtimeapi.PodSandboxAttributes{Id: "sb-a"}
	c1 := func() *runtimeapi.ContainerStats {
		st := cpuMem("c1", 2e9, 300)
		st.Swap = &runtimeapi.SwapUsage{Timestamp: at(100 * s), SwapUsageBytes: testkit.U64(64), SwapAvailableBytes: testkit.U64(1000)}
		return st
	}
	type podBlocks struct {
		cpu        *statsapi.CPUStats
		mem        *statsapi.MemoryStats
		swap       *statsapi.SwapStats
		io         *statsapi.IOStats
		proc       *statsapi.ProcessStats
		containers int
	}
	tests := []struct {
		name  string
		stats []*runtimeapi.PodSandboxStats
		want  podBlocks
	}{
		{
			name:  "nil Linux: the pod is reported without stats or containers",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs}},
			want:  podBlocks{},
		},
		{
			name: "pod CPU and memory from the runtime; swap summed from the containers",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Cpu:        &runtimeapi.CpuUsage{Timestamp: at(100 * s), UsageCoreNanoSeconds: testkit.U64(3e9), UsageNanoCores: testkit.U64(4e8), Psi: psiCRI(5, 0.5)},
				Memory:     &runtimeapi.MemoryUsage{Timestamp: at(100 * s), WorkingSetBytes: testkit.U64(500), AvailableBytes: testkit.U64(1500)},
				Containers: []*runtimeapi.ContainerStats{c1()},
			}}},
			want: podBlocks{
				cpu:        &statsapi.CPUStats{Time: mt(100 * s), UsageCoreNanoSeconds: testkit.P64(3e9), UsageNanoCores: testkit.P64(4e8), PSI: psiWant(5, 0.5)},
				mem:        &statsapi.MemoryStats{Time: mt(100 * s), WorkingSetBytes: testkit.P64(500), AvailableBytes: testkit.P64(1500)},
				swap:       &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(64)},
				containers: 1,
			},
		},
		{
			name: "pod memory available 0 is kept for the merge to decide",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Memory:     &runtimeapi.MemoryUsage{Timestamp: at(100 * s), WorkingSetBytes: testkit.U64(500), AvailableBytes: testkit.U64(0)},
				Containers: []*runtimeapi.ContainerStats{c1()},
			}}},
			want: podBlocks{
				cpu:        &statsapi.CPUStats{Time: mt(100 * s), UsageCoreNanoSeconds: testkit.P64(2e9)},
				mem:        &statsapi.MemoryStats{Time: mt(100 * s), WorkingSetBytes: testkit.P64(500), AvailableBytes: testkit.P64(0)},
				swap:       &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(64)},
				containers: 1,
			},
		},
		{
			name: "nil pod Cpu and Memory: summed from the containers",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Containers: []*runtimeapi.ContainerStats{c1()},
			}}},
			want: podBlocks{
				cpu:        &statsapi.CPUStats{Time: mt(100 * s), UsageCoreNanoSeconds: testkit.P64(2e9)},
				mem:        &statsapi.MemoryStats{Time: mt(100 * s), WorkingSetBytes: testkit.P64(300)},
				swap:       &statsapi.SwapStats{Time: mt(100 * s), SwapUsageBytes: testkit.P64(64)},
				containers: 1,
			},
		},
		{
			name: "process count and IO pressure",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Process: &runtimeapi.ProcessUsage{Timestamp: at(100 * s), ProcessCount: testkit.U64(17)},
				Io:      &runtimeapi.IoUsage{Psi: psiCRI(9, 0.9)},
			}}},
			want: podBlocks{proc: &statsapi.ProcessStats{ProcessCount: testkit.P64(17)}, io: &statsapi.IOStats{Time: received, PSI: psiWant(9, 0.9)}},
		},
		{
			name: "a process block without a count is omitted",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Process: &runtimeapi.ProcessUsage{Timestamp: at(100 * s)},
			}}},
			want: podBlocks{},
		},
		{
			name: "sandbox stats with nil attributes, for unknown sandboxes, or nil, are ignored",
			stats: []*runtimeapi.PodSandboxStats{
				nil,
				{Linux: &runtimeapi.LinuxPodSandboxStats{Process: &runtimeapi.ProcessUsage{ProcessCount: testkit.U64(1)}}},
				{Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-gone"}, Linux: &runtimeapi.LinuxPodSandboxStats{
					Process: &runtimeapi.ProcessUsage{ProcessCount: testkit.U64(2)}, Containers: []*runtimeapi.ContainerStats{c1()},
				}},
			},
			want: podBlocks{},
		},
		{
			name: "container stats with nil attributes or for unknown containers are ignored",
			stats: []*runtimeapi.PodSandboxStats{{Attributes: sbAttrs, Linux: &runtimeapi.LinuxPodSandboxStats{
				Containers: []*runtimeapi.ContainerStats{
					{Cpu: &runtimeapi.CpuUsage{UsageCoreNanoSeconds: testkit.U64(1)}},
					cpuMem("c-unknown", 1, 1),
				},
			}}},
			want: podBlocks{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := strictPod(t, tt.stats)
			assert.Equal(t, tt.want.cpu, p.CPU, "cpu")
			assert.Equal(t, tt.want.mem, p.Memory, "memory")
			assert.Equal(t, tt.want.swap, p.Swap, "swap")
			assert.Equal(t, tt.want.io, p.IO, "io")
			assert.Equal(t, tt.want.proc, p.ProcessStats, "process")
			assert.Len(t, p.Containers, tt.want.containers)
		})
	}
}
