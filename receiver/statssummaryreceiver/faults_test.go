package statssummaryreceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// fullResources is what a healthy scrape of twoPodsState or strictState
// emits for pods: 3 pods and their 5 containers.
const fullResources = 8

// podResources counts the pod and container resources in md (those with a
// pod UID); node-level resources, which the runtime does not feed, are left
// out of the count.
func podResources(md pmetric.Metrics) int {
	n := 0
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		if _, ok := md.ResourceMetrics().At(i).Resource().Attributes().Get("k8s.pod.uid"); ok {
			n++
		}
	}
	return n
}

// waitFor bounds every wait of the fault tests; it is far beyond any deadline
// a test asserts.
const waitFor = 15 * time.Second

// faultRig is the whole receiver (factory path, scraper controller, store)
// against a CRI test server on a real unix socket that the test can kill,
// restart or move. Scrapes are driven by a ticker channel, so "one interval"
// is one tick. Logs go to an observer and the receiver's own telemetry (the
// scraper helper's counters) to an in-memory reader.
type faultRig struct {
	t      *testing.T
	dir    string
	socket string // the socket path the receiver is configured with
	state  crifake.State
	cri    *crifake.Server // nil while the runtime is down

	tick chan time.Time
	sink *consumertest.MetricsSink
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
	r    receiver.Metrics
}

// rigOptions change the rig's configuration before Start.
type rigOptions struct {
	absent   bool                     // no runtime at Start
	state    crifake.State            // twoPodsState when empty
	timeout  time.Duration            // cri.timeout; 5 s when 0
	interval time.Duration            // collection interval; an hour (ticks drive scrapes) when 0
	endpoint string                   // the configured socket when not the rig's own
	ticker   bool                     // drive scrapes by the controller's own ticker
	delays   map[string]time.Duration // set on the runtime before Start
}

func newFaultRig(t *testing.T, o rigOptions) *faultRig {
	t.Helper()
	// t.TempDir paths can exceed the 108-byte limit of a socket path.
	dir, err := os.MkdirTemp("", "faults")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	rig := &faultRig{t: t, dir: dir, socket: filepath.Join(dir, "cri.sock"), state: o.state}
	if rig.state.Sandboxes == nil {
		rig.state = twoPodsState()
	}
	if !o.absent {
		srv := rig.startCRI(rig.socket)
		for m, d := range o.delays {
			srv.SetDelay(m, d)
		}
	}
	endpoint := rig.socket
	if o.endpoint != "" {
		endpoint = o.endpoint
	}

	core, logs := observer.New(zapcore.DebugLevel)
	rig.logs = logs
	rig.tel = componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, rig.tel.Shutdown(context.WithoutCancel(t.Context()))) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = rig.tel.NewTelemetrySettings()
	set.Logger = zap.New(core)

	cfg := newTestConfig("unix://" + endpoint)
	cfg.InitialDelay = 0
	cfg.CRI.Timeout = 5 * time.Second
	if o.timeout > 0 {
		cfg.CRI.Timeout = o.timeout
	}
	if o.interval > 0 {
		cfg.CollectionInterval = o.interval
	}
	tr := startReceiver(t, cfg, set, o.ticker)
	rig.r, rig.tick, rig.sink = tr.r, tr.tick, tr.sink
	return rig
}

// startCRI starts the runtime on path with the rig's state.
func (rig *faultRig) startCRI(path string) *crifake.Server {
	rig.t.Helper()
	srv, err := crifake.Start(path)
	require.NoError(rig.t, err)
	srv.SetState(rig.state)
	rig.t.Cleanup(srv.Stop)
	rig.cri = srv
	return srv
}

// killCRI stops the runtime: its listener and every connection close at once.
func (rig *faultRig) killCRI() {
	rig.cri.Stop()
	rig.cri = nil
}

// first waits for the scrape the controller makes at Start.
func (rig *faultRig) first() pmetric.Metrics { return rig.waitScrape(1) }

// scrape ticks once and waits for that scrape's metrics.
func (rig *faultRig) scrape() pmetric.Metrics {
	rig.t.Helper()
	n := len(rig.sink.AllMetrics())
	select {
	case rig.tick <- time.Now():
	case <-time.After(waitFor):
		rig.t.Fatal("the controller did not take the tick: a scrape is stuck")
	}
	return rig.waitScrape(n + 1)
}

func (rig *faultRig) waitScrape(n int) pmetric.Metrics {
	rig.t.Helper()
	require.Eventually(rig.t, func() bool { return len(rig.sink.AllMetrics()) >= n }, waitFor, time.Millisecond, "scrape %d never reached the consumer", n)
	return rig.sink.AllMetrics()[n-1]
}

// counter is the receiver's own counter name (otelcol_scraper_…) summed
// over its data points; 0 when nothing was recorded yet.
func (rig *faultRig) counter(name string) int64 {
	rig.t.Helper()
	m, err := rig.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(rig.t, ok, "%s is %T", name, m.Data)
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
	}
	return total
}

func (rig *faultRig) errored() int64 { return rig.counter("otelcol_scraper_errored_metric_points") }

// sourceErrors is the receiver's own count of failed sources for source
// ("" for every source).
func (rig *faultRig) sourceErrors(source string) int64 {
	rig.t.Helper()
	m, err := rig.tel.GetMetric("otelcol_receiver_stats_summary_source_errors")
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(rig.t, ok, "source errors are %T", m.Data)
	var total int64
	for _, dp := range sum.DataPoints {
		if v, _ := dp.Attributes.Value("source"); source == "" || v.AsString() == source {
			total += dp.Value
		}
	}
	return total
}

// scrapeErrors returns the errors the scraper helper logged, oldest first.
func (rig *faultRig) scrapeErrors() []string {
	var out []string
	for _, e := range rig.logs.FilterMessage("Error scraping metrics").All() {
		require.Equal(rig.t, zapcore.ErrorLevel, e.Level)
		out = append(out, fmt.Sprint(e.ContextMap()["error"]))
	}
	return out
}

// requireFault checks one failed scrape of the runtime: what the healthy
// sources gave (wantResources), one more logged error holding every want,
// and the error counters moved by one failed source: the scraper helper's
// errored points and the receiver's own source errors for "cri".
func (rig *faultRig) requireFault(md pmetric.Metrics, wantResources int, errorsBefore int, erroredBefore int64, want ...string) {
	rig.t.Helper()
	assert.Equal(rig.t, wantResources, podResources(md), "pod and container resources of the partial scrape")
	logged := rig.scrapeErrors()
	require.Len(rig.t, logged, errorsBefore+1, "one more scrape error logged")
	for _, w := range want {
		assert.Contains(rig.t, logged[len(logged)-1], w)
	}
	assert.Equal(rig.t, erroredBefore+1, rig.errored(), "errored metric points: one failed source")
	assert.Equal(rig.t, erroredBefore+1, rig.sourceErrors("cri"), "source errors of cri")
	assert.Equal(rig.t, erroredBefore+1, rig.sourceErrors(""), "source errors of any source")
}

// requireHealthy checks a complete scrape: every resource, no new error.
func (rig *faultRig) requireHealthy(md pmetric.Metrics, errorsBefore int, erroredBefore int64) {
	rig.t.Helper()
	assert.Equal(rig.t, fullResources, podResources(md), "pod and container resources of a complete scrape")
	assert.Len(rig.t, rig.scrapeErrors(), errorsBefore, "no new scrape error")
	assert.Equal(rig.t, erroredBefore, rig.errored(), "errored metric points unchanged")
	assert.Equal(rig.t, erroredBefore, rig.sourceErrors(""), "source errors unchanged")
}

// strictState is twoPodsState served by a runtime that implements
// ListPodSandboxStats: each listed sandbox with its containers' stats.
func strictState() crifake.State {
	st := twoPodsState()
	bySandbox := map[string][]*runtimeapi.ContainerStats{}
	stats := map[string]*runtimeapi.ContainerStats{}
	for _, s := range st.ContainerStats {
		stats[s.GetAttributes().GetId()] = s
	}
	for _, c := range st.Containers {
		if s, ok := stats[c.GetId()]; ok {
			bySandbox[c.GetPodSandboxId()] = append(bySandbox[c.GetPodSandboxId()], s)
		}
	}
	st.PodSandboxStats = []*runtimeapi.PodSandboxStats{}
	for _, sb := range st.Sandboxes {
		st.PodSandboxStats = append(st.PodSandboxStats, &runtimeapi.PodSandboxStats{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.GetId(), Metadata: sb.GetMetadata()},
			Linux:      &runtimeapi.LinuxPodSandboxStats{Containers: bySandbox[sb.GetId()]},
		})
	}
	return st
}

// TestFaultSocketAbsentAtStart: no runtime when the receiver starts. Start
// succeeds and says which socket is missing; scrapes are partial and name the
// socket; the first scrape after the runtime appears is complete.
func TestFaultSocketAbsentAtStart(t *testing.T) {
	rig := newFaultRig(t, rigOptions{absent: true})
	assert.Equal(t, 1, rig.logs.FilterMessage("container runtime socket not reachable; scrapes will keep trying it").Len())

	rig.requireFault(rig.first(), 0, 0, 0, "ListPodSandbox", "code = Unavailable", "runtime socket "+rig.socket)
	rig.requireFault(rig.scrape(), 0, 1, 1, "runtime socket "+rig.socket)
	assert.Equal(t, 1, rig.logs.FilterMessage("stats sources failing; scrapes are partial until they recover").Len(), "said once, not per scrape")

	rig.startCRI(rig.socket)
	rig.requireHealthy(rig.scrape(), 2, 2)
	assert.Equal(t, 1, rig.logs.FilterMessage("stats sources recovered").Len())
}

// TestFaultRuntimeKilledMidScrape kills the runtime while a scrape waits on
// it. The scrape ends at once (not at cri.timeout) as a partial scrape naming
// the RPC; after a restart on the same path (a new socket file), the next
// scrape is complete.
func TestFaultRuntimeKilledMidScrape(t *testing.T) {
	rig := newFaultRig(t, rigOptions{timeout: time.Hour})
	rig.requireHealthy(rig.first(), 0, 0)

	rig.cri.SetDelay("ListContainerStats", time.Hour)
	calls := rig.cri.Calls("ListContainerStats")
	n := len(rig.sink.AllMetrics())
	rig.tick <- time.Now()
	require.Eventually(t, func() bool { return rig.cri.Calls("ListContainerStats") == calls+1 }, waitFor, time.Millisecond, "the scrape reached ListContainerStats")
	rig.killCRI()
	rig.requireFault(rig.waitScrape(n+1), 0, 0, 0, "ListContainerStats", "code = Unavailable")

	rig.startCRI(rig.socket)
	rig.requireHealthy(rig.scrape(), 1, 1)
}

// TestFaultRuntimeRestartAfterDowntime keeps the runtime down for several
// scrapes, long enough for gRPC's reconnect backoff to grow, then restarts it:
// the first scrape after the restart must be complete, not wait out a backoff.
func TestFaultRuntimeRestartAfterDowntime(t *testing.T) {
	rig := newFaultRig(t, rigOptions{})
	rig.requireHealthy(rig.first(), 0, 0)

	rig.killCRI()
	for i := range 3 {
		rig.requireFault(rig.scrape(), 0, i, int64(i), "code = Unavailable")
	}
	rig.startCRI(rig.socket)
	rig.requireHealthy(rig.scrape(), 3, 3)
}

// TestFaultRuntimeNewSocketPath: the configured endpoint is a symlink (as a
// host path mounted into a DaemonSet often is). The runtime restarts on a new
// socket path and the link is moved to it: the next scrape follows it. While
// the link dangles, the error names the configured socket.
func TestFaultRuntimeNewSocketPath(t *testing.T) {
	dir, err := os.MkdirTemp("", "faults")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	link := filepath.Join(dir, "cri.sock")

	rig := newFaultRig(t, rigOptions{endpoint: link})
	rig.requireFault(rig.first(), 0, 0, 0, "runtime socket "+link) // no link yet
	require.NoError(t, os.Symlink(rig.socket, link))
	rig.requireHealthy(rig.scrape(), 1, 1)

	rig.killCRI()
	rig.requireFault(rig.scrape(), 0, 1, 1, "code = Unavailable")
	rig.requireFault(rig.scrape(), 0, 2, 2, link) // the runtime's gone: the error names the socket

	moved := filepath.Join(rig.dir, "new.sock")
	rig.startCRI(moved)
	tmp := filepath.Join(dir, "cri.sock.new")
	require.NoError(t, os.Symlink(moved, tmp))
	require.NoError(t, os.Rename(tmp, link))
	rig.requireHealthy(rig.scrape(), 3, 3)
}

// TestFaultRPCErrors makes one RPC answer an error code, scrape, clear it and
// scrape again. Every code is an error naming the RPC and the code, except on
// ListPodSandboxStats: Unimplemented is the runtime saying it lacks the
// strict path, and any other error it answers (containerd 2.x fails it on
// every systemd-driver node) makes the strict path unusable for now: either
// way the same scrape reads ListContainerStats instead.
func TestFaultRPCErrors(t *testing.T) {
	codesUnderTest := []codes.Code{codes.Unimplemented, codes.Unknown, codes.Internal, codes.ResourceExhausted}
	methods := []struct {
		name   string
		strict bool // the runtime implements ListPodSandboxStats
	}{
		{"ListPodSandbox", false},
		{"ListContainers", false},
		{"ListContainerStats", false},
		{"Version", false}, // asked once per scrape on the partial path
		{"ListPodSandbox", true},
		{"ListContainers", true},
		{"ListPodSandboxStats", true},
	}
	for _, m := range methods {
		for _, code := range codesUnderTest {
			path := "partial"
			if m.strict {
				path = "strict"
			}
			t.Run(fmt.Sprintf("%s/%s/%s", path, m.name, code), func(t *testing.T) {
				st := twoPodsState()
				if m.strict {
					st = strictState()
				}
				rig := newFaultRig(t, rigOptions{state: st})
				rig.requireHealthy(rig.first(), 0, 0)

				rig.cri.SetError(m.name, status.Error(code, "injected "+code.String()))
				md := rig.scrape()
				if m.name == "ListPodSandboxStats" {
					rig.requireHealthy(md, 0, 0)
					assert.Equal(t, 1, rig.cri.Calls("ListContainerStats"), "fell back within the scrape")
					return
				}
				rig.requireFault(md, 0, 0, 0, "cri "+m.name, "code = "+code.String(), "injected "+code.String())

				rig.cri.SetError(m.name, nil)
				rig.requireHealthy(rig.scrape(), 1, 1)
			})
		}
	}
}

// TestFaultResponseTooLarge: a runtime whose ListContainers answer exceeds the
// client's 16 MiB limit gets ResourceExhausted from gRPC itself, a partial
// scrape, and recovery once the answer shrinks.
func TestFaultResponseTooLarge(t *testing.T) {
	rig := newFaultRig(t, rigOptions{})
	rig.requireHealthy(rig.first(), 0, 0)

	big := twoPodsState()
	filler := strings.Repeat("x", 1<<20)
	for i := range 17 {
		big.Containers = append(big.Containers, &runtimeapi.Container{
			Id: fmt.Sprintf("c-big-%d", i), PodSandboxId: "sb-gone", State: runtimeapi.ContainerState_CONTAINER_EXITED,
			Labels: map[string]string{"filler": filler},
		})
	}
	rig.cri.SetState(big)
	rig.requireFault(rig.scrape(), 0, 0, 0, "cri ListContainers", "code = ResourceExhausted")

	rig.cri.SetState(rig.state)
	rig.requireHealthy(rig.scrape(), 1, 1)
}

// TestFaultHangingRPC makes one RPC hang: the call ends at cri.timeout, the
// scrape returns well within its interval as a partial scrape naming the RPC
// and DeadlineExceeded, and the next scrape after the hang ends is complete.
func TestFaultHangingRPC(t *testing.T) {
	const criTimeout = 300 * time.Millisecond
	for _, method := range []string{"ListPodSandbox", "ListContainers", "ListContainerStats", "Version"} {
		t.Run(method, func(t *testing.T) {
			rig := newFaultRig(t, rigOptions{timeout: criTimeout})
			rig.requireHealthy(rig.first(), 0, 0)

			rig.cri.SetDelay(method, time.Hour)
			start := time.Now()
			md := rig.scrape()
			took := time.Since(start)
			rig.requireFault(md, 0, 0, 0, "cri "+method, "code = DeadlineExceeded")
			// Bounded, not timed: the call hangs for an hour, and a loaded
			// 2-core machine running -race can add seconds to the timeout.
			assert.Less(t, took, criTimeout+10*time.Second, "the hanging call is bounded by cri.timeout")

			rig.cri.SetDelay(method, 0)
			rig.requireHealthy(rig.scrape(), 1, 1)
		})
	}
}

// TestFaultScrapeNeverOutlivesInterval: every call answers within cri.timeout,
// but slowly enough that together they take longer than the collection
// interval. The scrape ends by the interval with a partial scrape naming the
// call in flight, and the receiver's error counter moves.
func TestFaultScrapeNeverOutlivesInterval(t *testing.T) {
	const interval = time.Second
	const slow = 700 * time.Millisecond
	start := time.Now()
	rig := newFaultRig(t, rigOptions{timeout: interval, interval: interval, delays: map[string]time.Duration{
		"ListPodSandbox": slow, "ListContainers": slow, "ListPodSandboxStats": slow, "ListContainerStats": slow,
	}})
	md := rig.first()
	took := time.Since(start)
	assert.Less(t, took, interval+10*time.Second, "the scrape is bounded by the collection interval (the calls together take 2.8 s; bounded, not timed)")
	rig.requireFault(md, 0, 0, 0, "ListContainers", "DeadlineExceeded")
}
