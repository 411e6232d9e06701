package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// What the writer container does, so the test knows the bytes it expects.
const (
	tmpfsBytes  = 32 << 20 // written to /dev/shm (tmpfs): charged to its memory
	rootfsBytes = 8 << 20  // written to /blob, in its writable layer
	logLines    = 2000
	logLine     = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq" // 100 bytes
	printed     = logLines*(len(logLine)+1) + len("ready\n")
)

var writerCommand = fmt.Sprintf(
	"head -c %d /dev/zero > /dev/shm/blob && head -c %d /dev/zero > /blob && i=0; while [ $i -lt %d ]; do echo %s; i=$((i+1)); done; echo ready; exec sleep 2147483647",
	tmpfsBytes, rootfsBytes, logLines, logLine)

func TestMain(m *testing.M) {
	// The suite needs a real runtime: say so plainly instead of skipping.
	if err := containerdenv.CheckRoot(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: FAIL: %v\n", err)
		os.Exit(1)
	}
	if err := containerdenv.CheckTools(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: FAIL: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// pods is the workload of the suite.
type pods struct {
	busy, writer, server, client, doomed *containerdenv.Pod
	// swapper runs only on a node with swap on (nodeHasSwap).
	swapper *containerdenv.Pod
}

// all lists the pods that run.
func (ps pods) all() []*containerdenv.Pod {
	out := []*containerdenv.Pod{ps.busy, ps.writer, ps.server, ps.client, ps.doomed}
	if ps.swapper != nil {
		out = append(out, ps.swapper)
	}
	return out
}

func startPods(t *testing.T, env *containerdenv.Env) pods {
	t.Helper()
	ctx := t.Context()
	run := func(spec containerdenv.PodSpec) *containerdenv.Pod {
		t.Helper()
		p, err := env.RunPod(ctx, spec)
		require.NoError(t, err)
		return p
	}
	var ps pods
	ps.busy = run(containerdenv.PodSpec{Name: "busy", Namespace: "it", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
		{Name: "spin", Command: "while :; do :; done"},
		{Name: "idle", Command: "exec sleep 2147483647"},
	}})
	ps.writer = run(containerdenv.PodSpec{Name: "writer", Namespace: "it", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
		{Name: "writer", Command: writerCommand},
	}})
	ps.server = run(containerdenv.PodSpec{Name: "net-server", Namespace: "it", Containers: []containerdenv.ContainerSpec{
		{Name: "server", Command: "while :; do nc -l -p 8080 > /dev/null; done"},
	}})
	// Traffic goes only from this pod to the server pod, over the instance's bridge.
	ps.client = run(containerdenv.PodSpec{Name: "net-client", Namespace: "it", Containers: []containerdenv.ContainerSpec{
		{Name: "client", Command: fmt.Sprintf("while :; do head -c 262144 /dev/zero | nc -w 2 %s 8080; sleep 0.5; done", ps.server.IP)},
	}})
	ps.doomed = run(containerdenv.PodSpec{Name: "doomed", Namespace: "it", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
		{Name: "sleeper", Command: "exec sleep 2147483647"},
	}})
	// The VM node's run turns swap on and says that it did, so that the swap
	// check cannot silently drop out there.
	if os.Getenv("STATSSUMMARY_REQUIRE_SWAP") != "" {
		require.True(t, nodeHasSwap(t), "STATSSUMMARY_REQUIRE_SWAP is set but /proc/swaps lists no swap area")
	}
	if nodeHasSwap(t) {
		ps.swapper = run(swapperSpec())
	}
	return ps
}

// TestContainerd runs the receiver against a private containerd with real pods.
// The subtests run in order on one runtime: some change its state.
func TestContainerd(t *testing.T) {
	began := time.Now()
	name := fmt.Sprintf("it%d", os.Getpid()%1000000)
	env, err := containerdenv.Start(t.Context(), containerdenv.Options{Name: name, Logf: t.Logf})
	require.NoError(t, err)
	var ps pods
	t.Cleanup(func() {
		// t.Context is done by now: the teardown has its own bound.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		assert.NoError(t, env.Close(ctx), "teardown")
		assertNothingLeft(t, env, ps)
	})
	ps = startPods(t, env)
	t.Logf("runtime and %d pods up in %s", len(ps.all()), time.Since(began).Round(time.Millisecond))

	c := startCollector(t, env)

	t.Run("identity", func(t *testing.T) {
		s := c.scrape(t)
		containers := 0
		for _, p := range ps.all() {
			containers += len(p.Spec.Containers)
			pod := s[key{pod: p.Spec.Name}]
			require.NotNil(t, pod.attrs, "pod %s missing (resources: %v)", p.Spec.Name, s.keys())
			assert.Equal(t, p.UID, pod.attrs["k8s.pod.uid"], p.Spec.Name)
			assert.Equal(t, "it", pod.attrs["k8s.namespace.name"], p.Spec.Name)
			assert.Equal(t, nodeName, pod.attrs["k8s.node.name"], p.Spec.Name)
			for _, ctr := range p.Spec.Containers {
				r := s[key{pod: p.Spec.Name, container: ctr.Name}]
				require.NotNil(t, r.attrs, "container %s/%s missing", p.Spec.Name, ctr.Name)
				assert.Equal(t, p.ContainerID(ctr.Name), r.attrs["container.id"], "%s/%s", p.Spec.Name, ctr.Name)
			}
		}
		// The sandbox (pause) container is not a container of the pod.
		var podResources []key
		for k := range s {
			if k.pod != "" {
				podResources = append(podResources, k)
			}
		}
		assert.Len(t, podResources, len(ps.all())+containers, "%d pods and %d containers: %v", len(ps.all()), containers, podResources)
	})

	t.Run("cpu", func(t *testing.T) {
		spin, idle := key{pod: "busy", container: "spin"}, key{pod: "busy", container: "idle"}
		c.waitGap(t, rateGap)
		before := cpuNanos(t, ps.busy, "spin")
		s1 := c.scrape(t)
		after := cpuNanos(t, ps.busy, "spin")
		t1 := s1.value(t, spin, "container.cpu.time")
		assert.GreaterOrEqual(t, t1*1e9, float64(before)*(1-1e-12), "cpu time at the scrape vs cpuacct.usage just before")
		assert.LessOrEqual(t, t1*1e9, float64(after)*(1+1e-12), "cpu time at the scrape vs cpuacct.usage just after")

		// Let the spinner burn at least 0.3 s of CPU, then scrape again.
		testkit.Until(t, "the spinner to use 0.3 s of CPU", time.Minute, func() bool {
			return cpuNanos(t, ps.busy, "spin") > after+300_000_000
		})
		c.waitGap(t, rateGap)
		b2 := sampleCPU(t, ps.busy, "spin")
		s2 := c.scrape(t)
		a2 := sampleCPU(t, ps.busy, "spin")
		t2 := s2.value(t, spin, "container.cpu.time")
		assert.Greater(t, t2, t1+0.3, "cpu time grows between scrapes")
		t.Logf("spin cpu time %.3f s in [%d, %d] ns, then %.3f s", t1, before, after, t2)

		testkit.Until(t, "the spinner to use 0.3 s more of CPU", time.Minute, func() bool {
			return cpuNanos(t, ps.busy, "spin") > uint64(t2*1e9)+300_000_000
		})
		c.waitGap(t, rateGap)
		b3 := sampleCPU(t, ps.busy, "spin")
		s3 := c.scrape(t)
		a3 := sampleCPU(t, ps.busy, "spin")
		podAfter := cgroupCPUNanos(t, ps.busy.PodCgroupDir("cpuacct"))
		// A busy loop uses a real share of a core (the machine is shared, so not
		// a whole one) and never more than the machine has.
		cores := float64(runtime.NumCPU())
		usage := s3.value(t, spin, "container.cpu.usage")
		// The rate between the two scrapes' samples lies between what the cgroup
		// says over the shortest and the longest windows that contain them.
		lo := float64(b3.nanos-a2.nanos) / a3.at.Sub(b2.at).Seconds() / 1e9
		hi := float64(a3.nanos-b2.nanos) / b3.at.Sub(a2.at).Seconds() / 1e9
		assert.GreaterOrEqual(t, usage, lo*0.99, "usage vs the cgroup's rate between the scrapes")
		assert.LessOrEqual(t, usage, hi*1.01, "usage vs the cgroup's rate between the scrapes")
		t.Logf("spin usage %.3f cores; the cgroup says [%.3f, %.3f]", usage, lo, hi)
		assert.Greater(t, usage, 0.02, "busy loop usage in cores (a shared machine gives it at least a sliver)")
		assert.LessOrEqual(t, usage, cores*1.05, "busy loop usage in cores")
		idleUsage := s3.value(t, idle, "container.cpu.usage")
		t.Logf("usage: spin %.3f cores, idle %.6f cores (%v cpus)", usage, idleUsage, cores)
		assert.GreaterOrEqual(t, idleUsage, 0.0)
		assert.Less(t, idleUsage, 0.01, "a sleeping container uses next to no CPU")
		// The pod's CPU time, sampled within the scrape, covers what the spinner
		// had used before it and is at most what the pod cgroup had used after.
		// (Pod and container samples of one scrape may be taken moments apart:
		// they are not compared with each other.)
		podTime := s3.value(t, key{pod: "busy"}, "k8s.pod.cpu.time") * 1e9
		assert.GreaterOrEqual(t, podTime, float64(b3.nanos)*(1-1e-12), "pod cpu time vs the spinner's cgroup before the scrape")
		assert.LessOrEqual(t, podTime, float64(podAfter)*(1+1e-12), "pod cpu time vs the pod cgroup after the scrape")
	})

	t.Run("memory", func(t *testing.T) {
		waitForLog(t, env, ps.writer, "writer", "ready")
		const tolerance = 1 << 20 // the files are read a moment before and after the scrape
		dir := ps.writer.CgroupDir("memory", "writer")
		before := memoryOf(t, dir)
		s := c.scrape(t)
		after := memoryOf(t, dir)
		t.Logf("writer cgroup before %v, after %v", before, after)
		w := key{pod: "writer", container: "writer"}
		ws := s.value(t, w, "container.memory.working_set")
		assert.GreaterOrEqual(t, ws, float64(tmpfsBytes), "working set holds the tmpfs bytes written")
		assert.InDelta(t, float64(before.workingSet+after.workingSet)/2, ws, tolerance+absDiff(before.workingSet, after.workingSet), "working set vs the cgroup")
		usage := s.value(t, w, "container.memory.usage")
		assert.InDelta(t, float64(before.usage+after.usage)/2, usage, tolerance+absDiff(before.usage, after.usage), "usage vs the cgroup's memory usage")
		assert.GreaterOrEqual(t, usage, ws)
		t.Logf("writer working set %.0f, usage %.0f", ws, usage)
		podWS := s.value(t, key{pod: "writer"}, "k8s.pod.memory.working_set")
		assert.GreaterOrEqual(t, podWS, ws, "pod working set covers its container's")
		// …and is at most the pod cgroup's, which holds the sandbox's too.
		assert.LessOrEqual(t, podWS, float64(memoryOf(t, ps.writer.PodCgroupDir("memory")).workingSet)+tolerance, "pod working set vs the pod cgroup's")
	})

	t.Run("processes", func(t *testing.T) { testProcesses(t, c, ps) })
	t.Run("filesystems", func(t *testing.T) { testFilesystems(t, c, env, ps) })
	t.Run("network", func(t *testing.T) { testNetwork(t, c, env, ps) })

	t.Run("node", func(t *testing.T) { testNode(t, c) })
	t.Run("pod and container cgroups are found", func(t *testing.T) { testPodCgroupsFound(t, env, ps) })
	t.Run("runtime system container", func(t *testing.T) { testRuntimeSystemContainer(t, c, env) })
	// What only a cgroup v2 node has: run there, and only there.
	if cgroupV2 {
		t.Run("cgroup v2: PSI against the files", func(t *testing.T) { testPSI(t, c, ps) })
	}
	if ps.swapper != nil {
		t.Run("swap against memory.swap.current", func(t *testing.T) { testSwap(t, c, env, ps.swapper) })
	}

	t.Run("metrics match the summary", func(t *testing.T) { testMetricsMatchSummary(t, c) })

	t.Run("restart gets a fresh cpu baseline", func(t *testing.T) {
		spin := key{pod: "busy", container: "spin"}
		s1 := c.scrape(t)
		oldTime := s1.value(t, spin, "container.cpu.time")
		oldID := ps.busy.ContainerID("spin")
		oldAttempt := s1[spin].attrs["k8s.container.restart_count"]
		require.NoError(t, env.RestartContainer(t.Context(), ps.busy, "spin"))
		require.NotEqual(t, oldID, ps.busy.ContainerID("spin"))

		s2 := c.scrape(t)
		r := s2[spin]
		require.NotNil(t, r.attrs, "restarted container missing")
		assert.Equal(t, ps.busy.ContainerID("spin"), r.attrs["container.id"])
		before, err := strconv.Atoi(oldAttempt)
		require.NoError(t, err, "restart count before the restart")
		assert.Equal(t, strconv.Itoa(before+1), r.attrs["k8s.container.restart_count"], "the restart count goes up with the restart")
		newTime := s2.value(t, spin, "container.cpu.time")
		assert.Less(t, newTime, oldTime, "the new container's counter starts again")
		firstUsage, hasUsage := r.values["container.cpu.usage"]
		t.Logf("spin cpu time %.3f s before the restart, %.3f s after; usage on the first sample: %v (present %v)", oldTime, newTime, firstUsage, hasUsage)
		// The first sample of the new container has no rate, or a plausible one —
		// never one computed across the two containers' counters.
		cores := float64(runtime.NumCPU())
		if hasUsage {
			assert.GreaterOrEqual(t, firstUsage, 0.0)
			assert.LessOrEqual(t, firstUsage, cores*1.05)
		}
		testkit.Until(t, "the new spinner to use 0.2 s of CPU", time.Minute, func() bool {
			return cpuNanos(t, ps.busy, "spin") > uint64(s2.value(t, spin, "container.cpu.time")*1e9)+200_000_000
		})
		c.waitGap(t, rateGap)
		s3 := c.scrape(t)
		u := s3.value(t, spin, "container.cpu.usage")
		assert.Greater(t, u, 0.02, "the new spinner is busy")
		assert.LessOrEqual(t, u, cores*1.05)
	})

	t.Run("a deleted pod disappears", func(t *testing.T) {
		s1 := c.scrape(t)
		require.Contains(t, s1, key{pod: "doomed"})
		require.NoError(t, env.RemovePod(t.Context(), ps.doomed))
		s2 := c.scrape(t)
		for k := range s2 {
			assert.NotEqual(t, "doomed", k.pod, "resource %v of the deleted pod", k)
		}
		assert.Contains(t, s2, key{pod: "busy"}, "the other pods stay")
	})
}

// waitForLog polls a container's CRI log until a line ends with want.
func waitForLog(t *testing.T, env *containerdenv.Env, p *containerdenv.Pod, container, want string) {
	t.Helper()
	path := env.LogPath(p, container)
	var data []byte
	var err error
	testkit.UntilReport(t, fmt.Sprintf("%q in %s", want, path), time.Minute, func() bool {
		data, err = os.ReadFile(path)
		return err == nil && bytes.Contains(data, []byte(" "+want+"\n"))
	}, func() string { return fmt.Sprintf("it holds (%v):\n%s", err, logTail(data)) })
}

// logTail is the last lines of a container log, for a failure message.
func logTail(data []byte) string {
	const max = 2048
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}

func absDiff(a, b uint64) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}

// assertNothingLeft checks that the teardown left no trace of the instance.
func assertNothingLeft(t *testing.T, env *containerdenv.Env, ps pods) {
	t.Helper()
	for _, p := range ps.all() {
		if p == nil {
			continue
		}
		assert.Empty(t, podCgroupsLeft(t, p.UID), "cgroups of pod %s remain", p.Spec.Name)
		_, err := os.Stat(env.LogDir(p))
		assert.True(t, os.IsNotExist(err), "log directory of pod %s remains", p.Spec.Name)
	}
	_, err := os.Stat(env.Dir)
	assert.True(t, os.IsNotExist(err), "instance directory %s remains", env.Dir)
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), env.Dir, "mounts remain under the instance directory")
	_, err = os.Stat("/sys/class/net/ss-" + env.Name)
	assert.True(t, os.IsNotExist(err), "bridge ss-%s remains", env.Name)
	assertNoProcessRefersTo(t, env.Socket)
}
