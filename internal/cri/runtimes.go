package cri

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Some runtimes send 0 for a field they do not measure. The summary's merge
// fills only what the runtime left nil, so such a zero would hide the real
// value a pod cgroup has. The fields below are turned into nil (unknown) for
// the runtimes and versions that are known, from their own stats code, not to
// measure them; every other value a runtime gives is kept (the CRI-first
// rule). The runtime is named by its CRI Version answer.

// unmeasured is a set of fields a runtime sends without measuring them.
type unmeasured uint8

const (
	// zeroNanoCores: cpu usage_nano_cores of 0 means "no rate yet", not idle.
	zeroNanoCores unmeasured = 1 << iota
	// zeroPageFaults: memory page_faults and major_page_faults of 0 mean
	// "not read".
	zeroPageFaults
	// memswSwap: the swap block is cgroup v1's memsw (memory + swap) or, with
	// swap accounting off, zeros: not the container's swap.
	memswSwap
)

// version is a runtime's major.minor.patch.
type version struct{ major, minor, patch int }

func (v version) less(w version) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// runtimeRow says which fields one runtime, in a range of versions and on a
// cgroup version, sends unmeasured.
type runtimeRow struct {
	runtime string  // RuntimeName of the CRI Version answer
	from    version // first version the row applies to; zero: every earlier one
	before  version // first version it no longer applies to; zero: every later one
	cgroup  int     // 1 or 2; 0: both
	fields  unmeasured
	// source says where the runtime's stats code shows it.
	source string
}

// runtimeTable lists the runtimes' unmeasured zeros, read from their stats
// code (containerd 1.6, 1.7, 2.x; CRI-O 1.2x–1.3x).
var runtimeTable = []runtimeRow{
	{
		runtime: "containerd", before: version{2, 3, 0}, fields: zeroNanoCores,
		source: "pkg/cri/server (1.x) and internal/cri/server (2.0–2.2) getUsageNanoCores return 0 on a container's first sample and for a non-positive interval, and ListContainerStats and podSandboxStats set usage_nano_cores from it unconditionally; 2.3 leaves it unset until its background collector has two samples (containerd#12629), so a 0 from 2.3 on is measured",
	},
	{
		runtime: "cri-o", cgroup: 1, fields: zeroPageFaults,
		source: "internal/config/cgmgr/stats_linux.go cgroupMemStats reads pgfault and pgmajfault on cgroup v2 only (\"cgroup v1 doesn't have equivalent stats for pgfault and pgmajfault\"), and internal/lib/stats criMemStats sends both as 0",
	},
	{
		runtime: "cri-o", cgroup: 1, fields: memswSwap,
		source: "cgroupMemStats takes libcontainer's SwapUsage as swap on cgroup v1: memory.memsw.usage_in_bytes, memory and swap together (0 without swap accounting); criSwapStats sends it as swap_usage_bytes and the memsw limit minus it as swap_available_bytes",
	},
}

// unknownRuntime is what a runtime the table does not name is assumed to
// send unmeasured: a 0 rate is not believed without our own samples.
const unknownRuntime = zeroNanoCores

// runtimeInfo is a runtime as its Version answer names it.
type runtimeInfo struct {
	name    string
	version version
	parsed  bool // version could be read
}

// parseRuntime reads a Version answer's RuntimeName and RuntimeVersion:
// "containerd" "v1.6.20" or "1.6.20~ds1" (Debian), "cri-o" "1.31.3".
func parseRuntime(name, ver string) runtimeInfo {
	rt := runtimeInfo{name: strings.ToLower(strings.TrimSpace(name))}
	ver = strings.TrimPrefix(strings.TrimSpace(ver), "v")
	var nums []int
	for _, part := range strings.SplitN(ver, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		nums = append(nums, n)
		if end < len(part) {
			break // "20~ds1", "0-rc.1": the rest is not a version number
		}
	}
	if len(nums) >= 2 {
		rt.parsed = true
		rt.version = version{major: nums[0], minor: nums[1]}
		if len(nums) == 3 {
			rt.version.patch = nums[2]
		}
	}
	return rt
}

// unmeasuredFor returns what rt sends unmeasured on a node of cgroupVersion
// (1 or 2). A runtime the table names but whose version cannot be read gets
// every row of it: taking a measured zero for unknown loses less than
// believing an unmeasured one.
func unmeasuredFor(rt runtimeInfo, cgroupVersion int) unmeasured {
	known := false
	var out unmeasured
	for _, row := range runtimeTable {
		if row.runtime != rt.name {
			continue
		}
		known = true
		if row.cgroup != 0 && row.cgroup != cgroupVersion {
			continue
		}
		if rt.parsed && row.from != (version{}) && rt.version.less(row.from) {
			continue
		}
		if rt.parsed && row.before != (version{}) && !rt.version.less(row.before) {
			continue
		}
		out |= row.fields
	}
	if !known {
		return unknownRuntime
	}
	return out
}

// identityRetry is how long a failed Version call for the runtime's identity
// is trusted before it is asked again.
const identityRetry = time.Minute

// runtimeIdentity asks the runtime for its Version once and remembers it
// until the connection breaks (Unavailable: it may be restarting, possibly as
// another version). Asking is best effort: without an answer the runtime is
// treated as unknown. It is safe for concurrent use.
type runtimeIdentity struct {
	mu       sync.Mutex
	rt       runtimeInfo
	known    bool
	failedAt time.Time
}

// get returns the runtime, asking c when it is not known yet.
func (r *runtimeIdentity) get(ctx context.Context, c *Client, now time.Time) runtimeInfo {
	r.mu.Lock()
	if r.known || (!r.failedAt.IsZero() && now.Sub(r.failedAt) < identityRetry) {
		rt := r.rt
		r.mu.Unlock()
		return rt
	}
	r.mu.Unlock()
	v, err := c.Version(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failedAt = now
		return r.rt
	}
	r.set(v.GetRuntimeName(), v.GetRuntimeVersion())
	return r.rt
}

// set records a Version answer; r.mu is held.
func (r *runtimeIdentity) set(name, ver string) {
	r.rt, r.known, r.failedAt = parseRuntime(name, ver), true, time.Time{}
}

// learn records a Version answer another caller got.
func (r *runtimeIdentity) learn(name, ver string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set(name, ver)
}

// noteError forgets the runtime when err says the connection broke.
func (r *runtimeIdentity) noteError(err error) {
	if status.Code(err) != codes.Unavailable {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known, r.failedAt = false, time.Time{}
}
