package cadvisor

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testCgroup is a cgroup made by a test in every mounted v1 hierarchy the
// provider reads (or the unified one on a v2 host), removed on cleanup.
type testCgroup struct {
	name  string   // cgroup name, e.g. /statssummary-test-123/pod<uid>
	dirs  []string // its directory in each hierarchy
	mount map[string]string
}

func (c *testCgroup) file(controller, f string) string {
	return filepath.Join(c.mount[controller], c.name, f)
}

func readUint(t *testing.T, file string) uint64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return v
}

func readStat(t *testing.T, file, key string) uint64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s %s: %v", file, key, err)
			}
			return v
		}
	}
	t.Fatalf("%s: no %s", file, key)
	return 0
}

// makeCgroups creates names (parents first) in every hierarchy of mounts and
// removes them (children first) on cleanup.
func makeCgroups(t testing.TB, mounts map[string]string, names ...string) []*testCgroup {
	t.Helper()
	seen := map[string]bool{}
	var out []*testCgroup
	for _, name := range names {
		c := &testCgroup{name: name, mount: mounts}
		for _, m := range mounts {
			if seen[m+name] {
				continue
			}
			seen[m+name] = true
			dir := filepath.Join(m, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatalf("create cgroup: %v", err)
			}
			c.dirs = append(c.dirs, dir)
			t.Cleanup(func() {
				// A cgroup can be removed only once its tasks have gone.
				deadline := time.Now().Add(5 * time.Second)
				for {
					err := os.Remove(dir)
					if err == nil || os.IsNotExist(err) {
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("remove cgroup %s: %v", dir, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		out = append(out, c)
	}
	return out
}

// taskMounts are the hierarchies p reads in which a test cgroup can take a
// task at once: all but cpuset, which needs cpus and mems first.
func taskMounts(p *Provider) map[string]string {
	mounts := map[string]string{}
	for ctrl, m := range p.subsystems {
		if ctrl != "cpuset" {
			mounts[ctrl] = m
		}
	}
	return mounts
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func between(v, a, b uint64) bool {
	if a > b {
		a, b = b, a
	}
	return v >= a && v <= b
}

// TestProviderReadsRealCgroups runs a busy process holding ~32 MiB in a
// container cgroup inside a pod cgroup made under a test prefix, and checks
// the provider's pod and container samples against the cgroup files.
func TestProviderReadsRealCgroups(t *testing.T) {
	p, err := New(Options{TrackContainers: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	root := fmt.Sprintf("/statssummary-test-%d", os.Getpid())
	uid := "5b4a39c2-7a1e-4c55-9a0b-2f0f1c3d4e5f"
	cid := "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	podName, cName := root+"/pod"+uid, root+"/pod"+uid+"/"+cid
	mounts := taskMounts(p)
	cgs := makeCgroups(t, mounts, root, podName, cName)
	pod, ctr := cgs[1], cgs[2]
	p.opts.PodsCgroup = root
	p.opts.SystemCgroups = map[string]string{"kubelet": root}

	// In a network namespace of its own with a veth pair (eth0, v1), the
	// shell waits on stdin until it has joined the cgroup, then holds 32 MiB
	// in a variable and spins.
	cmd := exec.Command("unshare", "-n", "sh", "-c",
		`ip link add eth0 type veth peer name v1 && ip link set eth0 up && ip link set v1 up || exit 1
		read _; x=$(head -c 33554432 /dev/zero | tr '\0' a); while :; do :; done`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start busy process: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	const podLimit = 512 << 20
	if err := os.WriteFile(pod.file("memory", "memory.limit_in_bytes"), []byte(strconv.Itoa(podLimit)), 0o644); err != nil {
		t.Fatalf("set the pod's memory limit: %v", err)
	}
	for _, dir := range ctr.dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0o644); err != nil {
			t.Fatalf("join %s: %v", dir, err)
		}
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}

	cpuFile, memFile, statFile := "cpuacct.usage", "memory.usage_in_bytes", "memory.stat"
	cpuCtrl := "cpuacct"
	waitFor(t, "the busy process to use CPU and memory", func() bool {
		return readUint(t, pod.file(cpuCtrl, cpuFile)) > 50e6 && readStat(t, pod.file("memory", statFile), "total_rss") > 30<<20
	})

	// Two housekeepings while it runs give a CPU rate.
	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	first := readUint(t, pod.file(cpuCtrl, cpuFile))
	waitFor(t, "more CPU time", func() bool { return readUint(t, pod.file(cpuCtrl, cpuFile)) > first+20e6 })
	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if s := p.Snapshot().Pods[uid]; s == nil || s.CPU == nil || s.CPU.UsageNanoCores == nil || *s.CPU.UsageNanoCores == 0 {
		t.Fatalf("pod nano cores missing or zero while busy: %+v", s)
	}

	// Stopped, its counters hold still: compare with the files read around
	// one more housekeeping.
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to stop", func() bool {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		return err == nil && strings.Fields(string(b)[strings.LastIndex(string(b), ")")+1:])[0] == "T"
	})
	type reading struct{ cpu, usage, ws, rss, pgfault uint64 }
	read := func(c *testCgroup) reading {
		usage := readUint(t, c.file("memory", memFile))
		inactive := readStat(t, c.file("memory", statFile), "total_inactive_file")
		return reading{
			cpu:     readUint(t, c.file(cpuCtrl, cpuFile)),
			usage:   usage,
			ws:      usage - min(usage, inactive),
			rss:     readStat(t, c.file("memory", statFile), "total_rss"),
			pgfault: readStat(t, c.file("memory", statFile), "pgfault"),
		}
	}
	podBefore, ctrBefore, netBefore := read(pod), read(ctr), ipLinkStats(t, pid)
	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	podAfter, ctrAfter, netAfter := read(pod), read(ctr), ipLinkStats(t, pid)
	snap := p.Snapshot()

	// Pod network: the namespace's interfaces but lo, eth0 flattened, each
	// counter between what ip -s link said before and after.
	n := snap.Pods[uid].Network
	if n == nil || n.Name != "eth0" || len(n.Interfaces) != 2 {
		t.Fatalf("pod network = %+v, want eth0 flattened and two interfaces (eth0, v1)", n)
	}
	for _, i := range n.Interfaces {
		b, a := netBefore[i.Name], netAfter[i.Name]
		if !between(*i.RxBytes, b[0], a[0]) || !between(*i.TxBytes, b[1], a[1]) {
			t.Errorf("pod interface %s rx, tx = %d, %d; ip -s link said %v then %v", i.Name, *i.RxBytes, *i.TxBytes, b, a)
		}
	}
	// Available memory: the limit the test set minus the working set; none
	// for the container, which has no limit of its own.
	if m := snap.Pods[uid].Memory; m.AvailableBytes == nil || *m.AvailableBytes != podLimit-*m.WorkingSetBytes {
		t.Errorf("pod available bytes = %v, want %d - working set %d", m.AvailableBytes, podLimit, *m.WorkingSetBytes)
	}
	if m := snap.Containers[cid].Memory; m.AvailableBytes != nil {
		t.Errorf("container without a limit has available bytes %d", *m.AvailableBytes)
	}
	// Processes: the pod cgroup counts those of its container cgroups.
	if got, want := snap.Pods[uid].Process, readProcs(t, ctr); got == nil || *got.ProcessCount != want {
		t.Errorf("pod process count = %+v, want %d from the container's cgroup.procs", got, want)
	}

	check := func(what string, got *CgroupStats, before, after reading) {
		t.Helper()
		if got == nil || got.CPU == nil || got.Memory == nil {
			t.Fatalf("%s: no sample: %+v", what, got)
		}
		for _, f := range []struct {
			name          string
			got           uint64
			before, after uint64
		}{
			{"cpu usageCoreNanoSeconds vs cpuacct.usage", *got.CPU.UsageCoreNanoSeconds, before.cpu, after.cpu},
			{"memory usageBytes vs memory.usage_in_bytes", *got.Memory.UsageBytes, before.usage, after.usage},
			{"memory workingSetBytes vs usage - total_inactive_file", *got.Memory.WorkingSetBytes, before.ws, after.ws},
			{"memory rssBytes vs total_rss", *got.Memory.RSSBytes, before.rss, after.rss},
			{"memory pageFaults vs pgfault", *got.Memory.PageFaults, before.pgfault, after.pgfault},
		} {
			if !between(f.got, f.before, f.after) {
				t.Errorf("%s: %s = %d, files said %d then %d", what, f.name, f.got, f.before, f.after)
			}
		}
	}
	// The test root as the kubelet system container: its CPU is the
	// hierarchy's, its start the oldest mtime of its directories.
	kubelet := snap.System["kubelet"]
	rootCg := cgs[0]
	if kubelet == nil || !between(*kubelet.CPU.UsageCoreNanoSeconds, readUint(t, rootCg.file(cpuCtrl, cpuFile)), podAfter.cpu) {
		t.Errorf("kubelet system container = %+v, want the test root's cpuacct.usage", kubelet)
	}
	var oldest time.Time
	for _, dir := range rootCg.dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if oldest.IsZero() || fi.ModTime().Before(oldest) {
			oldest = fi.ModTime()
		}
	}
	if kubelet != nil && !kubelet.StartTime.Equal(oldest) {
		t.Errorf("kubelet start = %v, want the oldest cgroup directory mtime %v", kubelet.StartTime, oldest)
	}
	check("pod", snap.Pods[uid], podBefore, podAfter)
	check("container", snap.Containers[cid], ctrBefore, ctrAfter)
	if c, want := snap.Containers[cid], readProcs(t, ctr); c.Process == nil || *c.Process.ProcessCount != want || want != 1 {
		t.Errorf("container process count = %+v, cgroup.procs lists %d, want 1 (the busy shell)", c.Process, want)
	}
	if snap.Pods[uid].Cgroup != podName {
		t.Errorf("pod cgroup = %q, want %q", snap.Pods[uid].Cgroup, podName)
	}
}

// TestProviderCurrent: Start takes the first snapshot; Current keeps one
// younger than maxAge and takes a new one otherwise, concurrent callers share
// it; after Stop nothing is read any more and no goroutine is left.
func TestProviderCurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	p, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.Start()
	first := p.Snapshot().Time
	if first.IsZero() || p.Snapshot().Node == nil {
		t.Fatal("no snapshot after Start")
	}
	if got := p.Current(time.Hour).Time; !got.Equal(first) {
		t.Errorf("Current(1h) took a new snapshot at %v (first %v)", got, first)
	}
	// Callers that queue while housekeeping is held up share the next one.
	var waiting sync.WaitGroup
	waiting.Add(4)
	p.beforeWait = waiting.Done
	p.refreshMu.Lock()
	var wg sync.WaitGroup
	times := make([]time.Time, 4)
	for i := range times {
		wg.Go(func() { times[i] = p.Current(0).Time })
	}
	waiting.Wait()
	p.refreshMu.Unlock()
	wg.Wait()
	p.beforeWait = nil
	for _, ts := range times {
		if !ts.After(first) || !ts.Equal(times[0]) {
			t.Errorf("concurrent Current times = %v, want one new snapshot after %v", times, first)
			break
		}
	}
	p.Stop()
	p.Stop() // idempotent
	last := p.Snapshot().Time
	waitFor(t, "time to pass", func() bool { return time.Since(last) > time.Millisecond })
	if got := p.Current(0).Time; !got.Equal(last) {
		t.Errorf("Current after Stop took a new snapshot")
	}
}

// readProcs counts the processes in a test cgroup's cgroup.procs (cpu).
func readProcs(t *testing.T, c *testCgroup) uint64 {
	t.Helper()
	b, err := os.ReadFile(c.file("cpu", "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	return uint64(len(strings.Fields(string(b))))
}

// ipLinkStats asks ip -s link, inside pid's network namespace, for each
// interface's rx and tx bytes.
func ipLinkStats(t *testing.T, pid string) map[string][2]uint64 {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", pid, "-n", "ip", "-s", "-j", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip -s link in the pod's netns: %v", err)
	}
	var links []struct {
		Name  string `json:"ifname"`
		Stats struct {
			Rx struct{ Bytes uint64 } `json:"rx"`
			Tx struct{ Bytes uint64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("parse ip -j: %v", err)
	}
	m := map[string][2]uint64{}
	for _, l := range links {
		m[l.Name] = [2]uint64{l.Stats.Rx.Bytes, l.Stats.Tx.Bytes}
	}
	return m
}

// TestProviderPodFilter: pods the filter leaves out are not read (absent from
// the snapshot) but stay tracked, so a pod read again has its CPU baseline;
// ReadUnreadPods reads them at once; a nil filter reads every pod.
func TestProviderPodFilter(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mounts := taskMounts(p)
	root := fmt.Sprintf("/statssummary-filter-%d", os.Getpid())
	uids := []string{"11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002"}
	makeCgroups(t, mounts, root, root+"/pod"+uids[0], root+"/pod"+uids[1])
	p.opts.PodsCgroup = root

	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if n := len(p.Snapshot().Pods); n != 2 {
		t.Fatalf("without a filter %d pods read, want 2", n)
	}
	handlers := len(p.handlers)

	p.SetPodFilter(func(uid string) bool { return uid == uids[0] })
	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	snap := p.Snapshot()
	if _, ok := snap.Pods[uids[0]]; !ok || len(snap.Pods) != 1 {
		t.Fatalf("filtered snapshot pods = %v, want only %s", keys(snap.Pods), uids[0])
	}
	if len(p.handlers) != handlers {
		t.Errorf("handlers %d → %d: the unread pod must stay tracked", handlers, len(p.handlers))
	}
	if _, ok := p.prev[root+"/pod"+uids[1]]; !ok {
		t.Error("the unread pod lost its CPU baseline")
	}

	// ReadUnreadPods reads the pod the filter left out, now, into the latest
	// snapshot, and keeps the one already read as it was.
	readPod := snap.Pods[uids[0]]
	now := p.ReadUnreadPods()
	if len(now.Pods) != 2 || now.Pods[uids[0]] != readPod || now.Pods[uids[1]] == nil {
		t.Fatalf("after ReadUnreadPods pods = %v, want both, %s unchanged", keys(now.Pods), uids[0])
	}
	if len(snap.Pods) != 1 {
		t.Error("ReadUnreadPods changed the snapshot a caller already held")
	}
	if got := p.Snapshot(); len(got.Pods) != 2 || !got.Time.Equal(snap.Time) {
		t.Errorf("latest snapshot after ReadUnreadPods: %d pods at %v, want 2 at %v", len(got.Pods), got.Time, snap.Time)
	}

	p.SetPodFilter(nil)
	if err := p.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if n := len(p.Snapshot().Pods); n != 2 {
		t.Errorf("after the filter is cleared %d pods read, want 2", n)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fakeProc is a proc root with this host's meminfo and the given processes
// (pid → comm and cgroup file).
func fakeProc(t *testing.T, procs map[string][2]string) string {
	t.Helper()
	proc := t.TempDir()
	mi, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"meminfo": string(mi)}
	for pid, p := range procs {
		files[pid+"/comm"], files[pid+"/cgroup"] = p[0]+"\n", p[1]
	}
	for name, content := range files {
		path := filepath.Join(proc, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proc
}

// TestSystemContainersSayWhyNotReported (issue 14, defect 10): for each
// system container the provider says whether it is reported, from which
// cgroup, and why not: a runtime process in the root cgroup (as the demo
// containerd of `make run` here), no runtime process, no cgroup configured,
// a configured cgroup that does not exist.
func TestSystemContainersSayWhyNotReported(t *testing.T) {
	probe, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mounts := taskMounts(probe)
	root := fmt.Sprintf("/statssummary-syscg-%d", os.Getpid())
	makeCgroups(t, mounts, root, root+"/kubelet", root+"/kubepods")
	missing := root + "/no-such-cgroup"

	status := func(p *Provider) map[string]SystemContainerStatus {
		out := map[string]SystemContainerStatus{}
		for _, s := range p.SystemContainers() {
			out[s.Name] = s
		}
		return out
	}

	t.Run("runtime in the root cgroup, misc missing", func(t *testing.T) {
		proc := fakeProc(t, map[string][2]string{"812": {"containerd", "4:cpu,cpuacct:/\n0::/\n"}})
		p, err := New(Options{
			ProcRoot:      proc,
			PodsCgroup:    root + "/kubepods",
			SystemCgroups: map[string]string{"kubelet": root + "/kubelet", "misc": missing},
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		p.Start()
		got := status(p)
		want := map[string]SystemContainerStatus{
			"kubelet": {Name: "kubelet", Cgroup: root + "/kubelet"},
			"pods":    {Name: "pods", Cgroup: root + "/kubepods"},
			"misc":    {Name: "misc", Reason: "cgroup " + missing + ": not found"},
			"runtime": {Name: "runtime", Reason: "containerd (pid 812) runs in the root cgroup, which is the node's"},
		}
		if len(got) != len(want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %+v, want %+v", name, got[name], w)
			}
		}
	})

	t.Run("no runtime process, nothing configured", func(t *testing.T) {
		proc := fakeProc(t, map[string][2]string{"1": {"init", "0::/\n"}})
		p, err := New(Options{ProcRoot: proc, PodsCgroup: root + "/kubepods"})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		p.Start()
		got := status(p)
		for name, reason := range map[string]string{
			"kubelet": "no cgroup configured",
			"misc":    "no cgroup configured",
			"runtime": "no containerd, crio, dockerd process found in " + proc,
		} {
			if got[name].Reason != reason || got[name].Cgroup != "" {
				t.Errorf("%s: %+v, want reason %q", name, got[name], reason)
			}
		}
		if got["pods"].Reason != "" {
			t.Errorf("pods: %+v, want reported", got["pods"])
		}
	})
}
