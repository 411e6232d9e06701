//go:build !race

// The race detector's shadow memory and slower allocator make heap figures
// meaningless; this test runs without it.

package statssummaryreceiver

import (
	"runtime"
	"testing"

	"github.com/statssummary/statssummary/internal/crifake"
)

// TestHeapDoesNotGrowOverScrapes scrapes the same 110-pod node 1000 times and
// checks that the live heap after the last scrape is no larger than after the
// 100th, once the rate cache, gRPC buffers and the metrics builder have grown
// to their size, give or take a slack for allocator noise. It bounds memory,
// not time.
func TestHeapDoesNotGrowOverScrapes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1000 scrapes of a 110-pod node take seconds; make test runs this without -short and without -race")
	}
	const (
		scrapes = 1000
		warmUp  = 100
		slack   = 1 << 20 // bytes
	)
	s, _ := startBenchScraper(t, crifake.SyntheticNode{Pods: 110, ContainersPerPod: 3})
	live := func() uint64 {
		runtime.GC() // twice: sync.Pool victims survive one collection
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var after []uint64 // live heap after scrape warmUp, the middle one and the last
	for i := 1; i <= scrapes; i++ {
		md, err := s.scrape(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if md.DataPointCount() == 0 {
			t.Fatal("empty scrape")
		}
		if i == warmUp || i == (warmUp+scrapes)/2 || i == scrapes {
			after = append(after, live())
		}
	}
	t.Logf("live heap after scrape %d: %d B; after %d: %d B; after %d: %d B",
		warmUp, after[0], (warmUp+scrapes)/2, after[1], scrapes, after[2])
	if bound := after[0] + max(slack, after[0]/10); after[2] > bound {
		t.Errorf("live heap grew from %d B after %d scrapes to %d B after %d (bound %d B)", after[0], warmUp, after[2], scrapes, bound)
	}
}
