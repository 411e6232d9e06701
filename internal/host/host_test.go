package host

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRlimit(t *testing.T) {
	tests := []struct {
		name                  string
		pidMax, threads, load string
		wantMax, wantCur      int64
		wantErr               string
	}{
		{"pid_max smaller", "32768\n", "192730\n", "0.93 1.11 0.62 2/89 27695\n", 32768, 89, ""},
		{"threads-max smaller", "4194304\n", "127000\n", "0.00 0.01 0.05 1/1200 99\n", 127000, 1200, ""},
		{"bad loadavg", "32768\n", "192730\n", "0.93 1.11\n", 0, 0, "loadavg"},
		{"bad pid_max", "lots\n", "192730\n", "0 0 0 1/2 3\n", 0, 0, "pid_max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := t.TempDir()
			writeFile(t, filepath.Join(proc, "sys/kernel/pid_max"), tt.pidMax)
			writeFile(t, filepath.Join(proc, "sys/kernel/threads-max"), tt.threads)
			writeFile(t, filepath.Join(proc, "loadavg"), tt.load)
			got, err := rlimit(os.ReadFile, proc, time.Now())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got.MaxPID != tt.wantMax || *got.NumOfRunningProcesses != tt.wantCur {
				t.Errorf("maxpid, curproc = %d, %d; want %d, %d", *got.MaxPID, *got.NumOfRunningProcesses, tt.wantMax, tt.wantCur)
			}
		})
	}
}

func TestNodeOnThisHost(t *testing.T) {
	p := New(Options{KubeletRootDir: filepath.Join(t.TempDir(), "not", "yet")})
	got, err := p.Node()
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	// Boot time: what /proc/stat says.
	data, _ := os.ReadFile("/proc/stat")
	var btime int64
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			btime, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if got.StartTime.Unix() != btime || btime == 0 {
		t.Errorf("start time = %d, /proc/stat btime = %d", got.StartTime.Unix(), btime)
	}
	// maxpid: min of the two kernel files.
	pm, _ := os.ReadFile("/proc/sys/kernel/pid_max")
	tm, _ := os.ReadFile("/proc/sys/kernel/threads-max")
	a, _ := strconv.ParseInt(strings.TrimSpace(string(pm)), 10, 64)
	b, _ := strconv.ParseInt(strings.TrimSpace(string(tm)), 10, 64)
	if *got.Rlimit.MaxPID != min(a, b) {
		t.Errorf("maxpid = %d, want min(%d, %d)", *got.Rlimit.MaxPID, a, b)
	}
	if *got.Rlimit.NumOfRunningProcesses <= 0 {
		t.Errorf("curproc = %d, want > 0", *got.Rlimit.NumOfRunningProcesses)
	}
	// Capacity: the online CPUs, as getconf counts them, and MemTotal.
	nproc, err := exec.Command("getconf", "_NPROCESSORS_ONLN").Output()
	if err != nil {
		t.Fatalf("getconf: %v", err)
	}
	cpus, _ := strconv.Atoi(strings.TrimSpace(string(nproc)))
	var memKB uint64
	mi, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.SplitSeq(string(mi), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" {
			memKB, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if got.Capacity.CPUs != cpus || cpus == 0 || got.Capacity.Memory != memKB*1024 || memKB == 0 {
		t.Errorf("capacity = %+v; getconf says %d online CPUs, /proc/meminfo %d kB", got.Capacity, cpus, memKB)
	}
	// Node fs: the missing dir's nearest parent is the temp dir; compare
	// with stat -f on it (total blocks, block size, total inodes).
	out, err := exec.Command("stat", "-f", "-c", "%b %S %c", os.TempDir()).Output()
	if err != nil {
		t.Fatalf("stat -f: %v", err)
	}
	f := strings.Fields(string(out))
	blocks, _ := strconv.ParseUint(f[0], 10, 64)
	bsize, _ := strconv.ParseUint(f[1], 10, 64)
	inodes, _ := strconv.ParseUint(f[2], 10, 64)
	if *got.Fs.CapacityBytes != blocks*bsize || *got.Fs.Inodes != inodes {
		t.Errorf("node fs capacity, inodes = %d, %d; stat -f says %d, %d", *got.Fs.CapacityBytes, *got.Fs.Inodes, blocks*bsize, inodes)
	}
}

func TestNodeReportsBadProcRoot(t *testing.T) {
	p := New(Options{ProcRoot: t.TempDir(), KubeletRootDir: t.TempDir()})
	got, err := p.Node()
	if err == nil || !strings.Contains(err.Error(), "stat") || !strings.Contains(err.Error(), "pid_max") {
		t.Fatalf("err = %v, want errors naming the missing stat and pid_max files", err)
	}
	if got.Fs == nil {
		t.Error("node fs lost because /proc files failed")
	}
}

// du runs du on path and returns (bytes, inodes).
func du(t *testing.T, path string) (uint64, uint64) {
	t.Helper()
	parse := func(args ...string) uint64 {
		out, err := exec.Command("du", append(args, path)...).Output()
		if err != nil {
			t.Fatalf("du %v: %v", args, err)
		}
		v, err := strconv.ParseUint(strings.Fields(string(out))[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return parse("-s", "-x", "-B1"), parse("-s", "-x", "--inodes")
}

// duFiles is the kubelet's container log usage of dir, told by du: the sum of
// du of each file directly in it (each on its own), one inode per file.
func duFiles(t *testing.T, dir string) (uint64, uint64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b, i uint64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		fb, _ := du(t, filepath.Join(dir, e.Name()))
		b += fb
		i++
	}
	return b, i
}

func TestWalkVolumesLogsEtcHosts(t *testing.T) {
	defer goleak.VerifyNone(t)
	root, logs := t.TempDir(), t.TempDir()
	uid := "11111111-2222-3333-4444-555555555555"
	pod := filepath.Join(root, "pods", uid)
	emptyDir := filepath.Join(pod, "volumes", "kubernetes.io~empty-dir", "cache")
	// An nfs volume not (yet) mounted: the directory that is there is walked;
	// it is not ephemeral storage.
	nfs := filepath.Join(pod, "volumes", "kubernetes.io~nfs", "share")
	writeFile(t, filepath.Join(emptyDir, "a"), strings.Repeat("x", 1<<20))
	writeFile(t, filepath.Join(emptyDir, "sub", "b"), strings.Repeat("y", 5000))
	if err := os.Link(filepath.Join(emptyDir, "a"), filepath.Join(emptyDir, "a-link")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(nfs, "d"), strings.Repeat("z", 70000))
	writeFile(t, filepath.Join(pod, "etc-hosts"), "127.0.0.1 localhost\n")
	logDir := filepath.Join(logs, "default_web_"+uid, "app")
	writeFile(t, filepath.Join(logDir, "0.log"), strings.Repeat("l", 300000))

	p := New(Options{KubeletRootDir: root, PodLogsDir: logs, WalkPeriod: time.Hour})
	if _, ok := p.Pod(uid); ok {
		t.Fatal("pod known before any walk")
	}
	p.Start()
	var got PodStats
	deadline := time.Now().Add(10 * time.Second)
	for ok := false; !ok; got, ok = p.Pod(uid) {
		if time.Now().After(deadline) {
			t.Fatal("walker never measured the pod")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()

	vols := map[string][2]uint64{}
	for _, v := range got.Volumes {
		vols[v.Name] = [2]uint64{*v.UsedBytes, *v.InodesUsed}
		if v.CapacityBytes == nil || *v.CapacityBytes == 0 {
			t.Errorf("volume %s: no capacity", v.Name)
		}
	}
	for name, path := range map[string]string{"cache": emptyDir, "share": nfs} {
		b, i := du(t, path)
		if vols[name] != [2]uint64{b, i} {
			t.Errorf("volume %s used bytes, inodes = %v; du says %d, %d", name, vols[name], b, i)
		}
	}
	if want := map[string]string{"cache": "emptyDir", "share": "nfs"}; !maps.Equal(got.VolumeTypes, want) {
		t.Errorf("volume types = %v, want %v (from the plugin directories)", got.VolumeTypes, want)
	}
	eb, ei := du(t, emptyDir)
	if got.EphemeralVolumeBytes != eb || got.EphemeralVolumeInodes != ei {
		t.Errorf("ephemeral volumes = %d B, %d inodes; du of the emptyDir alone says %d, %d (nfs is not ephemeral)",
			got.EphemeralVolumeBytes, got.EphemeralVolumeInodes, eb, ei)
	}
	lb, li := duFiles(t, logDir)
	if l := got.Logs["app"]; l == nil || *l.UsedBytes != lb || *l.InodesUsed != li {
		t.Errorf("logs of app = %+v; du of its files says %d, %d", l, lb, li)
	}
	hb, _ := du(t, filepath.Join(pod, "etc-hosts"))
	if got.EtcHostsBytes != hb {
		t.Errorf("etc-hosts = %d, du says %d", got.EtcHostsBytes, hb)
	}
}

func TestWalkCancelledKeepsLastResults(t *testing.T) {
	root := t.TempDir()
	uid := "aaaaaaaa-0000-0000-0000-000000000001"
	writeFile(t, filepath.Join(root, "pods", uid, "volumes", "kubernetes.io~empty-dir", "v", "f"), "data")
	p := New(Options{KubeletRootDir: root, PodLogsDir: t.TempDir()})
	if err := p.Walk(t.Context()); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(root, "pods", uid)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Walk(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Walk with a cancelled context = %v, want context.Canceled", err)
	}
	if got, _ := p.Pod(uid); len(got.Volumes) != 1 {
		t.Errorf("an interrupted walk dropped the last results: %+v", got)
	}
	if err := p.Walk(t.Context()); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if got, _ := p.Pod(uid); len(got.Volumes) != 0 {
		t.Errorf("a completed walk kept a removed pod's volumes: %+v", got.Volumes)
	}
}

func TestPodUnknownUntilFirstWalk(t *testing.T) {
	p := New(Options{KubeletRootDir: t.TempDir(), PodLogsDir: t.TempDir()})
	if _, ok := p.Pod("any"); ok {
		t.Fatal("a pod is known before any walk")
	}
	if err := p.Walk(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, ok := p.Pod("absent")
	if !ok || got.Time.IsZero() || got.EphemeralVolumeBytes != 0 || len(got.Volumes) != 0 {
		t.Errorf("pod the walk did not find = %+v, %v; want zero usage at the walk time", got, ok)
	}
}

// Logs are walked on their own period: a log written after the first walk is
// measured within LogWalkPeriod, while volumes wait for WalkPeriod.
func TestLogsWalkedOnTheirOwnPeriod(t *testing.T) {
	defer goleak.VerifyNone(t)
	root, logs := t.TempDir(), t.TempDir()
	uid := "11111111-2222-3333-4444-666666666666"
	writeFile(t, filepath.Join(root, "pods", uid, "etc-hosts"), "127.0.0.1 localhost\n")
	p := New(Options{KubeletRootDir: root, PodLogsDir: logs, WalkPeriod: time.Hour, LogWalkPeriod: 20 * time.Millisecond})
	p.Start()
	defer p.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for _, ok := p.Pod(uid); !ok; _, ok = p.Pod(uid) {
		if time.Now().After(deadline) {
			t.Fatal("walker never measured the pod")
		}
		time.Sleep(10 * time.Millisecond)
	}
	logDir := filepath.Join(logs, "default_web_"+uid, "app")
	writeFile(t, filepath.Join(logDir, "0.log"), strings.Repeat("l", 300000))
	lb, li := duFiles(t, logDir)
	for {
		got, _ := p.Pod(uid)
		if l := got.Logs["app"]; l != nil && *l.UsedBytes == lb && *l.InodesUsed == li {
			if got.EtcHostsBytes == 0 {
				t.Error("etc-hosts lost when the logs were walked")
			}
			if l.CapacityBytes == nil || *l.CapacityBytes == 0 {
				t.Error("logs without the capacity of their filesystem")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of app = %+v after 10 s; du says %d, %d", got.Logs["app"], lb, li)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The boot time is read once it can be, and kept: /proc/stat's btime moves
// with clock adjustments, the node's start time does not.
func TestNodeBootTimeReadOnce(t *testing.T) {
	proc := t.TempDir()
	p := New(Options{ProcRoot: proc, KubeletRootDir: t.TempDir()})
	if _, err := p.Node(); err == nil || !strings.Contains(err.Error(), "stat") {
		t.Fatalf("without /proc/stat: err = %v, want one naming it", err)
	}
	write := func(btime string) {
		if err := os.WriteFile(filepath.Join(proc, "stat"), []byte("cpu  1 2 3\nbtime "+btime+"\nprocesses 9\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1700000000")
	got, _ := p.Node()
	if got.StartTime.Unix() != 1700000000 {
		t.Fatalf("start time = %d, want 1700000000", got.StartTime.Unix())
	}
	write("1700000001")
	if got, _ := p.Node(); got.StartTime.Unix() != 1700000000 {
		t.Errorf("start time after btime moved = %d, want the first reading 1700000000", got.StartTime.Unix())
	}
}

// TestContainerLogUsageCountsFilesNotTheDirectory (issue 13, item 4): the
// kubelet reports a one-line container log as the log file's own blocks and
// one inode (4096 bytes and 1 inode on ext4); the walker used to add the
// container's log directory itself (8192 and 2). Files directly in the
// container directory count, each rotated file too; a subdirectory does not;
// files directly in the pod's log directory are the pod's own log usage.
func TestContainerLogUsageCountsFilesNotTheDirectory(t *testing.T) {
	logs := t.TempDir()
	uid := "11111111-2222-3333-4444-777777777777"
	podDir := filepath.Join(logs, "shop_web_"+uid)
	oneLine := filepath.Join(podDir, "app", "0.log")
	writeFile(t, oneLine, "2026-12-01T10:00:00.000000000Z stdout F hello\n")
	sidecar := filepath.Join(podDir, "sidecar")
	writeFile(t, filepath.Join(sidecar, "0.log"), strings.Repeat("a", 10000))
	writeFile(t, filepath.Join(sidecar, "0.log.20261201-100000"), strings.Repeat("b", 70000))
	writeFile(t, filepath.Join(sidecar, "nested", "x.log"), strings.Repeat("c", 50000)) // not counted
	writeFile(t, filepath.Join(podDir, "pod.log"), strings.Repeat("p", 5000))           // the pod's own

	p := New(Options{KubeletRootDir: t.TempDir(), PodLogsDir: logs})
	if err := p.Walk(t.Context()); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	got, ok := p.Pod(uid)
	if !ok {
		t.Fatal("pod unknown after a walk")
	}

	// The one-line log: what stat says of the file alone, one inode.
	out, err := exec.Command("stat", "-c", "%b %B", oneLine).Output()
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	f := strings.Fields(string(out))
	blocks, _ := strconv.ParseUint(f[0], 10, 64)
	unit, _ := strconv.ParseUint(f[1], 10, 64)
	app := got.Logs["app"]
	if app == nil || *app.UsedBytes != blocks*unit || *app.InodesUsed != 1 {
		t.Fatalf("logs of app = %s; want %d bytes (stat of the file) and 1 inode, as the kubelet", used(app), blocks*unit)
	}
	if dirBytes, dirInodes := du(t, filepath.Dir(oneLine)); *app.UsedBytes == dirBytes || dirInodes != 2 {
		t.Errorf("app's logs = %d bytes; du of the directory says %d (%d inodes): the directory is counted", *app.UsedBytes, dirBytes, dirInodes)
	}

	b1, _ := du(t, filepath.Join(sidecar, "0.log"))
	b2, _ := du(t, filepath.Join(sidecar, "0.log.20261201-100000"))
	if l := got.Logs["sidecar"]; l == nil || *l.UsedBytes != b1+b2 || *l.InodesUsed != 2 {
		t.Errorf("logs of sidecar = %s; want the two files: %d bytes, 2 inodes (not the nested directory)", used(l), b1+b2)
	}
	pb, _ := du(t, filepath.Join(podDir, "pod.log"))
	if got.PodLogBytes != pb || got.PodLogInodes != 1 {
		t.Errorf("pod log files = %d bytes, %d inodes; want pod.log alone: %d, 1", got.PodLogBytes, got.PodLogInodes, pb)
	}
}

// used shows an FsStats' used bytes and inodes.
func used(fs *statsapi.FsStats) string {
	if fs == nil || fs.UsedBytes == nil || fs.InodesUsed == nil {
		return fmt.Sprintf("%+v", fs)
	}
	return fmt.Sprintf("%d bytes, %d inodes", *fs.UsedBytes, *fs.InodesUsed)
}

func TestCountCPUs(t *testing.T) {
	for _, tt := range []struct {
		list string
		want int
		bad  bool
	}{
		{"0", 1, false}, {"0-1", 2, false}, {"0-3,6,8-9", 7, false}, {"", 0, true}, {"3-1", 0, true}, {"a", 0, true},
	} {
		got, err := countCPUs(tt.list)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("countCPUs(%q) = %d, %v; want %d (error %v)", tt.list, got, err, tt.want, tt.bad)
		}
	}
}

// openUnder counts this process's descriptors open on files under dir.
func openUnder(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}

// TestNodeReadsPidLimitsThroughKeptFiles: Node keeps the three files of the
// pid limits open between calls, reads each call's values through them (a
// file rewritten in place is read as it is now), and Stop closes them.
func TestNodeReadsPidLimitsThroughKeptFiles(t *testing.T) {
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "stat"), "cpu  1 2 3\nbtime 1700000000\n")
	writeFile(t, filepath.Join(proc, "meminfo"), "MemTotal:       16384000 kB\n")
	writeFile(t, filepath.Join(proc, "sys/kernel/pid_max"), "32768\n")
	writeFile(t, filepath.Join(proc, "sys/kernel/threads-max"), "63000\n")
	writeFile(t, filepath.Join(proc, "loadavg"), "0.10 0.20 0.30 2/300 4242\n")
	p := New(Options{ProcRoot: proc, KubeletRootDir: t.TempDir(), PodLogsDir: t.TempDir()})

	got, _ := p.Node()
	if got.Rlimit == nil || *got.Rlimit.MaxPID != 32768 || *got.Rlimit.NumOfRunningProcesses != 300 {
		t.Fatalf("rlimit = %+v, want maxpid 32768, curproc 300", got.Rlimit)
	}
	if n := openUnder(t, proc); n != 3 {
		t.Fatalf("%d descriptors open under the proc root after Node, want the 3 kept", n)
	}

	writeFile(t, filepath.Join(proc, "sys/kernel/pid_max"), "4194304\n")
	writeFile(t, filepath.Join(proc, "loadavg"), "0.10 0.20 0.30 7/1234 4242\n")
	got, _ = p.Node()
	if got.Rlimit == nil || *got.Rlimit.MaxPID != 63000 || *got.Rlimit.NumOfRunningProcesses != 1234 {
		t.Fatalf("rlimit = %+v, want the files as they are now: maxpid 63000 (threads-max), curproc 1234", got.Rlimit)
	}
	if n := openUnder(t, proc); n != 3 {
		t.Fatalf("%d descriptors open under the proc root after a second Node, want the same 3", n)
	}

	p.Stop()
	if n := openUnder(t, proc); n != 0 {
		t.Fatalf("%d descriptors still open under the proc root after Stop", n)
	}
}
