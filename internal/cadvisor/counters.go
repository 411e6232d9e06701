package cadvisor

import (
	"bytes"
	"errors"
	"strconv"
)

// CgroupCounters are the cumulative counters of a container or pod cgroup
// that the Summary does not carry. Has says which were read: a counter the
// cgroup does not keep (a controller not enabled, cgroup v1's missing
// events) is left out, never reported as 0.
type CgroupCounters struct {
	Has Counters
	// CFS bandwidth control (cpu.stat): periods elapsed while the cgroup had
	// runnable tasks and a quota, periods in which it was throttled, and the
	// time its tasks were throttled, in nanoseconds (v2 gives microseconds).
	CPUPeriods, CPUThrottledPeriods, CPUThrottledTime uint64
	// Memory events (v2 memory.events: hierarchical, so a pod's include its
	// containers'): the cgroup hit its memory.max (max) or memory.high
	// (high), the OOM killer was invoked (oom) and killed a process
	// (oom_kill). On v1, oom_kill is memory.oom_control's and max is
	// memory.failcnt (how often the usage hit the limit), both of the cgroup
	// alone (a pod's count only what its own limit caused); max is unknown
	// for a cgroup with a memory+swap limit (failcntCounts), oom and high
	// are not kept.
	MemoryOOM, MemoryOOMKill, MemoryMax, MemoryHigh uint64
	// Block IO summed over every device: bytes and operations read and
	// written (v2 io.stat; v1 blkio.throttle.io_service_bytes_recursive and
	// io_serviced_recursive).
	DiskReadBytes, DiskWriteBytes, DiskReadOps, DiskWriteOps uint64
}

// Counters is a set of CgroupCounters fields.
type Counters uint8

// The counters a cgroup may have.
const (
	// HasThrottling: CPUPeriods, CPUThrottledPeriods, CPUThrottledTime.
	HasThrottling Counters = 1 << iota
	HasMemoryOOM
	HasMemoryOOMKill
	HasMemoryMax
	HasMemoryHigh
	// HasDiskBytes: DiskReadBytes and DiskWriteBytes.
	HasDiskBytes
	// HasDiskOps: DiskReadOps and DiskWriteOps.
	HasDiskOps
)

// counters reads a container or pod cgroup's counters.
func (f *Files) counters(e *cgroupFiles) CgroupCounters {
	var c CgroupCounters
	if b, err := f.read(e, fileCPUStat); err == nil {
		parseCPUStat(b, f.v2, &c)
	}
	if f.v2 {
		if b, err := f.read(e, fileMemoryEvents); err == nil {
			parseMemoryEvents(b, &c)
		}
		if b, err := f.read(e, fileIOStat); err == nil {
			parseIOStat(b, &c)
		}
		return c
	}
	if b, err := f.read(e, fileOOMControl); err == nil {
		if v, ok := keyedValue(b, "oom_kill"); ok {
			c.MemoryOOMKill, c.Has = v, c.Has|HasMemoryOOMKill
		}
	}
	if f.failcntCounts(e) {
		if b, err := f.read(e, fileMemoryFailcnt); err == nil {
			if v, ok := parseUint(b); ok {
				c.MemoryMax, c.Has = v, c.Has|HasMemoryMax
			}
		}
	}
	if b, err := f.read(e, fileBlkioBytes); err == nil {
		if r, w, ok := parseBlkio(b); ok {
			c.DiskReadBytes, c.DiskWriteBytes, c.Has = r, w, c.Has|HasDiskBytes
		}
	}
	if b, err := f.read(e, fileBlkioOps); err == nil {
		if r, w, ok := parseBlkio(b); ok {
			c.DiskReadOps, c.DiskWriteOps, c.Has = r, w, c.Has|HasDiskOps
		}
	}
	return c
}

// failcntCounts says whether a v1 cgroup's memory.failcnt counts its hits of
// the memory limit: not when it also has a memory+swap limit (which the
// kubelet sets to the memory limit where swap is accounted, so that nothing
// swaps). A charge is tried against memory+swap first; failing there, it
// never reaches the memory counter, and the kernel (6.18 here) keeps no
// failcnt for memory+swap: both stay 0 through an OOM kill. Such a cgroup's
// max events are unknown, not 0.
func (f *Files) failcntCounts(e *cgroupFiles) bool {
	b, err := f.read(e, fileMemswLimit)
	if errors.Is(err, errMissing) {
		return true // no swap accounting: no memory+swap limit
	}
	limit, ok := parseMemoryLimit(b)
	return err == nil && ok && limit == 0
}

// lines calls fn with the fields of each line of b, split on spaces, until fn
// returns false.
func lines(b []byte, fn func(fields [][]byte) bool) {
	var fields [8][]byte
	for len(b) > 0 {
		var line []byte
		line, b = cutLine(b)
		if n := splitFields(line, " ", fields[:]); n > 0 && !fn(fields[:n]) {
			return
		}
	}
}

// cutLine returns b's first line, without its newline, and the rest.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// splitFields puts the fields of line, separated by runs of the bytes in
// seps, into dst, at most len(dst) of them, and returns how many it put.
func splitFields(line []byte, seps string, dst [][]byte) int {
	n := 0
	for len(line) > 0 && n < len(dst) {
		line = bytes.TrimLeft(line, seps)
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, seps)
		if end < 0 {
			end = len(line)
		}
		dst[n], line = line[:end], line[end:]
		n++
	}
	return n
}

// keyedValue is the value of the "key value" line of b with the given key.
func keyedValue(b []byte, key string) (uint64, bool) {
	var v uint64
	found := false
	lines(b, func(f [][]byte) bool {
		if len(f) == 2 && string(f[0]) == key {
			var err error
			v, err = strconv.ParseUint(string(f[1]), 10, 64)
			found = err == nil
			return false
		}
		return true
	})
	return v, found
}

// parseCPUStat reads nr_periods, nr_throttled and throttled_time (v1, ns) or
// throttled_usec (v2) from cpu.stat; all three or none.
func parseCPUStat(b []byte, v2 bool, c *CgroupCounters) {
	timeKey, scale := "throttled_time", uint64(1)
	if v2 {
		timeKey, scale = "throttled_usec", 1000
	}
	var periods, throttled, t uint64
	var seen int
	lines(b, func(f [][]byte) bool {
		if len(f) != 2 {
			return true
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return true
		}
		switch string(f[0]) {
		case "nr_periods":
			periods, seen = v, seen|1
		case "nr_throttled":
			throttled, seen = v, seen|2
		case timeKey:
			t, seen = v*scale, seen|4
		}
		return true
	})
	if seen == 7 {
		c.CPUPeriods, c.CPUThrottledPeriods, c.CPUThrottledTime = periods, throttled, t
		c.Has |= HasThrottling
	}
}

// parseMemoryEvents reads oom, oom_kill, max and high from memory.events.
func parseMemoryEvents(b []byte, c *CgroupCounters) {
	lines(b, func(f [][]byte) bool {
		if len(f) != 2 {
			return true
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return true
		}
		switch string(f[0]) {
		case "oom":
			c.MemoryOOM, c.Has = v, c.Has|HasMemoryOOM
		case "oom_kill":
			c.MemoryOOMKill, c.Has = v, c.Has|HasMemoryOOMKill
		case "max":
			c.MemoryMax, c.Has = v, c.Has|HasMemoryMax
		case "high":
			c.MemoryHigh, c.Has = v, c.Has|HasMemoryHigh
		}
		return true
	})
}

// parseIOStat sums rbytes, wbytes, rios and wios over the devices of io.stat
// ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"). A file without a
// device (no IO yet) is zero IO: the io controller counts every bio.
func parseIOStat(b []byte, c *CgroupCounters) {
	lines(b, func(f [][]byte) bool {
		for _, kv := range f[1:] {
			k, v, ok := bytes.Cut(kv, []byte("="))
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				continue
			}
			switch string(k) {
			case "rbytes":
				c.DiskReadBytes += n
			case "wbytes":
				c.DiskWriteBytes += n
			case "rios":
				c.DiskReadOps += n
			case "wios":
				c.DiskWriteOps += n
			}
		}
		return true
	})
	c.Has |= HasDiskBytes | HasDiskOps
}

// parseBlkio sums the Read and Write lines of a cgroup v1 blkio.throttle
// file ("8:0 Read 4096", …, then "Total N") over its devices. A file with no
// device line (only "Total 0") counted nothing: the kernel's throttle
// accounting sees IO only to devices with a throttle rule in the cgroup's
// hierarchy, so ok is false — unknown, not zero.
func parseBlkio(b []byte) (read, write uint64, ok bool) {
	lines(b, func(f [][]byte) bool {
		if len(f) != 3 {
			return true
		}
		ok = true
		n, err := strconv.ParseUint(string(f[2]), 10, 64)
		if err != nil {
			return true
		}
		switch string(f[1]) {
		case "Read":
			read += n
		case "Write":
			write += n
		}
		return true
	})
	return read, write, ok
}
