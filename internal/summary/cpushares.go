package summary

// The kubelet turns a container's CPU request into cgroup v1 cpu.shares:
// shares = request in millicores × 1024 / 1000, rounded down, at least 2 (a
// request of 0, BestEffort, is 2) and at most 262144
// (pkg/kubelet/cm MilliCPUToShares). On cgroup v2, runc (1.1, as Debian ships
// it) writes cpu.weight = 1 + ((shares − 2) × 9999) / 262142, rounded down
// (libcontainer/cgroups ConvertCPUSharesToCgroupV2Value). Both are inverted
// here, for a container whose runtime does not report its resources.

const (
	minShares = 2
	maxShares = 262144
)

// sharesToMillicores inverts the kubelet's shares. Each request of 2m or more
// has shares of its own (1024/1000 > 1), so the inverse is exact: the
// smallest request with those shares, ⌈shares × 1000 / 1024⌉. Shares of 2 or
// less are no request (0): requests of 1m and 2m, which the kubelet also
// writes as 2, read as none.
func sharesToMillicores(shares uint64) uint64 {
	if shares <= minShares {
		return 0
	}
	shares = min(shares, maxShares)
	return (shares*1000 + 1023) / 1024
}

// weightToMillicores inverts cgroup v2's cpu.weight back to a request. The
// weight is coarse — one step is about 26 shares, 25 millicores — so every
// request in a step has the same weight: the one reported is the roundest
// millicore value the step holds (the first of 1000, 500, 100, 50, 10, 5 and
// 1 that divides one; of several, the one nearest the middle of the step),
// which is exact for requests that are multiples of 50m and within the step
// (±25m) otherwise. A weight of 1 — shares up to 28, requests up to 27m, and
// BestEffort's 2 — is no request (0). runc 1.4 and crun map shares to weight
// by other formulas; there the runtime's own ContainerStatus resources, which
// carry the shares themselves, are what is read.
func weightToMillicores(w uint64) uint64 {
	if w <= 1 {
		return 0
	}
	w = min(w, 10000)
	// The shares s with 1 + (s−2)×9999/262142 = w: 2 + ⌈(w−1)×262142/9999⌉
	// up to 2 + ⌈w×262142/9999⌉ − 1.
	sLo := 2 + ((w-1)*262142+9998)/9999
	sHi := min(2+(w*262142+9998)/9999-1, maxShares)
	// The millicores m with sLo ≤ ⌊m×1024/1000⌋ ≤ sHi.
	mLo := (sLo*1000 + 1023) / 1024
	mHi := ((sHi+1)*1000+1023)/1024 - 1
	mid2 := mLo + mHi // twice the middle
	for _, d := range [...]uint64{1000, 500, 100, 50, 10, 5, 1} {
		first := (mLo + d - 1) / d * d
		if first > mHi {
			continue
		}
		best := first
		for m := first; m <= mHi; m += d {
			if dist(2*m, mid2) < dist(2*best, mid2) {
				best = m
			}
		}
		return best
	}
	return mLo
}

func dist(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
