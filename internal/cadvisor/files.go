package cadvisor

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/statssummary/statssummary/internal/keptfile"
)

// Files reads, per container and pod cgroup, the few files the Summary does
// not carry: what a container cgroup enforces (CPU quota and period, CPU
// shares or weight, memory limit: limits.go) and the cumulative counters of
// a container or pod cgroup (CFS throttling, memory events, block IO:
// counters.go), on cgroup v1 and v2, straight from cgroupfs rather than
// through cAdvisor's handler (which reads a whole sample, about half a
// millisecond a cgroup).
//
// Opening a cgroup file costs about 10 µs of CPU here, reading an open one
// again at offset 0 about 2 µs; so Files keeps each file it reads open, up to
// MaxOpenFiles, and reads it again with pread. Each open file holds a page of
// kernel memory (its seq_file buffer, charged to the collector's cgroup):
// about 4.4 KiB measured, so 4096 files are some 18 MiB. Beyond the cap a
// file is opened for each read. Files of cgroups not asked for in a Read are
// closed at its end, so nothing outlives its container.
//
// A Files is safe for concurrent use; reads are serialised.
type Files struct {
	v2       bool
	mounts   map[string]string // controller ("" on v2) → mount point
	podsRoot string
	maxOpen  int

	mu   sync.Mutex
	buf  []byte
	pods map[string]string // pod UID → pod cgroup name, from the last listing
	// cgroups holds the files of every cgroup read in the last Read, by
	// cgroup name.
	cgroups map[string]*cgroupFiles
	// containers maps a container ID to its cgroup name, per pod cgroup.
	containers map[string]map[string]string
	open       int
	gen        uint64
}

// MaxOpenFiles is how many cgroup files a Files keeps open by default: enough
// for 110 pods of 3 containers with every file read, on either cgroup
// version.
const MaxOpenFiles = 4096

// FilesOptions configure a Files. The zero value detects everything.
type FilesOptions struct {
	// PodsCgroup is the kubepods root cgroup; empty detects /kubepods or
	// /kubepods.slice.
	PodsCgroup string
	// Mounts maps each controller (cpu, memory, blkio on cgroup v1; "" for
	// the unified hierarchy) to its mount point, and V2 says the hierarchy is
	// unified. Both are detected when Mounts is nil (tests lay out their own).
	Mounts map[string]string
	V2     bool
	// MaxOpen caps the files kept open; MaxOpenFiles when 0, none kept when
	// negative.
	MaxOpen int
}

// NewFiles returns a reader of this host's container and pod cgroup files. It
// fails when no hierarchy with the cpu and memory controllers is mounted.
func NewFiles(opts FilesOptions) (*Files, error) {
	if opts.Mounts == nil {
		var err error
		if opts.Mounts, opts.V2, err = detectFileMounts(); err != nil {
			return nil, err
		}
	}
	if opts.MaxOpen == 0 {
		opts.MaxOpen = MaxOpenFiles
	}
	f := &Files{
		v2:         opts.V2,
		mounts:     opts.Mounts,
		podsRoot:   opts.PodsCgroup,
		maxOpen:    max(opts.MaxOpen, 0),
		buf:        make([]byte, 16<<10),
		pods:       map[string]string{},
		cgroups:    map[string]*cgroupFiles{},
		containers: map[string]map[string]string{},
	}
	if f.podsRoot == "" {
		f.podsRoot = detectPodsCgroup(f.listMount())
	}
	return f, nil
}

// detectFileMounts finds the unified hierarchy (cgroup v2) or the cpu, memory
// and blkio controllers' mount points (v1; blkio may be missing).
func detectFileMounts() (map[string]string, bool, error) {
	if cgroups.IsCgroup2UnifiedMode() {
		return map[string]string{"": "/sys/fs/cgroup"}, true, nil
	}
	m := map[string]string{}
	for _, c := range []string{"cpu", "memory", "blkio"} {
		mp, err := cgroups.FindCgroupMountpoint("", c)
		if err != nil {
			if c == "blkio" {
				continue
			}
			return nil, false, fmt.Errorf("cgroup mounts: %s controller: %w", c, err)
		}
		m[c] = mp
	}
	return m, false, nil
}

// V2 says the hierarchy is cgroup v2.
func (f *Files) V2() bool { return f.v2 }

// PodsCgroup is the kubepods root in use, "" when none was configured or found.
func (f *Files) PodsCgroup() string { return f.podsRoot }

func (f *Files) listMount() string {
	if f.v2 {
		return f.mounts[""]
	}
	return f.mounts["cpu"]
}

// PodRef names a pod cgroup to read, by the pod's UID, and the containers in
// it, by their runtime IDs.
type PodRef struct {
	UID          string
	ContainerIDs []string
}

// What says what a Read reads.
type What struct {
	// Limits reads each container cgroup's limits.
	Limits bool
	// Counters reads the counters of each container and pod cgroup.
	Counters bool
}

// PodFiles is what a Read found for one pod: its own cgroup's counters and,
// parallel to PodRef.ContainerIDs, each container's.
type PodFiles struct {
	// Found says the pod's cgroup was found.
	Found      bool
	Counters   CgroupCounters
	Containers []ContainerFiles
}

// ContainerFiles is what a Read found for one container cgroup.
type ContainerFiles struct {
	// Found says the container's cgroup was found.
	Found    bool
	Limits   CgroupLimits
	Counters CgroupCounters
}

// Read reads what says of each pod and its containers. A cgroup that is not
// found, or a file that cannot be read, leaves its values unknown; Read never
// fails as a whole. The files of cgroups not read this time are closed.
func (f *Files) Read(pods []PodRef, what What) []PodFiles {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	out := make([]PodFiles, len(pods))
	if f.podsRoot == "" || (!what.Limits && !what.Counters) {
		f.closeUnused()
		return out
	}
	listed := false
	for i, p := range pods {
		podCg, ok := f.pods[p.UID]
		if !ok && !listed {
			listed = true
			if m, err := listPodCgroups(f.listMount(), f.podsRoot); err == nil {
				f.pods = m
				podCg, ok = m[p.UID]
			}
		}
		pf := &out[i]
		pf.Containers = make([]ContainerFiles, len(p.ContainerIDs))
		if !ok {
			continue
		}
		pf.Found = true
		if what.Counters {
			pf.Counters = f.counters(f.entry(podCg))
		}
		known := f.containers[podCg]
		relisted := false
		for j, id := range p.ContainerIDs {
			if id == "" {
				continue // no runtime identity: no cgroup to find
			}
			cg, ok := known[id]
			if !ok && !relisted {
				relisted = true
				known = listContainerCgroups(f.listMount(), podCg)
				f.containers[podCg] = known
				cg, ok = known[id]
			}
			if !ok {
				continue
			}
			e := f.entry(cg)
			cf := &pf.Containers[j]
			cf.Found = true
			if what.Limits {
				cf.Limits = f.limits(e)
			}
			if what.Counters {
				cf.Counters = f.counters(e)
			}
		}
	}
	f.closeUnused()
	return out
}

// A cgroup file Files reads, by the controller it belongs to on cgroup v1
// ("" on v2) and its name.
type fileID uint8

const (
	fileCPUStat fileID = iota
	fileMemoryEvents
	fileOOMControl
	fileMemoryFailcnt
	fileMemswLimit
	fileIOStat
	fileBlkioBytes
	fileBlkioOps
	fileCPUMax
	fileCFSQuota
	fileCFSPeriod
	fileCPUWeight
	fileCPUShares
	fileMemoryMax
	fileMemoryLimit
	numFiles
)

var fileNames = [numFiles]struct{ controller, name string }{
	fileCPUStat:       {"cpu", "cpu.stat"},
	fileMemoryEvents:  {"", "memory.events"},
	fileOOMControl:    {"memory", "memory.oom_control"},
	fileMemoryFailcnt: {"memory", "memory.failcnt"},
	fileMemswLimit:    {"memory", "memory.memsw.limit_in_bytes"},
	fileIOStat:        {"", "io.stat"},
	fileBlkioBytes:    {"blkio", "blkio.throttle.io_service_bytes_recursive"},
	fileBlkioOps:      {"blkio", "blkio.throttle.io_serviced_recursive"},
	fileCPUMax:        {"", "cpu.max"},
	fileCFSQuota:      {"cpu", "cpu.cfs_quota_us"},
	fileCFSPeriod:     {"cpu", "cpu.cfs_period_us"},
	fileCPUWeight:     {"", "cpu.weight"},
	fileCPUShares:     {"cpu", "cpu.shares"},
	fileMemoryMax:     {"", "memory.max"},
	fileMemoryLimit:   {"memory", "memory.limit_in_bytes"},
}

// cgroupFiles are the open files of one cgroup.
type cgroupFiles struct {
	name string
	fds  [numFiles]int // -1: not open
	// missing marks files that could not be opened: not asked again until
	// the cgroup is forgotten (a controller not enabled there stays so).
	missing [numFiles]bool
	gen     uint64
}

// entry returns the files of cgroup name, marking it read in this Read.
func (f *Files) entry(name string) *cgroupFiles {
	e, ok := f.cgroups[name]
	if !ok {
		e = &cgroupFiles{name: name}
		for i := range e.fds {
			e.fds[i] = -1
		}
		f.cgroups[name] = e
	}
	e.gen = f.gen
	return e
}

// closeUnused closes the files of every cgroup not read in this Read, and
// forgets the container cgroups of pods gone.
func (f *Files) closeUnused() {
	for name, e := range f.cgroups {
		if e.gen != f.gen {
			f.closeAll(e)
			delete(f.cgroups, name)
		}
	}
	for podCg := range f.containers {
		if _, read := f.cgroups[podCg]; !read {
			delete(f.containers, podCg)
		}
	}
}

func (f *Files) closeAll(e *cgroupFiles) {
	for i, fd := range e.fds {
		if fd >= 0 {
			_ = unix.Close(fd)
			f.open--
			e.fds[i] = -1
		}
	}
}

// Close closes every file Files keeps open.
func (f *Files) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, e := range f.cgroups {
		f.closeAll(e)
		delete(f.cgroups, name)
	}
}

// OpenFiles is how many cgroup files are open now.
func (f *Files) OpenFiles() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// errMissing is a file that cannot be opened (its controller is not there).
var errMissing = errors.New("not present")

// read returns the contents of file id of cgroup e, valid until the next
// read. The file stays open while the cap allows.
func (f *Files) read(e *cgroupFiles, id fileID) ([]byte, error) {
	if e.missing[id] {
		return nil, errMissing
	}
	if fd := e.fds[id]; fd >= 0 {
		b, err := f.pread(fd)
		if err == nil {
			return b, nil
		}
		// The cgroup went (ENODEV) or the file broke: open it afresh once.
		_ = unix.Close(fd)
		e.fds[id] = -1
		f.open--
	}
	file := fileNames[id]
	mount := f.mounts[file.controller]
	if f.v2 {
		mount = f.mounts[""]
	}
	p := filepath.Join(mount, e.name, file.name)
	fd, err := keptfile.Open(p)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			e.missing[id] = true
			return nil, fmt.Errorf("open %s: %w", p, errMissing)
		}
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	b, err := f.pread(fd)
	if err != nil || f.open >= f.maxOpen {
		_ = unix.Close(fd)
	} else {
		e.fds[id] = fd
		f.open++
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// pread reads a whole cgroup file from offset 0 into f.buf, growing it for a
// file that fills it.
func (f *Files) pread(fd int) ([]byte, error) { return keptfile.PreadAll(fd, &f.buf) }
