package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

const mib = 1 << 20

// utilizationMetrics are kubeletstats' 12, off by default, and the disk
// operations, the one cgroup counter off by default: all turned on here.
var utilizationMetrics = []string{
	"k8s.container.cpu.node.utilization", "k8s.container.cpu_limit_utilization", "k8s.container.cpu_request_utilization",
	"k8s.container.memory.node.utilization", "k8s.container.memory_limit_utilization", "k8s.container.memory_request_utilization",
	"k8s.pod.cpu.node.utilization", "k8s.pod.cpu_limit_utilization", "k8s.pod.cpu_request_utilization",
	"k8s.pod.memory.node.utilization", "k8s.pod.memory_limit_utilization", "k8s.pod.memory_request_utilization",
	"container.disk.operations", "k8s.pod.disk.operations",
}

// limitsPods are the workload of TestLimitsAndCgroupCounters.
type limitsPods struct {
	// limited: two containers with requests and limits as the kubelet
	// writes them (capped spins under 200m and is throttled).
	limited *containerdenv.Pod
	// oom: a container with a 32 MiB limit and no swap that allocates 128 MiB
	// and is OOM-killed (its shell goes on sleeping).
	oom *containerdenv.Pod
	// io: a BestEffort container writing 2 MiB with O_DIRECT each second.
	io *containerdenv.Pod
}

func startLimitsPods(t *testing.T, env *containerdenv.Env) limitsPods {
	t.Helper()
	run := func(spec containerdenv.PodSpec) *containerdenv.Pod {
		t.Helper()
		p, err := env.RunPod(t.Context(), spec)
		require.NoError(t, err)
		return p
	}
	// Shares as the kubelet computes them: request in millicores × 1024 / 1000.
	return limitsPods{
		limited: run(containerdenv.PodSpec{Name: "limited", Namespace: "it", HostNetwork: true, QoS: containerdenv.Burstable, Containers: []containerdenv.ContainerSpec{
			{Name: "capped", Command: "while :; do :; done", Resources: &runtimeapi.LinuxContainerResources{
				CpuPeriod: 100000, CpuQuota: 20000, CpuShares: 102, MemoryLimitInBytes: 64 * mib, // 200m, request 100m, 64 Mi
			}},
			{Name: "steady", Command: "exec sleep 2147483647", Resources: &runtimeapi.LinuxContainerResources{
				CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 256, MemoryLimitInBytes: 128 * mib, // 500m, request 250m, 128 Mi
			}},
		}}),
		oom: run(containerdenv.PodSpec{Name: "oom", Namespace: "it", HostNetwork: true, QoS: containerdenv.Burstable, Containers: []containerdenv.ContainerSpec{
			{Name: "hog", Command: "dd if=/dev/zero of=/dev/null bs=128M count=1; exec sleep 2147483647", Resources: &runtimeapi.LinuxContainerResources{
				CpuShares: 2, MemoryLimitInBytes: 32 * mib, MemorySwapLimitInBytes: 32 * mib,
			}},
		}}),
		io: run(containerdenv.PodSpec{Name: "io", Namespace: "it", HostNetwork: true, Containers: []containerdenv.ContainerSpec{
			{Name: "direct", Command: "while :; do dd if=/dev/zero of=/direct bs=64k count=32 oflag=direct 2>/dev/null || dd if=/dev/zero of=/direct bs=64k count=32 conv=fsync 2>/dev/null; sleep 1; done",
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 2}},
		}}),
	}
}

// TestLimitsAndCgroupCounters runs pods with requests and limits on a real
// containerd and checks the utilization metrics against the pods' own
// resources and the node's capacity, and the throttling, memory event and
// disk counters against the cgroup files read just before and just after
// the scrape; then resizes a container in place.
func TestLimitsAndCgroupCounters(t *testing.T) {
	name := fmt.Sprintf("lim%d", os.Getpid()%1000000)
	env, err := containerdenv.Start(t.Context(), containerdenv.Options{Name: name, Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		assert.NoError(t, env.Close(ctx), "teardown")
	})
	ps := startLimitsPods(t, env)
	if cgroupV2 {
		enableIO(t, ps.io.CgroupDir("io", "direct"))
	} else {
		// cgroup v1 counts block IO only to devices with a throttle rule in
		// the cgroup's hierarchy: one far above any rate, as an operator's
		// IO policy would set.
		rule := blockDevice(t, env.Dir) + " 1099511627776"
		require.NoError(t, os.WriteFile(filepath.Join(ps.io.CgroupDir("blkio", "direct"), "blkio.throttle.write_bps_device"), []byte(rule), 0o644))
	}
	metrics := map[string]any{}
	for _, m := range utilizationMetrics {
		metrics[m] = map[string]any{"enabled": true}
	}
	c := startCollectorWith(t, env, map[string]any{"metrics": metrics})

	capped, steady := key{pod: "limited", container: "capped"}, key{pod: "limited", container: "steady"}
	hog, direct := key{pod: "oom", container: "hog"}, key{pod: "io", container: "direct"}
	cpuStat := func(p *containerdenv.Pod, ctr string) string {
		if ctr == "" {
			return filepath.Join(p.PodCgroupDir("cpu"), "cpu.stat")
		}
		return filepath.Join(p.CgroupDir("cpu", ctr), "cpu.stat")
	}
	testkit.Until(t, "capped to be throttled", time.Minute, func() bool { return cgroupStat(t, cpuStat(ps.limited, "capped"), "nr_throttled") >= 3 })
	testkit.Until(t, "hog to be OOM-killed", time.Minute, func() bool { return oomKills(t, ps.oom.CgroupDir("memory", "hog")) >= 1 })
	testkit.Until(t, "direct to write 2 MiB", time.Minute, func() bool { return diskWritten(t, ps.io.CgroupDir("blkio", "direct")) >= 2*mib })

	c.waitGap(t, rateGap)
	c.scrape(t) // a CPU rate needs two samples
	c.waitGap(t, rateGap)
	throttledBefore := cgroupStat(t, cpuStat(ps.limited, "capped"), "nr_throttled")
	steadyBefore := cgroupStat(t, cpuStat(ps.limited, "steady"), "nr_throttled")
	writtenBefore := diskWritten(t, ps.io.CgroupDir("blkio", "direct"))
	s := c.scrape(t)
	throttledAfter := cgroupStat(t, cpuStat(ps.limited, "capped"), "nr_throttled")
	steadyAfter := cgroupStat(t, cpuStat(ps.limited, "steady"), "nr_throttled")
	writtenAfter := diskWritten(t, ps.io.CgroupDir("blkio", "direct"))

	cpus, memTotal := nodeCapacity(t)
	t.Run("utilization against the pods' resources", func(t *testing.T) {
		// Each ratio is the metric's own usage over the resource the pod
		// was given: the limits and requests the receiver found are those.
		for _, tt := range []struct {
			k                      key
			cpuLimit, cpuRequest   float64
			memoryLimit, memoryReq float64
		}{
			{capped, 0.2, 0.1, 64 * mib, 0},
			{steady, 0.5, 0.25, 128 * mib, 0},
			{key{pod: "limited"}, 0.7, 0.35, 192 * mib, 0}, // kubeletstats' sums: every container has each
			{hog, 0, 0, 32 * mib, 0},
			{direct, 0, 0, 0, 0}, // BestEffort
		} {
			prefix := "k8s.container."
			cpuUsage, memUsage := "container.cpu.usage", "container.memory.usage"
			if tt.k.container == "" {
				prefix, cpuUsage, memUsage = "k8s.pod.", "k8s.pod.cpu.usage", "k8s.pod.memory.usage"
			}
			cpu, mem := s.value(t, tt.k, cpuUsage), s.value(t, tt.k, memUsage)
			ratio := func(metric string, over float64, usage float64) {
				t.Helper()
				got, ok := s[tt.k].values[prefix+metric]
				if over == 0 {
					assert.False(t, ok, "%v: %s without a %s (%v)", tt.k, prefix+metric, metric, got)
					return
				}
				if assert.True(t, ok, "%v: no %s", tt.k, prefix+metric) {
					assert.InEpsilon(t, usage/over, got, 1e-9, "%v: %s", tt.k, prefix+metric)
				}
			}
			if cpu > 0 {
				ratio("cpu_limit_utilization", tt.cpuLimit, cpu)
				ratio("cpu_request_utilization", tt.cpuRequest, cpu)
				ratio("cpu.node.utilization", float64(cpus), cpu)
			}
			ratio("memory_limit_utilization", tt.memoryLimit, mem)
			ratio("memory_request_utilization", tt.memoryReq, mem) // not on the node: never without pod metadata
			ratio("memory.node.utilization", float64(memTotal), mem)
		}
		assert.Greater(t, s.value(t, capped, "container.cpu.usage"), 0.05, "capped spins")
	})

	t.Run("throttling against cpu.stat", func(t *testing.T) {
		got := s.value(t, capped, "container.cpu.throttling_data.throttled_periods")
		assert.True(t, float64(throttledBefore) <= got && got <= float64(throttledAfter), "throttled periods %v, cpu.stat %d..%d", got, throttledBefore, throttledAfter)
		assert.Positive(t, s.value(t, capped, "container.cpu.throttling_data.throttled_time"))
		assert.GreaterOrEqual(t, s.value(t, capped, "container.cpu.throttling_data.periods"), got)
		// steady sleeps: it is throttled only if starting it outran its quota
		// (seen once under software emulation), and then as its cpu.stat says.
		st := s.value(t, steady, "container.cpu.throttling_data.throttled_periods")
		assert.True(t, float64(steadyBefore) <= st && st <= float64(steadyAfter), "steady throttled periods %v, cpu.stat %d..%d", st, steadyBefore, steadyAfter)
		assert.Less(t, st, got, "the sleeper is throttled less than the spinner")
	})

	t.Run("OOM kill against the memory cgroup", func(t *testing.T) {
		kills := oomKills(t, ps.oom.CgroupDir("memory", "hog"))
		require.Positive(t, kills)
		assert.Equal(t, float64(kills), s.value(t, hog, "container.memory.events{memory.event=oom_kill}"))
		podKills := s.value(t, key{pod: "oom"}, "k8s.pod.memory.events{memory.event=oom_kill}")
		assert.Equal(t, float64(oomKills(t, ps.oom.PodCgroupDir("memory"))), podKills, "the pod cgroup's own file")
		if cgroupV2 {
			assert.GreaterOrEqual(t, podKills, float64(kills), "v2 events are hierarchical")
			assert.Positive(t, s.value(t, hog, "container.memory.events{memory.event=oom}"))
		}
		if cgroupV2 {
			assert.Positive(t, s.value(t, hog, "container.memory.events{memory.event=max}"), "the usage hit the limit")
		} else {
			// hog has a memory+swap limit, as the kubelet sets where swap
			// is accounted: v1 then keeps no count of the limit's hits.
			_, hasMax := s[hog].values["container.memory.events{memory.event=max}"]
			assert.False(t, hasMax, "v1 max events under a memory+swap limit are unknown, not 0")
		}
	})

	t.Run("O_DIRECT writes against the IO cgroup", func(t *testing.T) {
		got := s.value(t, direct, "container.disk.io{disk.io.direction=write}")
		assert.True(t, float64(writtenBefore) <= got && got <= float64(writtenAfter), "written %v, cgroup files %d..%d", got, writtenBefore, writtenAfter)
		assert.GreaterOrEqual(t, got, float64(2*mib))
		assert.Positive(t, s.value(t, direct, "container.disk.operations{disk.io.direction=write}"))
		assert.GreaterOrEqual(t, s.value(t, key{pod: "io"}, "k8s.pod.disk.io{disk.io.direction=write}"), float64(writtenBefore), "the pod's includes its container's")
	})

	t.Run("in-place resize", func(t *testing.T) {
		require.NoError(t, env.UpdateResources(t.Context(), ps.limited, "steady", &runtimeapi.LinuxContainerResources{
			CpuPeriod: 100000, CpuQuota: 100000, CpuShares: 512, MemoryLimitInBytes: 256 * mib, // 1 core, request 500m, 256 Mi
		}))
		s := c.scrape(t)
		mem := s.value(t, steady, "container.memory.usage")
		assert.InEpsilon(t, mem/(256*mib), s.value(t, steady, "k8s.container.memory_limit_utilization"), 1e-9)
		if cpu := s.value(t, steady, "container.cpu.usage"); cpu > 0 {
			assert.InEpsilon(t, cpu/1, s.value(t, steady, "k8s.container.cpu_limit_utilization"), 1e-9)
			assert.InEpsilon(t, cpu/0.5, s.value(t, steady, "k8s.container.cpu_request_utilization"), 1e-9)
		}
		podMem := s.value(t, key{pod: "limited"}, "k8s.pod.memory.usage")
		assert.InEpsilon(t, podMem/(320*mib), s.value(t, key{pod: "limited"}, "k8s.pod.memory_limit_utilization"), 1e-9, "the pod's limit follows")
	})
}

// enableIO makes sure cgroup v2's io controller counts the IO of the cgroup
// at dir: every ancestor from the root down delegates io (the cgroupfs
// driver's runc enables every controller; with the systemd driver a scope
// gets io only when some unit asks for IO accounting), as an operator who
// wants IO accounting turns it on.
func enableIO(t *testing.T, dir string) {
	t.Helper()
	rel, err := filepath.Rel("/sys/fs/cgroup", dir)
	require.NoError(t, err)
	cur := "/sys/fs/cgroup"
	for _, part := range strings.Split(rel, "/") {
		ctl := filepath.Join(cur, "cgroup.subtree_control")
		b, err := os.ReadFile(ctl)
		require.NoError(t, err)
		if !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " io ") {
			require.NoError(t, os.WriteFile(ctl, []byte("+io"), 0o644), "enable io in %s", cur)
		}
		cur = filepath.Join(cur, part)
	}
	_, err = os.Stat(filepath.Join(dir, "io.stat"))
	require.NoError(t, err, "io.stat of the container's cgroup")
}

// oomKills is a memory cgroup's OOM kill count: memory.events oom_kill on
// v2, memory.oom_control's on v1.
func oomKills(t *testing.T, dir string) uint64 {
	if cgroupV2 {
		return cgroupStat(t, filepath.Join(dir, "memory.events"), "oom_kill")
	}
	return cgroupStat(t, filepath.Join(dir, "memory.oom_control"), "oom_kill")
}

// diskWritten is the bytes a cgroup wrote, summed over devices: io.stat
// wbytes on v2, the Write lines of blkio.throttle.io_service_bytes_recursive
// on v1. dir is its blkio directory on v1, its only one on v2.
func diskWritten(t *testing.T, dir string) uint64 {
	t.Helper()
	file := "blkio.throttle.io_service_bytes_recursive"
	if cgroupV2 {
		file = "io.stat"
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	var n uint64
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		for _, kv := range f {
			if v, ok := strings.CutPrefix(kv, "wbytes="); ok {
				w, _ := strconv.ParseUint(v, 10, 64)
				n += w
			}
		}
		if !cgroupV2 && len(f) == 3 && f[1] == "Write" {
			w, _ := strconv.ParseUint(f[2], 10, 64)
			n += w
		}
	}
	return n
}

// blockDevice is the whole disk ("MAJ:MIN") holding dir's filesystem, as a
// blkio throttle rule names it.
func blockDevice(t *testing.T, dir string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(dir, &st))
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	sys := filepath.Join("/sys/dev/block", dev)
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		b, err := os.ReadFile(filepath.Join(sys, "..", "dev"))
		require.NoError(t, err)
		dev = strings.TrimSpace(string(b))
	}
	return dev
}

// nodeCapacity is the node's online CPUs and MemTotal, read here as the
// kubelet reads its capacity.
func nodeCapacity(t *testing.T) (cpus int, memTotal uint64) {
	t.Helper()
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	require.NoError(t, err)
	for part := range strings.SplitSeq(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		z := a
		if isRange {
			z, _ = strconv.Atoi(hi)
		}
		cpus += z - a + 1
	}
	mi, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(mi), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			memTotal = kb * 1024
		}
	}
	require.Positive(t, cpus)
	require.Positive(t, memTotal)
	return cpus, memTotal
}
