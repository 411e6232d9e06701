// Package cgroupenv makes real cgroups for tests, with real processes in them,
// in every hierarchy the cgroup provider reads (each cgroup v1 controller but
// cpuset, or the unified hierarchy on a cgroup v2 host), and removes them when
// the test ends. It needs root.
package cgroupenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Env is a tree of test cgroups under one root.
type Env struct {
	t      testing.TB
	mounts []string // hierarchy mount points
	// Root is the cgroup name every cgroup of this Env lives under, e.g.
	// "/statssummary-test-1234".
	Root string
	// V2 says the hierarchy is cgroup v2 (unified).
	V2 bool
}

// New makes the root cgroup prefix (a name unique to this process and test)
// in every hierarchy.
func New(t testing.TB, prefix string) *Env {
	t.Helper()
	e := &Env{t: t, Root: "/" + prefix + "-" + strconv.Itoa(os.Getpid())}
	e.mounts, e.V2 = mounts(t)
	e.Make(e.Root)
	return e
}

// mounts lists the hierarchies of this host from /proc/self/mountinfo: the
// v1 controllers' (cpuset left out: a task joins it only once cpus and mems
// are set), or the unified one when no v1 controller is mounted.
func mounts(t testing.TB) ([]string, bool) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("cgroupenv: %v", err)
	}
	defer f.Close()
	var v1, v2 []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			v2 = append(v2, fields[4])
		case "cgroup":
			opts := strings.Split(tail[2], ",")
			named := false
			for _, o := range opts {
				if o == "cpuset" || strings.HasPrefix(o, "name=") {
					named = true
				}
			}
			if !named {
				v1 = append(v1, fields[4])
			}
		}
	}
	if len(v1) > 0 {
		return v1, false
	}
	if len(v2) == 0 {
		t.Fatal("cgroupenv: no cgroup hierarchy mounted")
	}
	return v2[:1], true
}

// Make creates the named cgroups (absolute names, parents first) in every
// hierarchy and removes them, children first, when the test ends.
func (e *Env) Make(names ...string) {
	e.t.Helper()
	for _, name := range names {
		for _, m := range e.mounts {
			dir := filepath.Join(m, name)
			if e.V2 {
				// Delegate cpu, memory, pids and io to the new cgroup, so
				// that its cpu.max, memory.max, pids.current and io.stat
				// exist (best effort, one at a time: the parent may already
				// delegate one, or lack it).
				for _, c := range []string{"+cpu", "+memory", "+pids", "+io"} {
					_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"), []byte(c), 0o644)
				}
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				e.t.Fatalf("cgroupenv: create cgroup: %v", err)
			}
			e.t.Cleanup(func() { e.remove(dir) })
		}
	}
}

// Remove deletes cgroup name from every hierarchy now (its processes must
// have left or died), as a runtime does when a container goes.
func (e *Env) Remove(name string) {
	e.t.Helper()
	for _, m := range e.mounts {
		e.remove(filepath.Join(m, name))
	}
}

// remove deletes a cgroup directory once its tasks have gone.
func (e *Env) remove(dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("cgroupenv: remove cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Sleeper starts a process in cgroup name of every hierarchy that, once
// there, spins briefly (so the cgroup has CPU time and memory charged to it)
// and then sleeps until the test ends; it returns the process's pid once it
// sleeps.
func (e *Env) Sleeper(name string) int {
	e.t.Helper()
	cmd := e.Run(name, `i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; exec sleep 3600`)
	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(20 * time.Second)
	for {
		comm, err := os.ReadFile("/proc/" + pid + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "sleep" {
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("cgroupenv: process %s never reached sleep", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Procs counts the processes listed in cgroup name's cgroup.procs (in the
// first hierarchy).
func (e *Env) Procs(name string) uint64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.mounts[0], name, "cgroup.procs"))
	if err != nil {
		e.t.Fatalf("cgroupenv: %v", err)
	}
	return uint64(len(strings.Fields(string(b))))
}

// CPUUsage is cgroup name's cumulative CPU time in nanoseconds, read from the
// file the kernel keeps it in (cpuacct.usage on v1, cpu.stat's usage_usec on
// v2).
func (e *Env) CPUUsage(name string) uint64 {
	e.t.Helper()
	for _, m := range e.mounts {
		if e.V2 {
			data, err := os.ReadFile(filepath.Join(m, name, "cpu.stat"))
			if err != nil {
				e.t.Fatalf("cgroupenv: %v", err)
			}
			for line := range strings.SplitSeq(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					if err != nil {
						e.t.Fatalf("cgroupenv: %s cpu.stat: %v", name, err)
					}
					return us * 1000
				}
			}
			e.t.Fatalf("cgroupenv: %s cpu.stat has no usage_usec", name)
		}
		data, err := os.ReadFile(filepath.Join(m, name, "cpuacct.usage"))
		if err != nil {
			continue // not the cpuacct hierarchy
		}
		ns, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			e.t.Fatalf("cgroupenv: %s cpuacct.usage: %v", name, err)
		}
		return ns
	}
	e.t.Fatalf("cgroupenv: no cpuacct.usage for %s", name)
	return 0
}

// SetMemoryLimit sets cgroup name's memory limit (memory.limit_in_bytes on
// v1, memory.max on v2; on v2 the memory controller must be enabled for it
// in its parent's cgroup.subtree_control).
func (e *Env) SetMemoryLimit(name string, limit uint64) {
	e.t.Helper()
	v := strconv.FormatUint(limit, 10)
	for _, m := range e.mounts {
		file := filepath.Join(m, name, "memory.limit_in_bytes")
		if e.V2 {
			file = filepath.Join(m, name, "memory.max")
		}
		if _, err := os.Stat(file); err != nil {
			continue // not the memory hierarchy
		}
		if err := os.WriteFile(file, []byte(v), 0o644); err != nil {
			e.t.Fatalf("cgroupenv: set %s: %v", file, err)
		}
		return
	}
	e.t.Fatalf("cgroupenv: no memory limit file for %s", name)
}

// File is the path of file in cgroup name, in the first hierarchy that has it
// (cpu.shares is in the cpu controller's on v1, memory.max in the unified one
// on v2); the test fails when none has it.
func (e *Env) File(name, file string) string {
	e.t.Helper()
	for _, m := range e.mounts {
		p := filepath.Join(m, name, file)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	e.t.Fatalf("cgroupenv: no hierarchy has %s for %s", file, name)
	return ""
}

// Set writes value into file of cgroup name, as the kubelet or a runtime
// would (cpu.cfs_quota_us, cpu.max, memory.limit_in_bytes, …).
func (e *Env) Set(name, file, value string) {
	e.t.Helper()
	p := e.File(name, file)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		e.t.Fatalf("cgroupenv: set %s to %q: %v", p, value, err)
	}
}

// Run starts `sh -c script` in cgroup name of every hierarchy and returns it
// once it is there; the script starts only then. The test waits for it with
// Wait, or it is killed when the test ends.
func (e *Env) Run(name, script string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command("sh", "-c", `read _; `+script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatalf("cgroupenv: %v", err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("cgroupenv: start sh: %v", err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, m := range e.mounts {
		if err := os.WriteFile(filepath.Join(m, name, "cgroup.procs"), []byte(pid), 0o644); err != nil {
			e.t.Fatalf("cgroupenv: move %s into %s: %v", pid, name, err)
		}
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		e.t.Fatalf("cgroupenv: %v", err)
	}
	return cmd
}
