package summary

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
)

// realPod is a pod made of real cgroups (the pod's, its sandbox's and its app
// containers', each app container and the sandbox with a sleeping process),
// described to a CRI test server as a runtime would describe it.
type realPod struct {
	uid, sandboxID string
	containerIDs   []string
	cgroup         string // the pod cgroup's name
}

// hexID is a 64-digit container ID made of one repeated digit.
func hexID(digit byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = digit
	}
	return string(b)
}

// makeRealPod makes a pod cgroup under env's root with a sandbox cgroup and
// one cgroup per app container, each holding one sleeping process.
func makeRealPod(t *testing.T, env *cgroupenv.Env, uid string, sandboxDigit byte, containerDigits ...byte) realPod {
	t.Helper()
	p := realPod{uid: uid, sandboxID: hexID(sandboxDigit), cgroup: env.Root + "/pod" + uid}
	env.Make(p.cgroup, p.cgroup+"/"+p.sandboxID)
	env.Sleeper(p.cgroup + "/" + p.sandboxID)
	for _, d := range containerDigits {
		id := hexID(d)
		p.containerIDs = append(p.containerIDs, id)
		env.Make(p.cgroup + "/" + id)
		env.Sleeper(p.cgroup + "/" + id)
	}
	return p
}

func u64v(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }

// cpuUsage is a CPU block with a counter and a runtime rate, so that a pod
// cgroup has no CPU field to fill.
func cpuUsage(now int64, counter uint64) *runtimeapi.CpuUsage {
	return &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: u64v(counter), UsageNanoCores: u64v(1e6)}
}

// memUsage is a memory block with every field containerd sets, available
// bytes 0 as containerd sends both without a limit and at the limit.
func memUsage(now int64, bytes uint64) *runtimeapi.MemoryUsage {
	return &runtimeapi.MemoryUsage{
		Timestamp: now, WorkingSetBytes: u64v(bytes), UsageBytes: u64v(bytes), RssBytes: u64v(bytes),
		PageFaults: u64v(100), MajorPageFaults: u64v(1), AvailableBytes: u64v(0),
	}
}

// criState is what a runtime answers for pods: each sandbox ready, each app
// container running with CPU and memory stats whose values are given; with
// strict, also ListPodSandboxStats with pod totals of podCPU and podMem.
func criState(pods []realPod, ctrCPU, ctrMem uint64, strict bool, podCPU, podMem uint64) crifake.State {
	now := time.Now().UnixNano()
	var st crifake.State
	if strict {
		st.PodSandboxStats = []*runtimeapi.PodSandboxStats{}
	}
	for i, p := range pods {
		st.Sandboxes = append(st.Sandboxes, &runtimeapi.PodSandbox{
			Id:        p.sandboxID,
			Metadata:  &runtimeapi.PodSandboxMetadata{Name: "pod-" + p.uid[:4], Namespace: "test", Uid: p.uid},
			State:     runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: now - int64(time.Hour) + int64(i),
		})
		var ctrs []*runtimeapi.ContainerStats
		for j, id := range p.containerIDs {
			st.Containers = append(st.Containers, &runtimeapi.Container{
				Id:           id,
				PodSandboxId: p.sandboxID,
				Metadata:     &runtimeapi.ContainerMetadata{Name: "app-" + string(rune('a'+j))},
				State:        runtimeapi.ContainerState_CONTAINER_RUNNING,
				CreatedAt:    now - int64(time.Minute),
			})
			cs := &runtimeapi.ContainerStats{
				Attributes: &runtimeapi.ContainerAttributes{Id: id},
				Cpu:        cpuUsage(now, ctrCPU),
				Memory:     memUsage(now, ctrMem),
			}
			st.ContainerStats = append(st.ContainerStats, cs)
			ctrs = append(ctrs, cs)
		}
		if strict {
			st.PodSandboxStats = append(st.PodSandboxStats, &runtimeapi.PodSandboxStats{
				Attributes: &runtimeapi.PodSandboxAttributes{Id: p.sandboxID},
				Linux: &runtimeapi.LinuxPodSandboxStats{
					Cpu:        cpuUsage(now, podCPU),
					Memory:     memUsage(now, podMem),
					Process:    &runtimeapi.ProcessUsage{Timestamp: now, ProcessCount: &runtimeapi.UInt64Value{Value: uint64(len(p.containerIDs))}},
					Containers: ctrs,
				},
			})
		}
	}
	return st
}

// realAssembler is an assembler in the cri+cadvisor mode over a CRI provider
// talking to srv on its unix socket and a cgroup provider reading env's pods.
func realAssembler(t *testing.T, srv *crifake.Server, env *cgroupenv.Env, criTimeout time.Duration, opts cri.Options) (*Assembler, *cri.Provider, *cadvisor.Provider) {
	t.Helper()
	conn, err := grpc.NewClient(srv.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	opts.SkipLogs = true
	pods := cri.NewProvider(cri.NewClient(conn, criTimeout), opts)
	cg, err := cadvisor.New(cadvisor.Options{PodsCgroup: env.Root})
	require.NoError(t, err)
	// Every assembly reads the cgroups afresh (no snapshot is shared).
	a := NewAssembler(Options{NodeName: "n", Pods: pods, Cgroups: cg, Mode: ModeCRIFill, CgroupMaxAge: time.Nanosecond})
	return a, pods, cg
}

func podByUID(t *testing.T, s *statsapi.Summary, uid string) *statsapi.PodStats {
	t.Helper()
	for i := range s.Pods {
		if s.Pods[i].PodRef.UID == uid {
			return &s.Pods[i]
		}
	}
	t.Fatalf("pod %s missing from the Summary", uid)
	return nil
}

// TestPartialPathProcessCountExcludesPause (issue 14, defect 8): on the
// partial path the pod's process count comes from its cgroup, where the
// sandbox's pause process lives too. It is counted as containerd counts on
// the strict path — its app containers' processes only — so a pod with one
// app container counts 1, not 2, and one with two app containers counts 2.
// Before the fix every pod counted one process more than the runtime does.
func TestPartialPathProcessCountExcludesPause(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-procs")
	one := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-000000000001", 'a', 'b')
	two := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-000000000002", 'c', 'd', 'e')

	srv := crifake.New(t)
	srv.SetState(criState([]realPod{one, two}, 1e9, 1<<20, false, 0, 0)) // ListPodSandboxStats Unimplemented
	a, pods, _ := realAssembler(t, srv, env, 2*time.Second, cri.Options{})
	got, err := a.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, cri.PathPartial, pods.Path())

	for _, tc := range []struct {
		pod  realPod
		want uint64
	}{{one, 1}, {two, 2}} {
		var app uint64
		for _, id := range tc.pod.containerIDs {
			app += env.Procs(tc.pod.cgroup + "/" + id)
		}
		require.Equal(t, tc.want, app, "the app containers' cgroup.procs")
		require.Equal(t, uint64(1), env.Procs(tc.pod.cgroup+"/"+tc.pod.sandboxID), "the sandbox's cgroup.procs")
		p := podByUID(t, got.Summary, tc.pod.uid)
		require.NotNil(t, p.ProcessStats, "pod %s process stats", tc.pod.uid)
		require.NotNil(t, p.ProcessStats.ProcessCount)
		assert.Equal(t, tc.want, *p.ProcessStats.ProcessCount, "pod %s: app containers' processes, the pause process left out", tc.pod.uid)
		o, _ := got.Provenance.Pod(tc.pod.uid)
		assert.Equal(t, OriginCAdvisor, o.Process, "pod %s process count from its cgroup", tc.pod.uid)
	}
}

// TestAvailableZeroKeptUnderALimit (issue 14, defect 7): containerd sends
// memory available_bytes 0 both when there is no limit and when a container
// (or pod) is at its limit. The cgroup's limit decides: at its limit the 0 is
// kept (*.memory.available = 0), without a limit it is dropped — also in an
// assembly whose cgroup plan leaves the pods unread, from what an earlier one
// read. Before the fix every 0 was dropped, so a container at its limit lost
// *.memory.available.
func TestAvailableZeroKeptUnderALimit(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-avail")
	limited := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-00000000000a", 'a', 'b')
	unlimited := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-00000000000b", 'c', 'd')
	env.SetMemoryLimit(limited.cgroup, 128<<20)
	env.SetMemoryLimit(limited.cgroup+"/"+limited.containerIDs[0], 64<<20)

	srv := crifake.New(t)
	srv.SetState(criState([]realPod{limited, unlimited}, 1e9, 1<<20, true, 2e9, 2<<20))
	a, pods, cg := realAssembler(t, srv, env, 2*time.Second, cri.Options{})
	for scrape := range 2 {
		got, err := a.Get(t.Context())
		require.NoError(t, err)
		require.Equal(t, cri.PathStrict, pods.Path())
		if scrape == 1 {
			// The runtime answered every pod field the cgroups could give:
			// this assembly left the pod cgroups unread.
			require.Empty(t, cg.Snapshot().Pods, "second assembly: pod cgroups unread")
		}
		lp, up := podByUID(t, got.Summary, limited.uid), podByUID(t, got.Summary, unlimited.uid)
		for _, c := range []struct {
			what string
			m    *statsapi.MemoryStats
			want *uint64
		}{
			{"pod at its limit", lp.Memory, p64(0)},
			{"container at its limit", lp.Containers[0].Memory, p64(0)},
			{"pod without a limit", up.Memory, nil},
			{"container without a limit", up.Containers[0].Memory, nil},
		} {
			require.NotNil(t, c.m, "scrape %d: %s memory", scrape, c.what)
			assert.Equal(t, c.want, c.m.AvailableBytes, "scrape %d: %s available bytes", scrape, c.what)
		}
	}
}

// TestPodTotalsSurviveStatsPathFallback (issue 14, defect 4): on the strict
// path the runtime answers every pod field, so the cgroup plan leaves the pod
// cgroups unread. When ListPodSandboxStats then outlives cri.timeout and the
// same assembly falls back to ListContainerStats, the pod's CPU and memory
// are only container sums (without the sandbox) and its process count is
// gone: the pod cgroups are read in that same assembly, so k8s.pod.cpu.time
// is the pod cgroup's and never steps back, and the process count stays.
// Before the fix they stayed unread for up to five more assemblies.
func TestPodTotalsSurviveStatsPathFallback(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-fallback")
	pod := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-0000000000f0", 'a', 'b')
	podCPU, ctrCPU := env.CPUUsage(pod.cgroup), env.CPUUsage(pod.cgroup+"/"+pod.containerIDs[0])
	require.Greater(t, podCPU, ctrCPU, "the sandbox's CPU time is in the pod's, not in the container's")

	srv := crifake.New(t)
	// What containerd answers: the pod cgroup's CPU on the strict path, the
	// container's own on both.
	srv.SetState(criState([]realPod{pod}, ctrCPU, 1<<20, true, podCPU, 2<<20))
	const criTimeout = 300 * time.Millisecond
	a, pods, cg := realAssembler(t, srv, env, criTimeout, cri.Options{})

	var strictCPU uint64
	for scrape := range 2 {
		got, err := a.Get(t.Context())
		require.NoError(t, err)
		require.Equal(t, cri.PathStrict, pods.Path())
		p := podByUID(t, got.Summary, pod.uid)
		require.NotNil(t, p.CPU)
		strictCPU = *p.CPU.UsageCoreNanoSeconds
		if scrape == 1 {
			require.Empty(t, cg.Snapshot().Pods, "steady strict path: the pod cgroup is left unread")
		}
	}

	srv.SetDelay("ListPodSandboxStats", 10*criTimeout)
	got, err := a.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, cri.PathPartial, pods.Path(), "the slow strict call fell back within the assembly")
	after := env.CPUUsage(pod.cgroup)
	p := podByUID(t, got.Summary, pod.uid)
	o, _ := got.Provenance.Pod(pod.uid)
	assert.Equal(t, OriginCAdvisor, o.CPU, "pod CPU from its cgroup, not summed from the containers")
	require.NotNil(t, p.CPU)
	require.NotNil(t, p.CPU.UsageCoreNanoSeconds)
	cpu := *p.CPU.UsageCoreNanoSeconds
	assert.GreaterOrEqual(t, cpu, strictCPU, "k8s.pod.cpu.time stepped back from %d (strict) to %d", strictCPU, cpu)
	assert.True(t, cpu >= podCPU && cpu <= after, "pod CPU %d, its cgroup's cpuacct.usage %d → %d", cpu, podCPU, after)
	require.NotNil(t, p.ProcessStats, "pod process count after the fallback")
	assert.Equal(t, uint64(1), *p.ProcessStats.ProcessCount)
	assert.Equal(t, OriginCAdvisor, o.Process)
}

// memStat reads one key of cgroup name's memory.stat in the memory
// hierarchy (v1) or the unified one (v2).
func memStat(t *testing.T, env *cgroupenv.Env, name, key string) uint64 {
	t.Helper()
	dir := "/sys/fs/cgroup/memory"
	if env.V2 {
		dir = "/sys/fs/cgroup"
	}
	data, err := os.ReadFile(filepath.Join(dir, name, "memory.stat"))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("%s memory.stat has no %s", name, key)
	return 0
}

// TestRuntimeZerosFilledFromCgroups (issue 14, defect 6): CRI-O on cgroup v1
// sends page faults as 0 (it does not read them there) and cgroup v1's memsw
// as swap. Those zeros are unknown, not measurements: the pod's page faults
// are filled from its cgroup (the merge fills only what the runtime left
// nil), and the container's page faults and swap are absent rather than
// false. Every value CRI-O measured is still its own. Before the fix the
// runtime's zeros were kept and the pod cgroup filled nothing.
func TestRuntimeZerosFilledFromCgroups(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-zeros")
	pod := makeRealPod(t, env, "5b4a39c2-0000-4c55-9a0b-0000000000c0", 'a', 'b')

	st := criState([]realPod{pod}, 1e9, 1<<20, true, 2e9, 2<<20)
	for _, cs := range st.ContainerStats {
		cs.Memory.PageFaults, cs.Memory.MajorPageFaults = u64v(0), u64v(0)
		cs.Swap = &runtimeapi.SwapUsage{Timestamp: cs.Memory.Timestamp, SwapUsageBytes: u64v(1 << 20), SwapAvailableBytes: u64v(1 << 30)}
	}
	for _, ps := range st.PodSandboxStats {
		ps.Linux.Memory.PageFaults, ps.Linux.Memory.MajorPageFaults = u64v(0), u64v(0)
	}
	srv := crifake.New(t)
	srv.SetRuntime("cri-o", "1.31.3")
	srv.SetState(st)
	a, _, _ := realAssembler(t, srv, env, 2*time.Second, cri.Options{CgroupVersion: 1})

	before := memStat(t, env, pod.cgroup, "pgfault")
	got, err := a.Get(t.Context())
	require.NoError(t, err)
	after := memStat(t, env, pod.cgroup, "pgfault")
	p := podByUID(t, got.Summary, pod.uid)
	require.NotNil(t, p.Memory)
	require.NotNil(t, p.Memory.PageFaults, "pod page faults filled from the pod cgroup")
	assert.True(t, *p.Memory.PageFaults >= before && *p.Memory.PageFaults <= after,
		"pod page faults %d, the pod cgroup's memory.stat pgfault %d → %d", *p.Memory.PageFaults, before, after)
	o, _ := got.Provenance.Pod(pod.uid)
	assert.Equal(t, OriginMixed, o.Memory, "pod memory: the runtime's, its unmeasured fields from the cgroup")
	assert.Equal(t, uint64(2<<20), *p.Memory.WorkingSetBytes, "a value the runtime measured stays the runtime's")

	require.Len(t, p.Containers, 1)
	c := p.Containers[0]
	require.NotNil(t, c.Memory)
	assert.Nil(t, c.Memory.PageFaults, "container page faults: unknown, not 0")
	assert.Nil(t, c.Memory.MajorPageFaults, "container major page faults: unknown, not 0")
	assert.Nil(t, c.Swap, "container swap: cgroup v1 memsw is not swap")
}
