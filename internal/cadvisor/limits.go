package cadvisor

import (
	"bytes"
	"strconv"
)

// CgroupLimits are what a container cgroup enforces, as its files say
// (cgroup v1: cpu.cfs_quota_us, cpu.cfs_period_us, cpu.shares,
// memory.limit_in_bytes; v2: cpu.max, cpu.weight, memory.max). Two readings
// that are equal mean nothing was changed in between (an in-place resize
// changes at least one).
type CgroupLimits struct {
	// Known says every limit file was read; the values are meaningless
	// otherwise.
	Known bool
	// CPUQuota and CPUPeriod are the CFS bandwidth limit in microseconds per
	// period; a quota of 0 means none ("max", or -1 on v1).
	CPUQuota, CPUPeriod uint64
	// CPUShares is cgroup v1's cpu.shares, CPUWeight v2's cpu.weight; the
	// other is 0.
	CPUShares, CPUWeight uint64
	// MemoryLimit is the memory limit in bytes, 0 when there is none ("max",
	// or v1's unlimited: anything above 2^62, see unlimitedMemory).
	MemoryLimit uint64
}

// limits reads a container cgroup's limits.
func (f *Files) limits(e *cgroupFiles) CgroupLimits {
	var l CgroupLimits
	ok := true
	get := func(id fileID) []byte {
		b, err := f.read(e, id)
		if err != nil {
			ok = false
		}
		return b
	}
	if f.v2 {
		q, p, good := parseCPUMax(get(fileCPUMax))
		l.CPUQuota, l.CPUPeriod = q, p
		ok = ok && good
		w, good := parseUint(get(fileCPUWeight))
		l.CPUWeight, ok = w, ok && good
		m, good := parseMemoryLimit(get(fileMemoryMax))
		l.MemoryLimit, ok = m, ok && good
	} else {
		q, good := parseQuotaV1(get(fileCFSQuota))
		l.CPUQuota, ok = q, ok && good
		p, good := parseUint(get(fileCFSPeriod))
		l.CPUPeriod, ok = p, ok && good
		s, good := parseUint(get(fileCPUShares))
		l.CPUShares, ok = s, ok && good
		m, good := parseMemoryLimit(get(fileMemoryLimit))
		l.MemoryLimit, ok = m, ok && good
	}
	l.Known = ok
	return l
}

// parseCPUMax parses cgroup v2's cpu.max: "max 100000" or "50000 100000".
func parseCPUMax(b []byte) (quota, period uint64, ok bool) {
	q, p, found := bytes.Cut(bytes.TrimSpace(b), []byte(" "))
	if !found {
		return 0, 0, false
	}
	period, err := strconv.ParseUint(string(p), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if string(q) == "max" {
		return 0, period, true
	}
	quota, err = strconv.ParseUint(string(q), 10, 64)
	return quota, period, err == nil
}

// parseQuotaV1 parses cpu.cfs_quota_us: -1 (no limit) or microseconds.
func parseQuotaV1(b []byte) (uint64, bool) {
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, false
	}
	if v < 0 {
		return 0, true
	}
	return uint64(v), true
}

// parseMemoryLimit parses memory.max ("max" or bytes) or
// memory.limit_in_bytes; unlimited is 0.
func parseMemoryLimit(b []byte) (uint64, bool) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, true
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	if v > unlimitedMemory {
		return 0, true
	}
	return v, true
}

func parseUint(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v, err == nil
}
