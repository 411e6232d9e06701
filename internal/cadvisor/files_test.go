package cadvisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeLayout is a directory tree laid out as cgroupfs is, for the parsing
// edge cases that real cgroups on this host cannot show (the other cgroup
// version, sentinel values, a missing controller). What the kernel writes is
// covered against real cgroups in files_cgroup_test.go.
type fakeLayout struct {
	t      *testing.T
	mounts map[string]string
	v2     bool
}

func newFakeLayout(t *testing.T, v2 bool) *fakeLayout {
	root := t.TempDir()
	l := &fakeLayout{t: t, v2: v2, mounts: map[string]string{}}
	ctrls := []string{"cpu", "memory", "blkio"}
	if v2 {
		ctrls = []string{""}
	}
	for _, c := range ctrls {
		l.mounts[c] = filepath.Join(root, c)
		require.NoError(t, os.MkdirAll(l.mounts[c], 0o755))
	}
	return l
}

// write writes files (name → contents) of cgroup name in the hierarchy of
// each file's controller, making the cgroup's directory in every hierarchy.
func (l *fakeLayout) write(name string, files map[string]string) {
	for _, m := range l.mounts {
		require.NoError(l.t, os.MkdirAll(filepath.Join(m, name), 0o755))
	}
	for f, contents := range files {
		ctrl := ""
		if !l.v2 {
			ctrl = strings.SplitN(f, ".", 2)[0]
		}
		require.NoError(l.t, os.WriteFile(filepath.Join(l.mounts[ctrl], name, f), []byte(contents), 0o644))
	}
}

func (l *fakeLayout) files(maxOpen int) *Files {
	f, err := NewFiles(FilesOptions{PodsCgroup: "/kubepods", Mounts: l.mounts, V2: l.v2, MaxOpen: maxOpen})
	require.NoError(l.t, err)
	l.t.Cleanup(f.Close)
	return f
}

const (
	fakeUID = "11111111-2222-3333-4444-555555555555"
	fakeID  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestFilesCgroupV1(t *testing.T) {
	l := newFakeLayout(t, false)
	pod := "/kubepods/burstable/pod" + fakeUID
	l.write(pod, map[string]string{
		"cpu.stat":           "nr_periods 40\nnr_throttled 7\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
		"memory.failcnt":     "5\n",
		// Two devices: summed; Sync, Async, Discard and Total left out.
		"blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\n" +
			"254:0 Read 1000\n254:0 Write 2000\n254:0 Total 3000\nTotal 15288\n",
		// No device line: nothing was counted, which is not zero IO.
		"blkio.throttle.io_serviced_recursive": "Total 0\n",
	})
	l.write(pod+"/"+fakeID, map[string]string{
		"cpu.cfs_quota_us":      "50000\n",
		"cpu.cfs_period_us":     "100000\n",
		"cpu.shares":            "512\n",
		"memory.limit_in_bytes": "268435456\n",
		"cpu.stat":              "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
	})
	f := l.files(0)
	got := f.Read([]PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID, "feedfacefeedface"}}}, What{Limits: true, Counters: true})
	require.Len(t, got, 1)
	p := got[0]
	require.True(t, p.Found)
	assert.Equal(t, CgroupCounters{
		Has:        HasThrottling | HasMemoryOOMKill | HasMemoryMax | HasDiskBytes,
		CPUPeriods: 40, CPUThrottledPeriods: 7, CPUThrottledTime: 123456789,
		MemoryOOMKill: 2, MemoryMax: 5,
		DiskReadBytes: 5096, DiskWriteBytes: 10192,
	}, p.Counters)
	require.Len(t, p.Containers, 2)
	c := p.Containers[0]
	require.True(t, c.Found)
	assert.Equal(t, CgroupLimits{Known: true, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512, MemoryLimit: 256 << 20}, c.Limits)
	// The container's memory and blkio files are missing: left out.
	assert.Equal(t, CgroupCounters{Has: HasThrottling}, c.Counters)
	assert.False(t, p.Containers[1].Found, "a container without a cgroup")

	t.Run("no limits", func(t *testing.T) {
		l.write(pod+"/"+fakeID, map[string]string{
			"cpu.cfs_quota_us":      "-1\n",
			"memory.limit_in_bytes": "9223372036854771712\n", // v1's unlimited with 4 KiB pages
			"cpu.shares":            "2\n",
		})
		got := f.Read([]PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID}}}, What{Limits: true})
		assert.Equal(t, CgroupLimits{Known: true, CPUPeriod: 100000, CPUShares: 2}, got[0].Containers[0].Limits)
		assert.Zero(t, got[0].Counters, "counters not asked for")
	})
	t.Run("unknown pod", func(t *testing.T) {
		got := f.Read([]PodRef{{UID: "99999999-2222-3333-4444-555555555555", ContainerIDs: []string{fakeID}}}, What{Counters: true})
		assert.False(t, got[0].Found)
		assert.False(t, got[0].Containers[0].Found)
	})
}

func TestFilesCgroupV2(t *testing.T) {
	l := newFakeLayout(t, true)
	// The systemd driver's names: the pod's slice, the container's scope.
	pod := "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(fakeUID, "-", "_") + ".slice"
	ctr := pod + "/cri-containerd-" + fakeID + ".scope"
	l.write("/kubepods.slice", nil)
	l.write(pod, map[string]string{
		"cpu.stat":      "usage_usec 100\nuser_usec 50\nsystem_usec 50\nnr_periods 10\nnr_throttled 3\nthrottled_usec 2500\nnr_bursts 0\nburst_usec 0\n",
		"memory.events": "low 0\nhigh 4\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n",
		"io.stat":       "254:0 rbytes=1000 wbytes=2000 rios=3 wios=4 dbytes=0 dios=0\n8:16 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	l.write(ctr, map[string]string{
		"cpu.max":    "max 100000\n",
		"cpu.weight": "39\n",
		"memory.max": "max\n",
		// No IO yet: io.stat is empty, which is zero on cgroup v2.
		"io.stat": "",
		// No quota: the periods are never counted.
		"cpu.stat": "usage_usec 100\nuser_usec 50\nsystem_usec 50\n",
	})
	f, err := NewFiles(FilesOptions{PodsCgroup: "/kubepods.slice", Mounts: l.mounts, V2: true})
	require.NoError(t, err)
	t.Cleanup(f.Close)
	got := f.Read([]PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID}}}, What{Limits: true, Counters: true})
	p := got[0]
	require.True(t, p.Found)
	assert.Equal(t, CgroupCounters{
		Has:        HasThrottling | HasMemoryOOM | HasMemoryOOMKill | HasMemoryMax | HasMemoryHigh | HasDiskBytes | HasDiskOps,
		CPUPeriods: 10, CPUThrottledPeriods: 3, CPUThrottledTime: 2_500_000,
		MemoryOOM: 1, MemoryOOMKill: 1, MemoryMax: 9, MemoryHigh: 4,
		DiskReadBytes: 1010, DiskWriteBytes: 2020, DiskReadOps: 4, DiskWriteOps: 6,
	}, p.Counters)
	c := p.Containers[0]
	require.True(t, c.Found)
	assert.Equal(t, CgroupLimits{Known: true, CPUPeriod: 100000, CPUWeight: 39}, c.Limits)
	assert.Equal(t, CgroupCounters{Has: HasDiskBytes | HasDiskOps}, c.Counters, "no memory.events: left out; empty io.stat: zero")

	l.write(ctr, map[string]string{"cpu.max": "25000 50000\n", "memory.max": "1073741824\n"})
	got = f.Read([]PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID}}}, What{Limits: true})
	assert.Equal(t, CgroupLimits{Known: true, CPUQuota: 25000, CPUPeriod: 50000, CPUWeight: 39, MemoryLimit: 1 << 30}, got[0].Containers[0].Limits,
		"a file kept open is read afresh")

	l.write(ctr, map[string]string{"cpu.max": "garbage\n"})
	got = f.Read([]PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID}}}, What{Limits: true})
	assert.False(t, got[0].Containers[0].Limits.Known, "a limit file that does not parse")
}

// TestFilesOpenFiles: files stay open while their cgroup is read, up to the
// cap, and are closed once it is not.
func TestFilesOpenFiles(t *testing.T) {
	l := newFakeLayout(t, true)
	pod := "/kubepods/pod" + fakeUID
	files := map[string]string{"cpu.stat": "nr_periods 1\nnr_throttled 0\nthrottled_usec 0\n", "memory.events": "oom 0\n", "io.stat": ""}
	l.write(pod, files)
	l.write(pod+"/"+fakeID, files)
	both := []PodRef{{UID: fakeUID, ContainerIDs: []string{fakeID}}}

	f := l.files(0)
	f.Read(both, What{Counters: true})
	assert.Equal(t, 6, f.OpenFiles(), "three counter files of the pod and of its container")
	f.Read([]PodRef{{UID: fakeUID}}, What{Counters: true})
	assert.Equal(t, 3, f.OpenFiles(), "the container's closed once it is not read")
	f.Read(nil, What{Counters: true})
	assert.Zero(t, f.OpenFiles(), "nothing read, nothing open")

	capped := l.files(4)
	got := capped.Read(both, What{Counters: true})
	assert.Equal(t, 4, capped.OpenFiles(), "the cap")
	assert.Equal(t, uint64(1), got[0].Containers[0].Counters.CPUPeriods, "a file beyond the cap is still read")

	none := l.files(-1)
	none.Read(both, What{Counters: true})
	assert.Zero(t, none.OpenFiles())
}
