package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// The subtests here read the Summary the receiver serves on its JSON endpoint
// right after a scrape: the blocks beyond CPU and memory (filesystems, pod
// networks) that the runtime gives.

// testProcesses: a pod's process count is the number of processes in its
// containers' cgroups (the sandbox's pause process is not counted).
func testProcesses(t *testing.T, c *collector, ps pods) {
	count := func() uint64 {
		var n uint64
		for _, ctr := range ps.busy.Spec.Containers {
			data, err := os.ReadFile(filepath.Join(ps.busy.CgroupDir("pids", ctr.Name), "cgroup.procs"))
			require.NoError(t, err)
			n += uint64(len(strings.Fields(string(data))))
		}
		return n
	}
	// The busy pod's processes neither fork nor exit: the count is stable.
	before := count()
	c.scrape(t)
	after := count()
	require.Equal(t, before, after, "the busy pod's processes changed during the scrape")
	busy := podStats(t, c.summary(t), "busy")
	require.NotNil(t, busy.ProcessStats, "busy pod process stats")
	require.NotNil(t, busy.ProcessStats.ProcessCount, "busy pod process count")
	assert.Equal(t, before, *busy.ProcessStats.ProcessCount, "process count vs the containers' cgroup.procs")
	t.Logf("busy pod: %d processes, the cgroups hold %d", *busy.ProcessStats.ProcessCount, before)
}

// testFilesystems: the writer's writable layer holds what it wrote there, its
// logs what it printed, each on the filesystem it lives on.
func testFilesystems(t *testing.T, c *collector, env *containerdenv.Env, ps pods) {
	waitForLog(t, env, ps.writer, "writer", "ready")
	// The runtime refreshes writable-layer sizes every stats_collect_period (2 s)
	// and log sizes are measured in the background: scrape until both are in.
	var ctr *statsapi.ContainerStats
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.scrape(t)
		ctr = containerStats(t, podStats(t, c.summary(t), "writer"), "writer")
		if used(ctr.Rootfs) >= rootfsBytes && used(ctr.Logs) >= uint64(printed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the writer's rootfs is %+v (it wrote %d bytes) and its logs %+v (it printed %d bytes)", ctr.Rootfs, rootfsBytes, ctr.Logs, printed)
		}
		time.Sleep(500 * time.Millisecond) // between scrapes, not waiting for a state
	}
	t.Logf("writer rootfs %d bytes (wrote %d), logs %d bytes (printed %d)", used(ctr.Rootfs), rootfsBytes, used(ctr.Logs), printed)
	// Each on the filesystem that holds it: the runtime's root and the pod logs.
	assertCapacity(t, filepath.Join(env.Dir, "root"), ctr.Rootfs, "rootfs")
	assertCapacity(t, containerdenv.PodLogsDir, ctr.Logs, "logs")

	// The runtime's image filesystem (ImageFsInfo) holds the imported images,
	// on the filesystem of the runtime's root; containerd keeps the writable
	// layers there too, so the container fs is the same filesystem.
	rt := c.summary(t).Node.Runtime
	require.NotNil(t, rt, "node runtime stats")
	require.NotNil(t, rt.ImageFs, "image fs")
	assert.Positive(t, used(rt.ImageFs), "image fs used bytes: the imported images")
	require.NotNil(t, rt.ImageFs.InodesUsed, "image fs inodes used")
	assert.Positive(t, *rt.ImageFs.InodesUsed, "image fs inodes used")
	assertCapacity(t, filepath.Join(env.Dir, "root"), rt.ImageFs, "image fs")
	require.NotNil(t, rt.ContainerFs, "container fs")
	assertCapacity(t, filepath.Join(env.Dir, "root"), rt.ContainerFs, "container fs")
	t.Logf("image fs used %d bytes, %d inodes", used(rt.ImageFs), *rt.ImageFs.InodesUsed)
}

func used(fs *statsapi.FsStats) uint64 {
	if fs == nil || fs.UsedBytes == nil {
		return 0
	}
	return *fs.UsedBytes
}

// assertCapacity checks a block's capacity against the filesystem of path.
func assertCapacity(t *testing.T, path string, fs *statsapi.FsStats, what string) {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(path, &st))
	require.NotNil(t, fs.CapacityBytes, "%s capacity", what)
	assert.Equal(t, st.Blocks*uint64(st.Bsize), *fs.CapacityBytes, "%s capacity is that of the filesystem of %s", what, path)
}

// testNetwork: the own-netns pods' traffic grows and matches their namespace's
// eth0 counters at the moment of the scrape; host-network pods have none.
func testNetwork(t *testing.T, c *collector, env *containerdenv.Env, ps pods) {
	// Where pod network comes from the pod cgroups (the partial path on the
	// systemd driver; the identity plan, the default, between the runtime's
	// stats answers), a cgroup snapshot serves the assemblies of a second
	// (summary.DefaultCgroupMaxAge): a scrape within it of the previous one
	// would report traffic from before the reading below.
	c.waitGap(t, rateGap)
	before := netDev(t, ps.server, "server")
	c.scrape(t)
	s1 := c.summary(t)
	after := netDev(t, ps.server, "server")
	server1, client1 := podStats(t, s1, "net-server").Network, podStats(t, s1, "net-client").Network
	require.NotNil(t, server1, "the server pod has its own network namespace: it has network stats")
	require.NotNil(t, client1, "the client pod has its own network namespace: it has network stats")
	assert.Equal(t, "eth0", server1.Name)
	require.NotNil(t, server1.RxBytes)
	assert.GreaterOrEqual(t, *server1.RxBytes, before.rx, "server rx vs its eth0 just before the scrape")
	assert.LessOrEqual(t, *server1.RxBytes, after.rx, "server rx vs its eth0 just after the scrape")

	require.NotNil(t, client1.TxBytes)
	// 64 KiB: far above what a namespace sends on its own (ARP, nothing
	// else), and within reach of the VM node, where the emulated client
	// sends a few KiB a second (this host: about 100 KiB).
	const more = 64 << 10
	testkit.UntilReport(t, "the client to send 64 KiB more", 2*time.Minute, func() bool {
		return netDev(t, ps.client, "client").tx > *client1.TxBytes+more
	}, func() string {
		log, err := os.ReadFile(env.LogPath(ps.client, "client"))
		return fmt.Sprintf("tx %d at the scrape, %d now; server rx %d now; the client's log (%v):\n%s",
			*client1.TxBytes, netDev(t, ps.client, "client").tx, netDev(t, ps.server, "server").rx, err, logTail(log))
	})
	// The client sends 64 KiB in well under a second here: without the gap the
	// second scrape can be served from the first one's cgroup snapshot (the
	// same bytes, which is not growth).
	c.waitGap(t, rateGap)
	c.scrape(t)
	s2 := c.summary(t)
	server2, client2 := podStats(t, s2, "net-server").Network, podStats(t, s2, "net-client").Network
	require.NotNil(t, server2)
	require.NotNil(t, client2)
	assert.Greater(t, *server2.RxBytes, *server1.RxBytes, "server rx grows")
	assert.Greater(t, *client2.TxBytes, *client1.TxBytes, "client tx grows")
	t.Logf("server rx %d → %d, client tx %d → %d", *server1.RxBytes, *server2.RxBytes, *client1.TxBytes, *client2.TxBytes)

	for _, host := range []string{"busy", "writer"} {
		assert.Nil(t, podStats(t, s2, host).Network, "host-network pod %s has no network stats of its own", host)
	}
}

// testNode: node stats are there and hold the pods.
func testNode(t *testing.T, c *collector) {
	rootCPU := "/sys/fs/cgroup/cpuacct"
	if cgroupV2 {
		rootCPU = "/sys/fs/cgroup"
	}
	before := cgroupCPUNanos(t, rootCPU)
	c.scrape(t)
	after := cgroupCPUNanos(t, rootCPU)
	s := c.summary(t)

	require.NotNil(t, s.Node.CPU, "node cpu")
	require.NotNil(t, s.Node.CPU.UsageCoreNanoSeconds, "node cpu time")
	// Node stats may come from a cgroup sample up to one collection interval
	// old, so the node's CPU time is at most one interval (on every CPU) behind
	// the root cgroup's at the scrape, and never ahead of it.
	cpu := float64(*s.Node.CPU.UsageCoreNanoSeconds)
	staleness := (collectionInterval + 2*time.Second).Seconds() * float64(runtime.NumCPU()) * 1e9
	assert.GreaterOrEqual(t, cpu, float64(before)-staleness, "node cpu time vs the root cgroup's before the scrape, less one interval")
	assert.LessOrEqual(t, cpu, float64(after), "node cpu time vs the root cgroup's just after the scrape")
	t.Logf("node cpu time %.3f s, root cgroup %.3f s before the scrape, %.3f s after", cpu/1e9, float64(before)/1e9, float64(after)/1e9)

	require.NotNil(t, s.Node.Memory, "node memory")
	require.NotNil(t, s.Node.Memory.WorkingSetBytes, "node working set")
	var podsWS uint64
	for _, p := range s.Pods {
		if p.Memory != nil && p.Memory.WorkingSetBytes != nil {
			podsWS += *p.Memory.WorkingSetBytes
		}
	}
	assert.GreaterOrEqual(t, *s.Node.Memory.WorkingSetBytes, podsWS, "node working set holds the pods'")
	t.Logf("node working set %d, pods' %d", *s.Node.Memory.WorkingSetBytes, podsWS)

	// The node filesystem is the one holding the kubelet's root directory (its
	// nearest existing parent on a machine without a kubelet).
	dir := "/var/lib/kubelet"
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	require.NotNil(t, s.Node.Fs, "node fs")
	assertCapacity(t, dir, s.Node.Fs, "node fs")

	// Boot time and pid limits, as /proc says.
	assert.Equal(t, bootTime(t), s.Node.StartTime.Unix(), "node start time is the boot time")
	require.NotNil(t, s.Node.Rlimit, "node rlimit")
	require.NotNil(t, s.Node.Rlimit.MaxPID, "node max pid")
	want := min(procInt(t, "/proc/sys/kernel/pid_max"), procInt(t, "/proc/sys/kernel/threads-max"))
	assert.Equal(t, want, *s.Node.Rlimit.MaxPID, "max pid is min(pid_max, threads-max)")

	// Network: the default interface is the one carrying the default route, and
	// its counters are the kernel's (read after the scrape, so never below).
	ifname := defaultRouteInterface(t)
	require.NotNil(t, s.Node.Network, "node network")
	assert.Equal(t, ifname, s.Node.Network.Name, "node default interface carries the default route")
	require.NotNil(t, s.Node.Network.RxBytes, "node rx bytes")
	rx := procInt(t, filepath.Join("/sys/class/net", ifname, "statistics", "rx_bytes"))
	assert.Positive(t, *s.Node.Network.RxBytes, "node rx bytes")
	assert.LessOrEqual(t, *s.Node.Network.RxBytes, uint64(rx), "node rx bytes vs the kernel's after the scrape")
	t.Logf("node network %s rx %d bytes (kernel now %d)", ifname, *s.Node.Network.RxBytes, rx)
}

// defaultRouteInterface is the interface of the default route in /proc/net/route.
func defaultRouteInterface(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/route")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			return f[0]
		}
	}
	t.Fatal("no default route in /proc/net/route")
	return ""
}

func procInt(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	require.NoError(t, err, "parse %s", path)
	return v
}

// bootTime is btime of /proc/stat, in seconds since the epoch.
func bootTime(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/stat")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("/proc/stat has no btime")
	return 0
}

// testMetricsMatchSummary: the metrics of a scrape carry the same values as
// the Summary that scrape assembled.
func testMetricsMatchSummary(t *testing.T, c *collector) {
	m := c.scrape(t)
	s := c.summary(t)
	check := func(k key, metric string, v *uint64) {
		t.Helper()
		require.NotNil(t, v, "%v: the Summary has no value for %s", k, metric)
		assert.Equal(t, float64(*v), m.value(t, k, metric), "%v %s", k, metric)
	}
	w := containerStats(t, podStats(t, s, "writer"), "writer")
	check(key{pod: "writer", container: "writer"}, "container.filesystem.usage", w.Rootfs.UsedBytes)
	check(key{pod: "writer", container: "writer"}, "container.logs.usage", w.Logs.UsedBytes)
	for _, name := range []string{"net-server", "net-client"} {
		n := podStats(t, s, name).Network
		require.NotNil(t, n, "%s network", name)
		check(key{pod: name}, fmt.Sprintf("k8s.pod.network.io{direction=receive,interface=%s}", n.Name), n.RxBytes)
		check(key{pod: name}, fmt.Sprintf("k8s.pod.network.io{direction=transmit,interface=%s}", n.Name), n.TxBytes)
	}
	for _, host := range []string{"busy", "writer"} {
		for name := range m[key{pod: host}].values {
			assert.False(t, strings.HasPrefix(name, "k8s.pod.network."), "host-network pod %s has %s", host, name)
		}
	}
	busy := podStats(t, s, "busy")
	require.NotNil(t, busy.ProcessStats, "busy pod process stats")
	check(key{pod: "busy"}, "k8s.pod.process.count", busy.ProcessStats.ProcessCount)
	require.NotNil(t, s.Node.Memory, "node memory")
	check(key{}, "k8s.node.memory.working_set", s.Node.Memory.WorkingSetBytes)
	require.NotNil(t, s.Node.Fs, "node fs")
	check(key{}, "k8s.node.filesystem.capacity", s.Node.Fs.CapacityBytes)
	check(key{}, "k8s.node.filesystem.usage", s.Node.Fs.UsedBytes)
}

// netCounters are an interface's byte counters.
type netCounters struct{ rx, tx uint64 }

// netDev reads eth0's counters in a container's network namespace, through
// /proc/PID/net/dev of a process of the container.
func netDev(t *testing.T, p *containerdenv.Pod, container string) netCounters {
	t.Helper()
	procs, err := os.ReadFile(filepath.Join(p.CgroupDir("cpuacct", container), "cgroup.procs"))
	require.NoError(t, err)
	pid, _, _ := strings.Cut(strings.TrimSpace(string(procs)), "\n")
	require.NotEmpty(t, pid, "container %s/%s has no process", p.Spec.Name, container)
	f, err := os.Open("/proc/" + pid + "/net/dev")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != "eth0" {
			continue
		}
		fields := strings.Fields(rest)
		require.GreaterOrEqual(t, len(fields), 9)
		rx, err := strconv.ParseUint(fields[0], 10, 64)
		require.NoError(t, err)
		tx, err := strconv.ParseUint(fields[8], 10, 64)
		require.NoError(t, err)
		return netCounters{rx: rx, tx: tx}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no eth0 in the network namespace of %s/%s", p.Spec.Name, container)
	return netCounters{}
}
