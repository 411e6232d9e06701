package summary

import "testing"

// The forward maps, as the kubelet (pkg/kubelet/cm MilliCPUToShares) and
// runc 1.1 (libcontainer/cgroups ConvertCPUSharesToCgroupV2Value) compute
// them, transcribed from their sources.
func kubeletShares(m uint64) uint64 {
	if m == 0 {
		return 2
	}
	s := m * 1024 / 1000
	if s < 2 {
		return 2
	}
	if s > 262144 {
		return 262144
	}
	return s
}

func runcWeight(shares uint64) uint64 { return 1 + ((shares-2)*9999)/262142 }

// TestSharesInverseIsExact: every request from 3m to 256 cores comes back
// from its cgroup v1 shares; 0, 1m and 2m (shares 2) read as no request.
func TestSharesInverseIsExact(t *testing.T) {
	for _, m := range []uint64{0, 1, 2} {
		if got := sharesToMillicores(kubeletShares(m)); got != 0 {
			t.Errorf("request %dm: got %dm, want none (shares 2)", m, got)
		}
	}
	for m := uint64(3); m <= 256000; m++ {
		if got := sharesToMillicores(kubeletShares(m)); got != m {
			t.Fatalf("request %dm (shares %d): got %dm", m, kubeletShares(m), got)
		}
	}
	if got := sharesToMillicores(1 << 20); got != 256000 {
		t.Errorf("shares above the kubelet's maximum: %dm, want 256000m", got)
	}
}

// TestWeightInverse: on cgroup v2 a request comes back exactly when it is a
// multiple of 50m (from 50m), and otherwise within the weight's step; the
// request reported always maps to the same weight; a weight of 1 (up to 27m)
// is no request.
func TestWeightInverse(t *testing.T) {
	for m := uint64(0); m <= 256000; m++ {
		w := runcWeight(kubeletShares(m))
		got := weightToMillicores(w)
		if w == 1 {
			if got != 0 {
				t.Fatalf("request %dm, weight 1: got %dm, want none", m, got)
			}
			continue
		}
		if runcWeight(kubeletShares(got)) != w {
			t.Fatalf("request %dm, weight %d: got %dm, whose weight is %d", m, w, got, runcWeight(kubeletShares(got)))
		}
		if m%50 == 0 && got != m {
			t.Fatalf("request %dm (weight %d): got %dm, want it exactly", m, w, got)
		}
		if dist(got, m) > 26 {
			t.Fatalf("request %dm (weight %d): got %dm, more than a step away", m, w, got)
		}
	}
	for _, tt := range []struct{ w, want uint64 }{{0, 0}, {1, 0}, {39, 1000}, {4, 100}, {10, 250}, {10000, 256000}, {20000, 256000}} {
		if got := weightToMillicores(tt.w); got != tt.want {
			t.Errorf("weight %d: %dm, want %dm", tt.w, got, tt.want)
		}
	}
}
