package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// The checks here are about where the node keeps things, which differs by
// node shape (cgroup v1 or v2, cgroupfs or systemd driver): pod and container
// cgroups found under /kubepods or kubepods.slice, the runtime's own cgroup,
// and on cgroup v2 PSI and swap, each against the files.

// staleness is how far a node-level sample (node, system containers) may lag
// the moment of a scrape: one collection interval, plus slack for a slow
// machine. Counters that grow at most one unit per second per CPU lag at most
// that many seconds on every CPU.
var staleness = collectionInterval + 2*time.Second

// testPodCgroupsFound reads pods and containers from their cgroups alone
// (mode: cadvisor, identity from the runtime), which finds them only if it
// finds their cgroups where the driver put them: the busy pod's and its
// spinner's CPU time, and the writer pod's memory, against their files.
func testPodCgroupsFound(t *testing.T, env *containerdenv.Env, ps pods) {
	c := startCollectorWith(t, env, map[string]any{"mode": "cadvisor"})
	// A cgroup snapshot serves the assemblies of a second
	// (summary.DefaultCgroupMaxAge): the scrape at start's must be past.
	c.waitGap(t, rateGap)
	t.Logf("pod cgroup %s, container cgroup %s", ps.busy.PodCgroupDir("cpuacct"), ps.busy.CgroupDir("cpuacct", "spin"))
	podBefore := cgroupCPUNanos(t, ps.busy.PodCgroupDir("cpuacct"))
	ctrBefore := cpuNanos(t, ps.busy, "spin")
	c.scrape(t)
	podAfter := cgroupCPUNanos(t, ps.busy.PodCgroupDir("cpuacct"))
	ctrAfter := cpuNanos(t, ps.busy, "spin")
	s := c.summary(t)

	busy := podStats(t, s, "busy")
	require.NotNil(t, busy.CPU, "busy pod cpu from its cgroup")
	require.NotNil(t, busy.CPU.UsageCoreNanoSeconds, "busy pod cpu time from its cgroup")
	pod := *busy.CPU.UsageCoreNanoSeconds
	assert.GreaterOrEqual(t, pod, podBefore, "pod cpu time vs the pod cgroup before the scrape")
	assert.LessOrEqual(t, pod, podAfter, "pod cpu time vs the pod cgroup after the scrape")
	spin := containerStats(t, busy, "spin")
	require.NotNil(t, spin.CPU, "spinner cpu from its cgroup")
	require.NotNil(t, spin.CPU.UsageCoreNanoSeconds, "spinner cpu time from its cgroup")
	assert.GreaterOrEqual(t, *spin.CPU.UsageCoreNanoSeconds, ctrBefore, "container cpu time vs its cgroup before the scrape")
	assert.LessOrEqual(t, *spin.CPU.UsageCoreNanoSeconds, ctrAfter, "container cpu time vs its cgroup after the scrape")
	t.Logf("busy pod cpu %d ns in [%d, %d]; spinner %d ns in [%d, %d]", pod, podBefore, podAfter, *spin.CPU.UsageCoreNanoSeconds, ctrBefore, ctrAfter)

	writer := podStats(t, s, "writer")
	require.NotNil(t, writer.Memory, "writer pod memory from its cgroup")
	require.NotNil(t, writer.Memory.WorkingSetBytes, "writer pod working set from its cgroup")
	m := memoryOf(t, ps.writer.PodCgroupDir("memory"))
	assert.InDelta(t, float64(m.workingSet), float64(*writer.Memory.WorkingSetBytes), 4<<20, "writer pod working set vs its cgroup")

	// Between the runtime's stats calls (cri.stats_interval, 1m by default)
	// a scrape asks the runtime for identity alone and carries the writable
	// layers of its last stats answer: the writer's is there.
	w := containerStats(t, writer, "writer")
	require.NotNil(t, w.Rootfs, "the writer's writable layer, from the runtime's last stats answer")
	require.NotNil(t, w.Rootfs.UsedBytes, "the writer's writable layer usage")
	t.Logf("writer rootfs %d bytes at %s", *w.Rootfs.UsedBytes, w.Rootfs.Time)
}

// testRuntimeSystemContainer: the runtime system container is the cgroup the
// runtime's daemon runs in — a scope under system.slice with the systemd
// driver (as a node's containerd.service), the cgroup of whatever started it
// otherwise — and is not reported when that is the root cgroup (a process
// outside any service, as on this kind of host without systemd).
func testRuntimeSystemContainer(t *testing.T, c *collector, env *containerdenv.Env) {
	cg, err := env.DaemonCgroup()
	require.NoError(t, err)
	dir := "/sys/fs/cgroup"
	if !cgroupV2 {
		dir = "/sys/fs/cgroup/cpuacct"
	}
	dir = filepath.Join(dir, cg)
	var before uint64
	if cg != "/" {
		before = cgroupCPUNanos(t, dir)
	}
	c.scrape(t)
	s := c.summary(t)
	var rt *statsapi.ContainerStats
	for i := range s.Node.SystemContainers {
		if s.Node.SystemContainers[i].Name == statsapi.SystemContainerRuntime {
			rt = &s.Node.SystemContainers[i]
		}
	}
	if cg == "/" {
		assert.Nil(t, rt, "the daemon runs in the root cgroup: no runtime system container")
		return
	}
	if env.CgroupDriver == containerdenv.Systemd {
		assert.True(t, strings.HasPrefix(cg, "/system.slice/statssummary-containerd-"), "the daemon's scope is under system.slice: %s", cg)
	}
	after := cgroupCPUNanos(t, dir)
	require.NotNil(t, rt, "the runtime system container (the daemon's cgroup %s)", cg)
	require.NotNil(t, rt.CPU, "runtime cpu")
	require.NotNil(t, rt.CPU.UsageCoreNanoSeconds, "runtime cpu time")
	lag := uint64(staleness.Seconds() * float64(runtime.NumCPU()) * 1e9)
	got := *rt.CPU.UsageCoreNanoSeconds
	assert.GreaterOrEqual(t, got+lag, before, "runtime cpu time vs %s before the scrape, less one interval", dir)
	assert.LessOrEqual(t, got, after, "runtime cpu time vs %s after the scrape", dir)
	require.NotNil(t, rt.Memory, "runtime memory")
	require.NotNil(t, rt.Memory.WorkingSetBytes, "runtime working set")
	assert.Positive(t, *rt.Memory.WorkingSetBytes, "runtime working set")
	t.Logf("runtime system container %s: cpu %d ns (cgroup %d → %d), working set %d", cg, got, before, after, *rt.Memory.WorkingSetBytes)
}

// psiTotal reads the total of one line ("some" or "full") of a PSI file, in
// the kernel's microseconds.
func psiTotal(t *testing.T, file, line string) uint64 {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != line {
			continue
		}
		for _, kv := range fields[1:] {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				require.NoError(t, err, "parse %s", file)
				return n
			}
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("%s has no %s total", file, line)
	return 0
}

// psiOf picks a resource's PSI block out of a container's stats.
func psiOf(c *statsapi.ContainerStats, resource string) *statsapi.PSIStats {
	switch resource {
	case "cpu":
		if c.CPU != nil {
			return c.CPU.PSI
		}
	case "memory":
		if c.Memory != nil {
			return c.Memory.PSI
		}
	case "io":
		if c.IO != nil {
			return c.IO.PSI
		}
	}
	return nil
}

// testPSI (cgroup v2): the Summary's pressure totals are nanoseconds, as its
// type documents, at every level and whatever the source: the cgroup files'
// microseconds × 1000, between what the files said just before and just after
// the scrape (the node's up to one interval behind: PSI grows at most one
// second per second).
func testPSI(t *testing.T, c *collector, ps pods) {
	dir := ps.busy.CgroupDir("", "spin")
	podDir := ps.busy.PodCgroupDir("")
	type bracket struct{ before, after uint64 }
	read := func(d string) map[string]bracket {
		out := map[string]bracket{}
		for _, r := range []string{"cpu", "memory", "io"} {
			out[r] = bracket{before: psiTotal(t, filepath.Join(d, r+".pressure"), "some")}
		}
		return out
	}
	// Pod and container PSI may come from a cgroup snapshot, which serves the
	// assemblies of a second: the last scrape's must be past.
	c.waitGap(t, rateGap)
	ctr, pod := read(dir), read(podDir)
	node := map[string]bracket{}
	for _, r := range []string{"cpu", "memory", "io"} {
		node[r] = bracket{before: psiTotal(t, "/proc/pressure/"+r, "some")}
	}
	c.scrape(t)
	s := c.summary(t)
	for _, r := range []string{"cpu", "memory", "io"} {
		b := ctr[r]
		b.after = psiTotal(t, filepath.Join(dir, r+".pressure"), "some")
		ctr[r] = b
		b = pod[r]
		b.after = psiTotal(t, filepath.Join(podDir, r+".pressure"), "some")
		pod[r] = b
		b = node[r]
		b.after = psiTotal(t, "/proc/pressure/"+r, "some")
		node[r] = b
	}
	busy := podStats(t, s, "busy")
	spin := containerStats(t, busy, "spin")
	podAsContainer := &statsapi.ContainerStats{CPU: busy.CPU, Memory: busy.Memory, IO: busy.IO}
	nodeAsContainer := &statsapi.ContainerStats{CPU: s.Node.CPU, Memory: s.Node.Memory, IO: s.Node.IO}
	lag := uint64(staleness.Nanoseconds())
	for _, r := range []string{"cpu", "memory", "io"} {
		for _, level := range []struct {
			name   string
			stats  *statsapi.ContainerStats
			files  bracket
			behind uint64
		}{
			{"container busy/spin", spin, ctr[r], 0},
			{"pod busy", podAsContainer, pod[r], 0},
			{"node", nodeAsContainer, node[r], lag},
		} {
			psi := psiOf(level.stats, r)
			if !assert.NotNil(t, psi, "%s %s PSI", level.name, r) {
				continue
			}
			got := psi.Some.Total
			lo, hi := level.files.before*1000, level.files.after*1000
			assert.GreaterOrEqual(t, got+level.behind, lo, "%s %s PSI some total (ns) vs the file's µs × 1000 before the scrape", level.name, r)
			assert.LessOrEqual(t, got, hi, "%s %s PSI some total (ns) vs the file's µs × 1000 after the scrape", level.name, r)
			t.Logf("%s %s PSI some total %d ns; the file said [%d, %d] µs", level.name, r, got, level.files.before, level.files.after)
		}
	}
}

// Swap (a node with swap on, which the VM node's run sets up): a container
// limited to swapperLimit that fills swapperBytes of tmpfs has the excess in
// swap; the Summary's swap usage is the cgroup's memory.swap.current.
//
// swapperBytes stays under the sandbox's /dev/shm, a tmpfs of 64 MiB that
// containerd mounts for each pod: a larger write fails with ENOSPC and the
// container never says ready.
const (
	swapperLimit = 16 << 20
	swapperBytes = 40 << 20
)

// nodeHasSwap tells whether any swap area is active (/proc/swaps lists one).
func nodeHasSwap(t *testing.T) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/swaps")
	require.NoError(t, err)
	return len(strings.Split(strings.TrimSpace(string(data)), "\n")) > 1
}

// swapperSpec is a pod whose container is limited to swapperLimit of memory
// and may swap up to swapperBytes more, and writes swapperBytes to tmpfs.
// Without MemorySwapLimitInBytes containerd sets memory+swap to the memory
// limit — no swap — and the writer is OOM-killed.
func swapperSpec() containerdenv.PodSpec {
	return containerdenv.PodSpec{Name: "swapper", Namespace: "it", HostNetwork: true, QoS: containerdenv.Burstable, Containers: []containerdenv.ContainerSpec{{
		Name:      "swapper",
		Command:   "head -c " + strconv.Itoa(swapperBytes) + " /dev/zero > /dev/shm/blob && echo ready && exec sleep 2147483647",
		Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: swapperLimit, MemorySwapLimitInBytes: swapperLimit + swapperBytes},
	}}}
}

func testSwap(t *testing.T, c *collector, env *containerdenv.Env, swapper *containerdenv.Pod) {
	waitForLog(t, env, swapper, "swapper", "ready")
	ctrFile := filepath.Join(swapper.CgroupDir("memory", "swapper"), "memory.swap.current")
	podFile := filepath.Join(swapper.PodCgroupDir("memory"), "memory.swap.current")
	require.Greater(t, cgroupUint(t, ctrFile), uint64(swapperBytes-swapperLimit)/2, "the swapper's excess is in swap (%s)", ctrFile)
	before := cgroupUint(t, podFile)
	c.scrape(t)
	after := cgroupUint(t, podFile)
	pod := podStats(t, c.summary(t), "swapper")
	// The pod's swap is its cgroup's (hierarchical: the container's swap is
	// in it). containerd 2.4.2 gives no container swap over CRI; under the
	// identity plan (the default config) the container cgroups are read and
	// fill it, as the kubelet takes it from cAdvisor's (docs/kubelet-parity.md).
	require.NotNil(t, pod.Swap, "swapper pod swap stats")
	require.NotNil(t, pod.Swap.SwapUsageBytes, "swapper pod swap usage")
	const tolerance = 1 << 20
	assert.InDelta(t, float64(before+after)/2, float64(*pod.Swap.SwapUsageBytes), tolerance+absDiff(before, after), "pod swap usage vs the pod cgroup's memory.swap.current")
	ctr := containerStats(t, pod, "swapper")
	require.NotNil(t, ctr.Swap, "swapper container swap stats (its cgroup's, under the identity plan)")
	require.NotNil(t, ctr.Swap.SwapUsageBytes, "swapper container swap usage")
	assert.InDelta(t, float64(cgroupUint(t, ctrFile)), float64(*ctr.Swap.SwapUsageBytes), tolerance+absDiff(before, after), "container swap usage vs its cgroup's memory.swap.current")
	t.Logf("swapper pod swap usage %d; its memory.swap.current %d → %d; the container's swap %d", *pod.Swap.SwapUsageBytes, before, after, *ctr.Swap.SwapUsageBytes)
}
