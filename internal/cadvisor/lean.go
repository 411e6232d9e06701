package cadvisor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
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
// cgroup is leanRootStats'. An error means the cgroup could not be read (it
// is gone): the caller forgets it, as it does when the handler fails.
func (p *Provider) leanStats(name string) (*info.ContainerStats, error) {
	return p.leanCgroup(name, false)
}

// leanRootStats reads the root cgroup — the node — the way cAdvisor's handler
// does with rootMetrics and pid 1 (cAdvisor v0.60, opencontainers/cgroups
// v0.0.6), for the fields the node takes from it. It is leanStats' read with
// three differences:
//
//   - no process count (rootMetrics leaves it out: it would list every
//     process on the node);
//   - on cgroup v2 the root has no memory.current: usage is memory.stat's
//     anon + file, as libcontainer's rootStatsFromMeminfo sets it (its swap,
//     the host's, is left out here: the node's swap block is read from
//     /proc/meminfo by the provider whatever the handler says);
//   - network is pid 1's /proc/<pid>/net/dev under the provider's proc root,
//     with cAdvisor's rules (rootNetDev).
//
// On cgroup v1 the handler opened some thirty files for the root (every
// memory, memsw, kmem and kmem.tcp counter among them); this reads five, kept
// open between housekeepings. An error sends the caller back to the handler,
// whose reading is the reference.
func (p *Provider) leanRootStats() (*info.ContainerStats, error) {
	s, err := p.leanCgroup("/", true)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(p.opts.ProcRoot, "1", "net", "dev")
	data, err := p.kept.ReadFile(file)
	if err != nil {
		return nil, err
	}
	ifaces, err := rootNetDev(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s.Network = &info.NetworkStats{Interfaces: ifaces}
	return s, nil
}

// leanCgroup is leanStats' read; root leaves the process count out and takes
// the v2 root's usage from memory.stat.
func (p *Provider) leanCgroup(name string, root bool) (*info.ContainerStats, error) {
	s := &info.ContainerStats{
		Timestamp: time.Now(),
		Cpu:       &info.CpuStats{},
		Memory:    &info.MemoryStats{},
		Processes: &info.ProcessStats{},
	}
	var usage uint64
	var mstat memoryStat
	var procsFile string
	if p.v2 {
		dir := filepath.Join(p.subsystems[""], name)
		data, err := p.kept.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return nil, err
		}
		usec, ok := keyedValue(data, "usage_usec")
		if !ok {
			return nil, fmt.Errorf("%s: no usage_usec", filepath.Join(dir, "cpu.stat"))
		}
		s.Cpu.Usage.Total = usec * 1000
		rootUsage := false
		if usage, err = readCgroupUint(p.kept.ReadFile, filepath.Join(dir, "memory.current")); err != nil {
			if !root || !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			rootUsage = true
		}
		if mstat, err = readMemoryStat(p.kept.ReadFile, filepath.Join(dir, "memory.stat"), memoryStatV2); err != nil {
			return nil, err
		}
		if rootUsage {
			usage = mstat.rss + mstat.file // anon + file
		}
		// A cgroup without swap accounting has no memory.swap.current:
		// no swap, as libcontainer reads it.
		if mstat.swap, err = readCgroupUint(p.kept.ReadFile, filepath.Join(dir, "memory.swap.current")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		procsFile = filepath.Join(dir, "cgroup.procs")
	} else {
		mem := filepath.Join(p.subsystems["memory"], name)
		var err error
		if s.Cpu.Usage.Total, err = readCgroupUint(p.kept.ReadFile, filepath.Join(p.subsystems["cpuacct"], name, "cpuacct.usage")); err != nil {
			return nil, err
		}
		if usage, err = readCgroupUint(p.kept.ReadFile, filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
			return nil, err
		}
		keys := memoryStatV1Flat
		if h, err := readCgroupUint(p.kept.ReadFile, filepath.Join(mem, "memory.use_hierarchy")); err != nil || h == 1 {
			// Kernels that dropped the file (6.x) are always hierarchical.
			keys = memoryStatV1Hierarchical
		}
		if mstat, err = readMemoryStat(p.kept.ReadFile, filepath.Join(mem, "memory.stat"), keys); err != nil {
			return nil, err
		}
		procsFile = filepath.Join(p.subsystems["cpu"], name, "cgroup.procs")
	}
	s.Memory.Usage = usage
	s.Memory.WorkingSet = usage - min(usage, mstat.inactiveFile)
	s.Memory.RSS = mstat.rss
	s.Memory.Swap = mstat.swap
	s.Memory.ContainerData.Pgfault = mstat.pgfault
	s.Memory.ContainerData.Pgmajfault = mstat.pgmajfault
	if !root {
		s.Processes.ProcessCount, _ = procsOf(p.readProcs, procsFile)
	}
	return s, nil
}

// memoryStat is what leanStats takes from a memory.stat file.
type memoryStat struct {
	inactiveFile, rss, swap, file, pgfault, pgmajfault uint64
}

// memoryStatKeys name, for one hierarchy, the memory.stat keys of the
// inactive file cache, RSS, swap and the file cache ("" when the file has
// none, or when it is not needed: v2's swap is a file of its own, and only
// v2's root takes its usage from the file cache).
type memoryStatKeys struct{ inactiveFile, rss, swap, file string }

var (
	memoryStatV2             = memoryStatKeys{"inactive_file", "anon", "", "file"}
	memoryStatV1Hierarchical = memoryStatKeys{"total_inactive_file", "total_rss", "total_swap", ""}
	// cAdvisor takes total_inactive_file on v1 whatever the hierarchy flag.
	memoryStatV1Flat = memoryStatKeys{"total_inactive_file", "rss", "swap", ""}
)

// readMemoryStat reads the keys leanStats needs from a memory.stat file,
// without keeping the rest; a key the file lacks is 0, as in cAdvisor.
func readMemoryStat(read readFileFunc, file string, keys memoryStatKeys) (memoryStat, error) {
	data, err := read(file)
	if err != nil {
		return memoryStat{}, err
	}
	var m memoryStat
	lines(data, func(f [][]byte) bool {
		if len(f) != 2 {
			return true
		}
		var dst *uint64
		switch string(f[0]) {
		case keys.inactiveFile:
			dst = &m.inactiveFile
		case keys.rss:
			dst = &m.rss
		case keys.swap:
			dst = &m.swap
		case keys.file:
			dst = &m.file
		case "pgfault":
			dst = &m.pgfault
		case "pgmajfault":
			dst = &m.pgmajfault
		default:
			return true
		}
		if v, ok := parseUint(f[1]); ok {
			*dst = v
		}
		return true
	})
	return m, nil
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
func readCgroupUint(read readFileFunc, file string) (uint64, error) {
	data, err := read(file)
	if err != nil {
		return 0, err
	}
	v, ok := parseUint(data)
	if !ok {
		return 0, fmt.Errorf("%s: not an unsigned number: %q", file, bytes.TrimSpace(data))
	}
	return v, nil
}

// rootNetDev parses a /proc/<pid>/net/dev file as cAdvisor's handler does for
// a cgroup it knows a process of (scanInterfaceStats): after the two header
// lines, each line with the colon taken out must have 17 fields, or none of
// the file is trusted; interfaces whose lowercased name starts with lo, veth,
// docker or nerdctl are left out; the eight counters it keeps must parse.
// Unlike podNetwork's netDev (a pod's own namespace, loopback left out) this
// is the host's: one veth per pod, skipped.
func rootNetDev(data []byte) ([]info.InterfaceStats, error) {
	var out []info.InterfaceStats
	var f [18][]byte
	for n := 0; len(data) > 0; n++ {
		var line []byte
		line, data = cutLine(data)
		if n < 2 { // headers
			continue
		}
		// 18 slots: a line with more than 17 fields fills them all.
		if splitFields(line, " \t:", f[:]) != 17 {
			return nil, fmt.Errorf("invalid interface stats line: %q", line)
		}
		if ignoredDevice(f[0]) {
			continue
		}
		i := info.InterfaceStats{Name: string(f[0])}
		dst := [8]*uint64{&i.RxBytes, &i.RxPackets, &i.RxErrors, &i.RxDropped, &i.TxBytes, &i.TxPackets, &i.TxErrors, &i.TxDropped}
		src := [8][]byte{f[1], f[2], f[3], f[4], f[9], f[10], f[11], f[12]}
		for j := range dst {
			v, err := strconv.ParseUint(string(src[j]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("cannot parse interface stats in %q: %w", line, err)
			}
			*dst[j] = v
		}
		out = append(out, i)
	}
	return out, nil
}

// ignoredDevice is cAdvisor's isIgnoredDevice.
func ignoredDevice(name []byte) bool {
	for _, prefix := range []string{"lo", "veth", "docker", "nerdctl"} {
		if len(name) >= len(prefix) && strings.EqualFold(string(name[:len(prefix)]), prefix) {
			return true
		}
	}
	return false
}
