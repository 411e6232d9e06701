package statssummaryreceiver

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/server"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// soakEnv names the variable that sets how long TestSoak runs (a Go
// duration); `make soak` sets it. Without it the soak runs briefly, as part
// of the ordinary suite.
const soakEnv = "STATSSUMMARY_SOAK"

// TestSoak runs the whole receiver with a real ticker (100 ms interval) and
// its JSON endpoint against a 50-pod runtime whose mood changes every half
// second: healthy, an RPC failing with a rotating code, a hanging RPC, killed
// and restarted, pods churning. Four HTTP clients read all along. It checks
// that scrapes keep reaching the consumer, no data point is NaN, infinite or
// negative, the endpoint answers only 200 or 503, the heap does not grow
// from the first quarter of the run to the end, and that once the runtime is
// healthy again a complete scrape follows. TestMain's goleak check covers
// goroutines.
func TestSoak(t *testing.T) {
	duration := 3 * time.Second
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "%s", soakEnv)
		duration = d
	}
	const interval = 100 * time.Millisecond

	dir, err := os.MkdirTemp("", "soak")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")
	states := []crifake.State{
		crifake.Synthetic(crifake.SyntheticNode{Pods: 50, ContainersPerPod: 3}),
		crifake.Synthetic(crifake.SyntheticNode{Pods: 40, ContainersPerPod: 2}),
	}
	wantResources := map[int]bool{50 * 4: true, 40 * 3: true}

	var mu sync.Mutex // guards cri
	cri, err := crifake.Start(sock)
	require.NoError(t, err)
	cri.SetState(states[0])
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if cri != nil {
			cri.Stop()
		}
	})

	var scrapes, complete, lastResources atomic.Int64
	var badPoint atomic.Value
	next, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		scrapes.Add(1)
		n := md.ResourceMetrics().Len()
		lastResources.Store(int64(n))
		if wantResources[n] {
			complete.Add(1)
		}
		if msg := badPoints(md); msg != "" {
			badPoint.Store(msg)
		}
		return nil
	})
	require.NoError(t, err)

	cfg := newTestConfig("unix://" + sock)
	cfg.CollectionInterval = interval
	cfg.InitialDelay = 0
	cfg.CRI.Timeout = 80 * time.Millisecond
	cfg.Server = serverConfig(t, "127.0.0.1:0", 0)
	r, err := newMetricsReceiver(cfg, receivertest.NewNopSettings(metadata.Type), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.WithoutCancel(t.Context()))) })
	sr, ok := r.(*statsReceiver)
	require.True(t, ok)
	url := "http://" + sr.scraper.server.addr.String() + server.SummaryPath

	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	var wg sync.WaitGroup
	var answers sync.Map // status → count
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				f, err := fetch(ctx, client, url, nil)
				if err != nil {
					continue // the run ended mid-request
				}
				v, _ := answers.LoadOrStore(f.status, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		})
	}

	methods := []string{"ListPodSandbox", "ListContainers", "ListPodSandboxStats", "ListContainerStats", "Version"}
	errCodes := []codes.Code{codes.Unimplemented, codes.Unknown, codes.Internal, codes.ResourceExhausted, codes.Unavailable}
	var heapMid uint64
	start := time.Now()
	for step := 0; ctx.Err() == nil; step++ {
		mu.Lock()
		switch step % 6 {
		case 0: // healthy, the other node state
			cri.SetState(states[step/6%2])
		case 1:
			cri.SetError(methods[step%len(methods)], status.Error(errCodes[step/6%len(errCodes)], "soak"))
		case 2:
			for _, m := range methods {
				cri.SetError(m, nil)
			}
			cri.SetDelay(methods[step%len(methods)], time.Hour)
		case 3:
			for _, m := range methods {
				cri.SetDelay(m, 0)
			}
		case 4:
			cri.Stop()
			cri = nil
		case 5:
			cri, err = crifake.Start(sock)
			require.NoError(t, err)
			cri.SetState(states[0])
		}
		mu.Unlock()
		if heapMid == 0 && time.Since(start) > duration/4 {
			heapMid = heapInUse()
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	wg.Wait()

	// The runtime healthy again: a complete scrape follows within a few
	// intervals.
	mu.Lock()
	if cri == nil {
		cri, err = crifake.Start(sock)
		require.NoError(t, err)
	}
	cri.SetState(states[0])
	for _, m := range methods {
		cri.SetError(m, nil)
		cri.SetDelay(m, 0)
	}
	mu.Unlock()
	before := complete.Load()
	require.Eventually(t, func() bool { return complete.Load() > before }, waitFor, time.Millisecond, "a complete scrape after the faults")

	if msg, ok := badPoint.Load().(string); ok {
		t.Fatalf("bad data point: %s", msg)
	}
	counts := map[int]int64{}
	answers.Range(func(k, v any) bool {
		counts[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	for code := range counts {
		assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code, "answers: %v", counts)
	}
	heapEnd := heapInUse()
	if heapMid > 0 {
		assert.Less(t, heapEnd, heapMid*3/2+16<<20, "heap after a quarter of the run %d B, at the end %d B", heapMid, heapEnd)
	}
	t.Logf("soak %s: %d scrapes (%d complete), HTTP answers %v, heap %d → %d B", duration, scrapes.Load(), complete.Load(), counts, heapMid, heapEnd)
	assert.Positive(t, scrapes.Load())
}

// badPoints describes the first NaN, infinite or negative data point in md.
func badPoints(md pmetric.Metrics) string {
	var bad string
	testkit.ForEachNumberPoint(md, func(name string, dp pmetric.NumberDataPoint) {
		if bad != "" {
			return
		}
		if v := dp.DoubleValue(); dp.ValueType() == pmetric.NumberDataPointValueTypeDouble && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
			bad = fmt.Sprintf("%s = %v", name, v)
		}
		if v := dp.IntValue(); dp.ValueType() == pmetric.NumberDataPointValueTypeInt && v < 0 {
			bad = fmt.Sprintf("%s = %d", name, v)
		}
	})
	return bad
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
