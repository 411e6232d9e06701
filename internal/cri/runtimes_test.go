package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// TestUnmeasuredFor checks the table's lookup: runtime name and version as
// Version answers them, and the cgroup version.
func TestUnmeasuredFor(t *testing.T) {
	tests := []struct {
		name, version string
		cgroup        int
		want          unmeasured
	}{
		{"containerd", "v1.6.20", 1, zeroNanoCores},
		{"containerd", "1.6.20~ds1", 1, zeroNanoCores}, // Debian's
		{"containerd", "v1.7.27", 2, zeroNanoCores},
		{"containerd", "v2.2.1", 2, zeroNanoCores},
		{"containerd", "v2.3.0", 1, 0},
		{"containerd", "v2.4.2", 2, 0},
		{"containerd", "garbage", 2, zeroNanoCores}, // every row of a runtime whose version is unreadable
		{"cri-o", "1.31.3", 1, zeroPageFaults | memswSwap},
		{"cri-o", "1.34.0", 2, 0},
		{"CRI-O", "v1.30.0", 1, zeroPageFaults | memswSwap},
		{"crifake", "0.1.0", 1, unknownRuntime},
		{"", "", 2, unknownRuntime},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, unmeasuredFor(parseRuntime(tt.name, tt.version), tt.cgroup), "%s %s on cgroup v%d", tt.name, tt.version, tt.cgroup)
	}
}

// TestRuntimeUnmeasuredZerosAreNil (issue 14, defect 6) runs each row of
// runtimeTable through the provider against the CRI test server answering
// as that runtime: where the row holds, the runtime's zeros become nil
// (unknown), so the merge can fill them from the pod cgroups; where it does
// not (another version, the other cgroup version), the runtime's values are
// kept. Before the fix every zero was kept as a measurement.
func TestRuntimeUnmeasuredZerosAreNil(t *testing.T) {
	const s = time.Second
	// What the runtime answers for one pod with one container, on both paths.
	answer := func() crifake.State {
		ctr := &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: "c1"},
			Cpu:        &runtimeapi.CpuUsage{Timestamp: at(100 * s), UsageCoreNanoSeconds: u64(3e9), UsageNanoCores: u64(0)},
			Memory: &runtimeapi.MemoryUsage{
				Timestamp: at(100 * s), WorkingSetBytes: u64(100), UsageBytes: u64(150), RssBytes: u64(80),
				PageFaults: u64(0), MajorPageFaults: u64(0),
			},
			Swap: &runtimeapi.SwapUsage{Timestamp: at(100 * s), SwapUsageBytes: u64(150), SwapAvailableBytes: u64(1 << 30)},
		}
		return crifake.State{
			Sandboxes:      []*runtimeapi.PodSandbox{sandbox("sb-a", "a", "uid-a", ready, 0)},
			Containers:     []*runtimeapi.Container{container("c1", "sb-a", "app", running, time.Second)},
			ContainerStats: []*runtimeapi.ContainerStats{ctr},
			PodSandboxStats: []*runtimeapi.PodSandboxStats{{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: "sb-a"},
				Linux: &runtimeapi.LinuxPodSandboxStats{
					Cpu: &runtimeapi.CpuUsage{Timestamp: at(100 * s), UsageCoreNanoSeconds: u64(4e9), UsageNanoCores: u64(0)},
					Memory: &runtimeapi.MemoryUsage{
						Timestamp: at(100 * s), WorkingSetBytes: u64(200), UsageBytes: u64(300),
						PageFaults: u64(0), MajorPageFaults: u64(0),
					},
					Containers: []*runtimeapi.ContainerStats{ctr},
				},
			}},
		}
	}
	type want struct {
		nanoCores  *uint64 // container and pod, on our first sample
		pageFaults *uint64 // container and pod, page and major page faults
		swap       bool    // the container's swap block is there
	}
	zero := p64(0)
	tests := []struct {
		row           string
		name, version string
		cgroup        int
		want          want
	}{
		{"containerd before 2.3: a 0 rate is no rate yet", "containerd", "v1.6.20", 1, want{nil, zero, true}},
		{"containerd 2.3 and later: a 0 rate is measured", "containerd", "v2.4.2", 2, want{zero, zero, true}},
		{"CRI-O on cgroup v1: page faults and swap unmeasured", "cri-o", "1.31.3", 1, want{zero, nil, false}},
		{"CRI-O on cgroup v2: page faults and swap measured", "cri-o", "1.31.3", 2, want{zero, zero, true}},
	}
	for _, tt := range tests {
		t.Run(tt.row, func(t *testing.T) {
			srv := crifake.New(t)
			srv.SetRuntime(tt.name, tt.version)
			srv.SetState(answer())
			p := newTestProvider(t, srv, Options{StatsPath: PathStrict, CgroupVersion: tt.cgroup})
			res, err := p.PodStats(t.Context())
			require.NoError(t, err)
			require.Len(t, res.Pods, 1)
			pod := res.Pods[0]
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			for what, m := range map[string]*statsapi.MemoryStats{"container": c.Memory, "pod": pod.Memory} {
				require.NotNil(t, m, what)
				assert.Equal(t, tt.want.pageFaults, m.PageFaults, "%s page faults", what)
				assert.Equal(t, tt.want.pageFaults, m.MajorPageFaults, "%s major page faults", what)
			}
			for what, cpu := range map[string]*statsapi.CPUStats{"container": c.CPU, "pod": pod.CPU} {
				require.NotNil(t, cpu, what)
				assert.Equal(t, tt.want.nanoCores, cpu.UsageNanoCores, "%s usageNanoCores on our first sample", what)
			}
			assert.Equal(t, tt.want.swap, c.Swap != nil, "container swap block: %+v", c.Swap)
			_, err = p.PodStats(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 1, srv.Calls("Version"), "the runtime is asked who it is once")
		})
	}
}

// TestRuntimeIdentityAskedAgainAfterUnavailable: a broken connection (the
// runtime may be restarting as another version) makes the next assembly ask
// Version again, and its rows apply from then on.
func TestRuntimeIdentityAskedAgainAfterUnavailable(t *testing.T) {
	srv := crifake.New(t)
	srv.SetRuntime("containerd", "v1.6.20")
	st := oneContainerState(rateStep{ts: 10 * time.Second, counter: p64(1e9), runtime: p64(0)})
	st.PodSandboxStats = []*runtimeapi.PodSandboxStats{}
	srv.SetState(st)
	p := newTestProvider(t, srv, Options{StatsPath: PathStrict})
	_, err := p.PodStats(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, srv.Calls("Version"))

	srv.SetError("ListPodSandbox", status.Error(codes.Unavailable, "restarting"))
	_, err = p.PodStats(t.Context())
	require.Error(t, err)
	srv.SetError("ListPodSandbox", nil)
	srv.SetRuntime("containerd", "v2.4.2")
	_, err = p.PodStats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Calls("Version"), "asked again after Unavailable")
	assert.Equal(t, parseRuntime("containerd", "v2.4.2"), p.ident.rt)
}
