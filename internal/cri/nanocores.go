package cri

import (
	"math/bits"
	"sync"
	"time"
)

// Counter samples closer together than minRateWindow do not advance a cache
// entry: the rate already computed for the entry is returned instead. Two
// readers asking within a moment of each other (the scraper and the JSON
// endpoint) therefore see the same rate, never a noisy or zero one computed over
// a few milliseconds.
const minRateWindow = time.Second

// DefaultRatePurgeAfter is how long a rate cache entry outlives the last time
// its container or pod was seen. The kubelet keeps its CPU cache as long.
const DefaultRatePurgeAfter = 10 * time.Minute

// cpuSample is one reading of a cumulative CPU counter.
type cpuSample struct {
	ts    int64  // sample time, Unix nanoseconds
	total uint64 // usageCoreNanoSeconds
}

// rateEntry keeps, per container or pod, the newest sample, the one before it,
// and the rate between them.
type rateEntry struct {
	prev, last cpuSample
	hasPrev    bool
	rate       *uint64 // nanocores between prev and last; nil when unknown
	// reset says last showed the counter going backwards, so that every
	// reader of that same sample is told so, not only the first.
	reset bool
	seen  time.Time
}

// rateKey names a rate cache entry: a container's or a pod sandbox's CPU
// counter, by runtime ID. A struct, not a joined string, so a lookup allocates
// nothing.
type rateKey struct {
	pod bool
	id  string
}

// rateCache computes usageNanoCores from successive counter samples. It does
// not belong to one caller: every reader feeds it and an entry only moves
// forward when a sample is newer than the one it holds, so concurrent readers
// cannot shrink each other's interval to nothing. It is safe for concurrent use.
type rateCache struct {
	mu      sync.Mutex
	entries map[rateKey]*rateEntry
}

func newRateCache() *rateCache {
	return &rateCache{entries: map[rateKey]*rateEntry{}}
}

// observe records s under key and returns the rate that ends at s (or at the
// sample s is indistinguishable from), and whether s shows the counter going
// backwards (a reset: the container's cgroup was recreated, or the runtime
// restarted it under the same ID). The rate is nil on the first sample, after
// a reset, for a non-positive interval and when the arithmetic overflows.
func (c *rateCache) observe(key rateKey, s cpuSample, now time.Time) (rate *uint64, reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		c.entries[key] = &rateEntry{last: s, seen: now}
		return nil, false
	}
	e.seen = now
	dt := s.ts - e.last.ts
	switch {
	case s.total < e.last.total && dt >= 0:
		// Counter went backwards: start over from this sample.
		*e = rateEntry{last: s, seen: now, reset: true}
		return nil, true
	case dt == 0 && s.total == e.last.total:
		// The same sample another reader already recorded (a reset for
		// one reader is a reset for all).
		return clonePtr(e.rate), e.reset
	case dt <= 0:
		// Older than what is held (a slower concurrent reader) or a clash of
		// timestamps: measure against the sample before, if that is older.
		if e.hasPrev && s.ts > e.prev.ts && s.total >= e.prev.total {
			return nanoCores(s.total-e.prev.total, s.ts-e.prev.ts), false
		}
		return nil, false
	case time.Duration(dt) < minRateWindow:
		// Too close to the held sample to measure a rate over: keep the one
		// already known rather than advancing.
		if s.total == e.last.total || e.rate != nil {
			return clonePtr(e.rate), false
		}
		if e.hasPrev && s.ts > e.prev.ts && s.total >= e.prev.total {
			return nanoCores(s.total-e.prev.total, s.ts-e.prev.ts), false
		}
		return nil, false
	default:
		r := nanoCores(s.total-e.last.total, dt)
		e.prev, e.hasPrev, e.last, e.rate, e.reset = e.last, true, s, r, false
		return clonePtr(r), false
	}
}

// purge drops the entries not seen since before cutoff.
func (c *rateCache) purge(cutoff time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.seen.Before(cutoff) {
			delete(c.entries, k)
		}
	}
}

// len is the number of entries held.
func (c *rateCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// nanoCores is delta core-nanoseconds over dt nanoseconds, in nanocores
// (delta·1e9/dt), computed exactly in 128 bits. It is nil when dt ≤ 0 or the
// result does not fit in 64 bits.
func nanoCores(delta uint64, dt int64) *uint64 {
	if dt <= 0 {
		return nil
	}
	hi, lo := bits.Mul64(delta, uint64(time.Second))
	if hi >= uint64(dt) {
		return nil // the quotient would overflow (and Div64 would panic)
	}
	q, _ := bits.Div64(hi, lo, uint64(dt))
	return &q
}

func clonePtr(p *uint64) *uint64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// chooseNanoCores decides the usageNanoCores to report from the runtime's
// value and the rate computed from our own samples. Our rate wins whenever we
// have one: it is measured between two of our own samples, so its window is
// the interval between our reads. The runtime's is not: containerd 1.x keeps
// one previous sample per container for every CRI client (the kubelet,
// metrics-server, this receiver) and computes the rate since whichever of them
// asked last, a window that can be milliseconds wide; CRI-O's has no reset
// guard. The runtime's value stands in only when we have none (our first
// sample of a container); a 0 from a runtime that reports 0 for "no rate
// yet" — containerd before 2.3, even for a busy container, and any runtime
// runtimeTable does not name — has already been made nil by the caller
// (assembly.cpu). After a counter reset seen in our samples the rate is
// unknown (nil) whatever the runtime says.
func chooseNanoCores(runtime *uint64, computed *uint64, reset bool) *uint64 {
	switch {
	case reset:
		return nil
	case computed != nil:
		return computed
	case runtime != nil:
		return clonePtr(runtime)
	default:
		return nil
	}
}
