package cadvisor

import (
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

	"github.com/statssummary/statssummary/internal/testenv/cgroupenv"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// fileValues reads "key value" lines of a cgroup file.
func fileValues(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]uint64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	return out
}

// fileDisk sums, over devices, the bytes or operations read and written in a
// v1 blkio.throttle file or v2 io.stat, as a test reads them.
func fileDisk(t *testing.T, path string, v2, ops bool) (read, write uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if v2 {
			for _, kv := range f {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch {
				case k == "rbytes" && !ops, k == "rios" && ops:
					read += n
				case k == "wbytes" && !ops, k == "wios" && ops:
					write += n
				}
			}
			continue
		}
		if len(f) == 3 {
			n, _ := strconv.ParseUint(f[2], 10, 64)
			switch f[1] {
			case "Read":
				read += n
			case "Write":
				write += n
			}
		}
	}
	return read, write
}

// blockDevice is the whole disk ("MAJ:MIN") holding dir's filesystem, as a
// blkio throttle rule names it (a partition's parent disk).
func blockDevice(t *testing.T, dir string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(dir, &st))
	dev := strconv.Itoa(int(unix.Major(st.Dev))) + ":" + strconv.Itoa(int(unix.Minor(st.Dev)))
	sys := filepath.Join("/sys/dev/block", dev)
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		b, err := os.ReadFile(filepath.Join(sys, "..", "dev"))
		require.NoError(t, err, "the disk of partition %s", dev)
		dev = strings.TrimSpace(string(b))
	}
	_, err := os.Stat(sys)
	require.NoError(t, err, "%s (%s) is not a block device: its IO cannot be counted", dir, dev)
	return dev
}

// TestFilesOnRealCgroups reads a real pod cgroup and its container cgroups
// while a container is CPU-throttled, another is OOM-killed and a third
// writes with O_DIRECT, and compares every value with the cgroup files read
// just before and after (cgroup v1 here; the integration suite covers v2).
func TestFilesOnRealCgroups(t *testing.T) {
	env := cgroupenv.New(t, "statssummary-files")
	uid := "6c5b4a39-7a1e-4c55-9a0b-2f0f1c3d4e5f"
	spinID := strings.Repeat("a1", 32)
	oomID := strings.Repeat("b2", 32)
	ioID := strings.Repeat("c3", 32)
	pod := env.Root + "/pod" + uid
	spin, oom, io := pod+"/"+spinID, pod+"/"+oomID, pod+"/"+ioID
	env.Make(pod, spin, oom, io)
	f, err := NewFiles(FilesOptions{PodsCgroup: env.Root})
	require.NoError(t, err)
	t.Cleanup(f.Close)
	read := func() PodFiles {
		got := f.Read([]PodRef{{UID: uid, ContainerIDs: []string{spinID, oomID, ioID}}}, What{Limits: true, Counters: true})
		require.True(t, got[0].Found, "the pod cgroup")
		for i, c := range got[0].Containers {
			require.True(t, c.Found, "container cgroup %d", i)
		}
		return got[0]
	}

	// Limits as the kubelet writes them for 250m/500m CPU and 64 MiB.
	if env.V2 {
		env.Set(spin, "cpu.max", "10000 100000")
		env.Set(spin, "cpu.weight", "10")
		env.Set(spin, "memory.max", strconv.Itoa(64<<20))
	} else {
		env.Set(spin, "cpu.cfs_period_us", "100000")
		env.Set(spin, "cpu.cfs_quota_us", "10000")
		env.Set(spin, "cpu.shares", "256")
		env.Set(spin, "memory.limit_in_bytes", strconv.Itoa(64<<20))
	}
	got := read()
	want := CgroupLimits{Known: true, CPUQuota: 10000, CPUPeriod: 100000, MemoryLimit: 64 << 20}
	if env.V2 {
		want.CPUWeight = 10
	} else {
		want.CPUShares = 256
	}
	assert.Equal(t, want, got.Containers[0].Limits)
	assert.True(t, got.Containers[1].Limits.Known)
	assert.Zero(t, got.Containers[1].Limits.CPUQuota, "no quota")
	assert.Zero(t, got.Containers[1].Limits.MemoryLimit, "no limit")

	// Throttled: a spinner under a tenth of a core.
	env.Run(spin, "while :; do :; done")
	statFile := env.File(spin, "cpu.stat")
	testkit.Until(t, "the spinner to be throttled", 30*time.Second, func() bool { return fileValues(t, statFile)["nr_throttled"] >= 3 })
	before := fileValues(t, statFile)
	got = read()
	after := fileValues(t, statFile)
	c := got.Containers[0].Counters
	require.NotZero(t, c.Has&HasThrottling)
	timeKey, scale := "throttled_time", uint64(1)
	if env.V2 {
		timeKey, scale = "throttled_usec", 1000
	}
	assert.True(t, before["nr_periods"] <= c.CPUPeriods && c.CPUPeriods <= after["nr_periods"], "periods %d, files %d..%d", c.CPUPeriods, before["nr_periods"], after["nr_periods"])
	assert.True(t, before["nr_throttled"] <= c.CPUThrottledPeriods && c.CPUThrottledPeriods <= after["nr_throttled"], "throttled %d, files %d..%d", c.CPUThrottledPeriods, before["nr_throttled"], after["nr_throttled"])
	assert.True(t, before[timeKey]*scale <= c.CPUThrottledTime && c.CPUThrottledTime <= after[timeKey]*scale, "throttled time %d ns, files %d..%d", c.CPUThrottledTime, before[timeKey]*scale, after[timeKey]*scale)
	assert.Positive(t, c.CPUThrottledTime)

	// OOM-killed: 128 MiB of buffer under a 32 MiB limit, no swap.
	if env.V2 {
		env.Set(oom, "memory.max", strconv.Itoa(32<<20))
		env.Set(oom, "memory.swap.max", "0")
	} else {
		env.Set(oom, "memory.limit_in_bytes", strconv.Itoa(32<<20))
	}
	cmd := env.Run(oom, "dd if=/dev/zero of=/dev/null bs=128M count=1")
	require.Error(t, cmd.Wait(), "dd must be killed")
	got = read()
	oc := got.Containers[1].Counters
	if env.V2 {
		ev := fileValues(t, env.File(oom, "memory.events"))
		require.Positive(t, ev["oom_kill"])
		assert.Equal(t, ev["oom_kill"], oc.MemoryOOMKill)
		assert.Equal(t, ev["oom"], oc.MemoryOOM)
		assert.Equal(t, ev["max"], oc.MemoryMax)
		assert.Equal(t, HasMemoryOOM|HasMemoryOOMKill|HasMemoryMax|HasMemoryHigh, oc.Has&(HasMemoryOOM|HasMemoryOOMKill|HasMemoryMax|HasMemoryHigh))
	} else {
		kills := fileValues(t, env.File(oom, "memory.oom_control"))["oom_kill"]
		require.Positive(t, kills)
		assert.Equal(t, kills, oc.MemoryOOMKill)
		fail, err := os.ReadFile(env.File(oom, "memory.failcnt"))
		require.NoError(t, err)
		assert.Equal(t, strings.TrimSpace(string(fail)), strconv.FormatUint(oc.MemoryMax, 10))
		assert.Positive(t, oc.MemoryMax)
		assert.Equal(t, HasMemoryOOMKill|HasMemoryMax, oc.Has&(HasMemoryOOM|HasMemoryOOMKill|HasMemoryMax|HasMemoryHigh), "v1 keeps no oom and high events")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(env.File(oom, "memory.oom_control")), "memory.memsw.limit_in_bytes")); err != nil {
		t.Logf("no memory+swap accounting on this host (%v): the v1 swapless case does not apply", err)
	} else if !env.V2 {
		// With a memory+swap limit as well (the kubelet's where swap is
		// accounted), the kill is counted but failcnt stays 0: max is
		// unknown there, not 0.
		swapless := pod + "/" + strings.Repeat("d4", 32)
		env.Make(swapless)
		env.Set(swapless, "memory.limit_in_bytes", strconv.Itoa(32<<20))
		env.Set(swapless, "memory.memsw.limit_in_bytes", strconv.Itoa(32<<20))
		require.Error(t, env.Run(swapless, "dd if=/dev/zero of=/dev/null bs=128M count=1").Wait(), "dd must be killed")
		sc := f.Read([]PodRef{{UID: uid, ContainerIDs: []string{strings.Repeat("d4", 32)}}}, What{Counters: true})[0].Containers[0].Counters
		assert.Equal(t, fileValues(t, env.File(swapless, "memory.oom_control"))["oom_kill"], sc.MemoryOOMKill)
		assert.Positive(t, sc.MemoryOOMKill)
		assert.Zero(t, sc.Has&HasMemoryMax, "max unknown under a memory+swap limit")
		got = read()
	}
	if env.V2 {
		assert.Equal(t, oc.MemoryOOMKill, got.Counters.MemoryOOMKill, "v2: the pod counts its containers' OOM kills")
	} else {
		assert.Equal(t, fileValues(t, env.File(pod, "memory.oom_control"))["oom_kill"], got.Counters.MemoryOOMKill, "v1: the pod's own cgroup's")
		assert.Zero(t, got.Counters.MemoryOOMKill, "v1 keeps the kill in the container's cgroup only")
	}

	// Disk IO: 2 MiB written with O_DIRECT. On cgroup v1 the throttle
	// accounting sees only devices with a throttle rule: one far above
	// any rate, as an operator's IO policy would set.
	dir, err := os.MkdirTemp("/var/tmp", "statssummary-files")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ioFile, opsFile := "io.stat", "io.stat"
	if !env.V2 {
		env.Set(io, "blkio.throttle.write_bps_device", blockDevice(t, dir)+" 1099511627776")
		ioFile, opsFile = "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"
	}
	cmd = env.Run(io, "dd if=/dev/zero of="+filepath.Join(dir, "direct")+" bs=64k count=32 oflag=direct 2>/dev/null")
	require.NoError(t, cmd.Wait(), "dd oflag=direct")
	got = read()
	ic := got.Containers[2].Counters
	require.Equal(t, HasDiskBytes|HasDiskOps, ic.Has&(HasDiskBytes|HasDiskOps))
	r, w := fileDisk(t, env.File(io, ioFile), env.V2, false)
	assert.Equal(t, [2]uint64{r, w}, [2]uint64{ic.DiskReadBytes, ic.DiskWriteBytes})
	assert.GreaterOrEqual(t, ic.DiskWriteBytes, uint64(2<<20), "the 2 MiB written")
	r, w = fileDisk(t, env.File(io, opsFile), env.V2, true)
	assert.Equal(t, [2]uint64{r, w}, [2]uint64{ic.DiskReadOps, ic.DiskWriteOps})
	assert.GreaterOrEqual(t, ic.DiskWriteOps, uint64(32))
	assert.GreaterOrEqual(t, got.Counters.DiskWriteBytes, ic.DiskWriteBytes, "the pod counts its containers' IO")

	// The cgroups go: their files are closed at the next read without them.
	require.Positive(t, f.OpenFiles())
	f.Read(nil, What{Counters: true})
	assert.Zero(t, f.OpenFiles())
}

// BenchmarkFilesRead is one scrape's reads of the cgroup files of a node of
// 110 pods × 3 containers made of real (empty) cgroups: the counters alone
// (the default metrics) and with the limits (a utilization metric on), with
// the files kept open and, for comparison, opened for each read.
func BenchmarkFilesRead(b *testing.B) {
	env := cgroupenv.New(b, "statssummary-filesbench")
	var refs []PodRef
	for i := range 110 {
		uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		pod := env.Root + "/pod" + uid
		names := []string{pod}
		ref := PodRef{UID: uid}
		for j := range 3 {
			id := fmt.Sprintf("%062x%02d", i, j)
			names = append(names, pod+"/"+id)
			ref.ContainerIDs = append(ref.ContainerIDs, id)
		}
		env.Make(names...)
		refs = append(refs, ref)
	}
	for _, bc := range []struct {
		name    string
		what    What
		maxOpen int
	}{
		{"counters", What{Counters: true}, 0},
		{"counters+limits", What{Counters: true, Limits: true}, 0},
		{"counters+limits/no-files-kept-open", What{Counters: true, Limits: true}, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := NewFiles(FilesOptions{PodsCgroup: env.Root, MaxOpen: bc.maxOpen})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(f.Close)
			f.Read(refs, bc.what) // the first read opens the files
			b.ReportAllocs()
			report := testkit.CPUPerOp(b)
			for b.Loop() {
				f.Read(refs, bc.what)
			}
			report()
			b.ReportMetric(float64(f.OpenFiles()), "open-files")
		})
	}
}
