package cadvisor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	info "github.com/google/cadvisor/lib/model"
)

// leanStats reads a cgroup other than the root the way cAdvisor's libcontainer
// handler does for the fields a Summary takes from it — cumulative CPU,
// memory usage and working set, RSS, page faults, swap and the cgroup's own
// process count — from the four or five files that hold them, where the
// handler reads every file of every controller (libcontainer's memory stats
// alone open some twenty files, and the process stats list each process's
// descriptors). On a node whose pod cgroups are read at every scrape (the
// partial CRI stats path: containerd 1.6 at density, containerd 2.x with the
// systemd driver) that read was a third of the collector's CPU.
//
// The rules are cAdvisor v0.60's (lib/container/libcontainer: setCPUStats,
// setMemoryStats, processStatsFromProcs) over opencontainers/cgroups v0.0.6:
//
//   - CPU: cgroup v1 cpuacct.usage; v2 cpu.stat usage_usec × 1000.
//   - Memory usage: v1 memory.usage_in_bytes; v2 memory.current.
//   - Working set: usage − total_inactive_file (v1) or inactive_file (v2) of
//     memory.stat, 0 when that is larger than usage.
//   - RSS and swap: v1 total_rss and total_swap when memory.use_hierarchy is 1,
//     else rss and swap; v2 anon and memory.swap.current.
//   - Page faults: memory.stat pgfault and pgmajfault (on v1 the cgroup's own).
//   - Processes: the lines of the cgroup's own cgroup.procs (cpu hierarchy on
//     v1).
//
// Pressure (v2) is read by the caller from the *.pressure files. The root
// cgroup, whose network and pressure come from the host, stays on cAdvisor's
// handler. An error means the cgroup could not be read (it is gone): the
// caller forgets it, as it does when the handler fails.
func (p *Provider) leanStats(name string) (*info.ContainerStats, error) {
	s := &info.ContainerStats{
		Timestamp: time.Now(),
		Cpu:       &info.CpuStats{},
		Memory:    &info.MemoryStats{},
		Processes: &info.ProcessStats{},
	}
	if p.v2 {
		dir := filepath.Join(p.subsystems[""], name)
		stat, err := readCgroupKeyed(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return nil, err
		}
		usec, ok := stat["usage_usec"]
		if !ok {
			return nil, fmt.Errorf("%s: no usage_usec", filepath.Join(dir, "cpu.stat"))
		}
		s.Cpu.Usage.Total = usec * 1000
		usage, err := readCgroupUint(filepath.Join(dir, "memory.current"))
		if err != nil {
			return nil, err
		}
		mstat, err := readCgroupKeyed(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return nil, err
		}
		setLeanMemory(s.Memory, usage, mstat, mstat["inactive_file"], mstat["anon"])
		// A cgroup without swap accounting has no memory.swap.current:
		// no swap, as libcontainer reads it.
		if swap, err := readCgroupUint(filepath.Join(dir, "memory.swap.current")); err == nil {
			s.Memory.Swap = swap
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		procs, _ := procsOf(filepath.Join(dir, "cgroup.procs"))
		s.Processes.ProcessCount = procs
		return s, nil
	}

	cpuacct, mem, cpu := p.subsystems["cpuacct"], p.subsystems["memory"], p.subsystems["cpu"]
	usage, err := readCgroupUint(filepath.Join(cpuacct, name, "cpuacct.usage"))
	if err != nil {
		return nil, err
	}
	s.Cpu.Usage.Total = usage
	memUsage, err := readCgroupUint(filepath.Join(mem, name, "memory.usage_in_bytes"))
	if err != nil {
		return nil, err
	}
	mstat, err := readCgroupKeyed(filepath.Join(mem, name, "memory.stat"))
	if err != nil {
		return nil, err
	}
	rss, swap := mstat["rss"], mstat["swap"]
	if h, err := readCgroupUint(filepath.Join(mem, name, "memory.use_hierarchy")); err != nil || h == 1 {
		// Kernels that dropped the file (6.x) are always hierarchical.
		rss, swap = mstat["total_rss"], mstat["total_swap"]
	}
	setLeanMemory(s.Memory, memUsage, mstat, mstat["total_inactive_file"], rss)
	s.Memory.Swap = swap
	procs, _ := procsOf(filepath.Join(cpu, name, "cgroup.procs"))
	s.Processes.ProcessCount = procs
	return s, nil
}

// setLeanMemory fills what toCgroupStats reads of a memory sample.
func setLeanMemory(m *info.MemoryStats, usage uint64, stat map[string]uint64, inactiveFile, rss uint64) {
	m.Usage = usage
	m.WorkingSet = usage - min(usage, inactiveFile)
	m.RSS = rss
	m.ContainerData.Pgfault = stat["pgfault"]
	m.ContainerData.Pgmajfault = stat["pgmajfault"]
}

// leanPossible says whether this host's hierarchies hold every file
// leanStats reads: on cgroup v1 the cpu, cpuacct and memory controllers must
// be mounted.
func leanPossible(v2 bool, subsystems map[string]string) bool {
	if v2 {
		return subsystems[""] != ""
	}
	return subsystems["cpu"] != "" && subsystems["cpuacct"] != "" && subsystems["memory"] != ""
}

// readCgroupUint reads a cgroup file holding one unsigned number.
func readCgroupUint(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// readCgroupKeyed reads a cgroup file of "key value" lines (cpu.stat, memory.stat).
// Lines that are not a key and one unsigned number are skipped.
func readCgroupKeyed(file string) (map[string]uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, 64)
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			continue
		}
		out[string(k)] = n
	}
	return out, nil
}
