package statssummaryreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// base is the CRI timestamp origin of the fixture: sandboxes and containers are
// created at base, stats sampled 100 s later.
var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func ns(d time.Duration) int64 { return base.Add(d).UnixNano() }

func u64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }

// twoPodsState is 2 ready pods × 2 running containers, plus what must be left
// out: an EXITED container, and a running container whose sandbox the runtime
// does not list. It also has a NOTREADY sandbox, the only one of its pod, with
// a running container: as in the kubelet, a pod with no READY sandbox keeps its
// newest one, so that pod and its running container are reported.
func twoPodsState() crifake.State {
	sandbox := func(id, name, uid string, state runtimeapi.PodSandboxState) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{
			Id:        id,
			Metadata:  &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "shop", Uid: uid},
			State:     state,
			CreatedAt: ns(0),
		}
	}
	container := func(id, sandboxID, name string, state runtimeapi.ContainerState, attempt uint32) *runtimeapi.Container {
		return &runtimeapi.Container{
			Id:           id,
			PodSandboxId: sandboxID,
			Metadata:     &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
			State:        state,
			CreatedAt:    ns(10 * time.Second),
		}
	}
	stats := func(id string, cpuNs, nanoCores, ws, usage, rss, avail uint64) *runtimeapi.ContainerStats {
		return &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: id},
			Cpu: &runtimeapi.CpuUsage{
				Timestamp:            ns(100 * time.Second),
				UsageCoreNanoSeconds: u64(cpuNs),
				UsageNanoCores:       u64(nanoCores),
			},
			Memory: &runtimeapi.MemoryUsage{
				Timestamp:       ns(100 * time.Second),
				WorkingSetBytes: u64(ws),
				UsageBytes:      u64(usage),
				RssBytes:        u64(rss),
				AvailableBytes:  u64(avail),
				PageFaults:      u64(1000),
				MajorPageFaults: u64(3),
			},
		}
	}
	R, X := runtimeapi.ContainerState_CONTAINER_RUNNING, runtimeapi.ContainerState_CONTAINER_EXITED
	return crifake.State{
		ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
			Timestamp: ns(100 * time.Second), UsedBytes: u64(3 << 30), InodesUsed: u64(12000),
		}}},
		Sandboxes: []*runtimeapi.PodSandbox{
			sandbox("sb-web", "web", "uid-web", runtimeapi.PodSandboxState_SANDBOX_READY),
			sandbox("sb-db", "db", "uid-db", runtimeapi.PodSandboxState_SANDBOX_READY),
			sandbox("sb-old", "old", "uid-old", runtimeapi.PodSandboxState_SANDBOX_NOTREADY),
		},
		Containers: []*runtimeapi.Container{
			container("c-nginx", "sb-web", "nginx", R, 0),
			container("c-sidecar", "sb-web", "sidecar", R, 2),
			container("c-sidecar-old", "sb-web", "sidecar", X, 1),
			container("c-postgres", "sb-db", "postgres", R, 0),
			container("c-exporter", "sb-db", "exporter", R, 0),
			container("c-old", "sb-old", "old", R, 0),
			container("c-orphan", "sb-gone", "orphan", R, 0),
		},
		ContainerStats: []*runtimeapi.ContainerStats{
			stats("c-nginx", 1_500_000_000, 250_000_000, 100<<20, 150<<20, 80<<20, 400<<20),
			stats("c-sidecar", 500_000_000, 50_000_000, 20<<20, 30<<20, 10<<20, 0),
			stats("c-sidecar-old", 9_000_000_000, 9, 9, 9, 9, 9),
			stats("c-postgres", 12_000_000_000, 1_000_000_000, 512<<20, 700<<20, 400<<20, 512<<20),
			stats("c-exporter", 250_000_000, 10_000_000, 8<<20, 12<<20, 6<<20, 0),
			stats("c-old", 7, 7, 7, 7, 7, 7),
			stats("c-orphan", 7, 7, 7, 7, 7, 7),
		},
	}
}

// resourceKey identifies a resource in the output by pod name and container name
// ("" for the pod itself).
type resourceKey struct{ pod, container string }

type scraped struct {
	attrs  map[string]string
	start  pcommon.Timestamp
	values map[string]float64 // metric name → value (double or int as float)
	ts     map[string]pcommon.Timestamp
}

func index(t *testing.T, md pmetric.Metrics) map[resourceKey]scraped {
	t.Helper()
	out := map[resourceKey]scraped{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		attrs := map[string]string{}
		for k, v := range rm.Resource().Attributes().All() {
			attrs[k] = v.Str()
		}
		key := resourceKey{attrs["k8s.pod.name"], attrs["k8s.container.name"]}
		_, dup := out[key]
		require.False(t, dup, "resource %v emitted twice", key)
		s := scraped{attrs: attrs, values: map[string]float64{}, ts: map[string]pcommon.Timestamp{}}
		ms := rm.ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			dps, ok := numberPoints(m)
			if !ok {
				t.Fatalf("metric %s has unexpected type %s", m.Name(), m.Type())
			}
			require.Equal(t, 1, dps.Len(), "metric %s", m.Name())
			dp := dps.At(0)
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				s.values[m.Name()] = float64(dp.IntValue())
			} else {
				s.values[m.Name()] = dp.DoubleValue()
			}
			s.ts[m.Name()] = dp.Timestamp()
			s.start = dp.StartTimestamp()
		}
		out[key] = s
	}
	return out
}

func newTestConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NodeName = "node-a"
	cfg.CRI.Endpoint = endpoint
	cfg.CollectionInterval = time.Hour // scrapes are driven by the test's ticker
	// The node and its system containers come from this machine's cgroups and
	// filesystems: their values are not the fixture's, so these tests leave
	// them out (the scenarios and nodestats tests cover them).
	cfg.MetricGroups = []MetricGroup{PodMetricGroup, ContainerMetricGroup}
	disableHostFilesystemMetrics(&cfg.Metrics)
	return cfg
}

// disableHostFilesystemMetrics turns off the pod and container filesystem
// metrics, whose capacity and usage are measured on this machine's disks (by a
// background walker), not taken from the CRI fixture.
func disableHostFilesystemMetrics(m *metadata.MetricsConfig) {
	m.K8sPodFilesystemAvailable.Enabled = false
	m.K8sPodFilesystemCapacity.Enabled = false
	m.K8sPodFilesystemUsage.Enabled = false
	m.ContainerFilesystemAvailable.Enabled = false
	m.ContainerFilesystemCapacity.Enabled = false
	m.ContainerFilesystemUsage.Enabled = false
	m.ContainerLogsUsage.Enabled = false
	m.ContainerLogsInodesUsed.Enabled = false
}

// TestReceiverEndToEnd drives the receiver through its factory against the CRI
// test server on a real unix socket and checks every value it emits, with the
// socket served as containerd serves it and as CRI-O does (cmux routing each
// connection by its first request's content-type).
func TestReceiverEndToEnd(t *testing.T) {
	for _, mode := range []crifake.Mode{crifake.ModePlain, crifake.ModeCRIO} {
		t.Run(string(mode), func(t *testing.T) { receiverEndToEnd(t, mode) })
	}
}

func receiverEndToEnd(t *testing.T, mode crifake.Mode) {
	srv := crifake.New(t, crifake.WithMode(mode))
	srv.SetState(twoPodsState())

	sink := new(consumertest.MetricsSink)
	tick := make(chan time.Time)
	set := receivertest.NewNopSettings(metadata.Type)
	cfg := newTestConfig(srv.Endpoint)
	cfg.InitialDelay = 0
	cfg.ResourceAttributes.ContainerID.Enabled = true // off by default; checked below
	r, err := newMetricsReceiver(cfg, set, sink, scraperhelper.WithTickerChannel(tick))
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	// One scrape at Start (initial delay 0), one for the tick: wait for both
	// before counting the runtime's calls.
	tick <- time.Now()
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) >= 2 }, 10*time.Second, 10*time.Millisecond)
	got := index(t, sink.AllMetrics()[0])

	const MiB = 1 << 20
	want := map[resourceKey]map[string]float64{
		{"web", "nginx"}: {
			"container.cpu.time": 1.5, "container.cpu.usage": 0.25,
			"container.memory.working_set": 100 * MiB, "container.memory.usage": 150 * MiB,
			"container.memory.rss": 80 * MiB, "container.memory.available": 400 * MiB,
			"container.memory.page_faults": 1000, "container.memory.major_page_faults": 3,
		},
		// The runtime's available 0: no pod cgroup here tells "no limit"
		// from "at its limit", so it is kept as the runtime (and the
		// kubelet) report it.
		{"web", "sidecar"}: {
			"container.cpu.time": 0.5, "container.cpu.usage": 0.05,
			"container.memory.working_set": 20 * MiB, "container.memory.usage": 30 * MiB,
			"container.memory.rss": 10 * MiB, "container.memory.available": 0,
			"container.memory.page_faults": 1000, "container.memory.major_page_faults": 3,
		},
		{"web", ""}: {
			"k8s.pod.cpu.time": 2.0, "k8s.pod.cpu.usage": 0.3,
			"k8s.pod.memory.working_set": 120 * MiB, "k8s.pod.memory.usage": 180 * MiB,
			"k8s.pod.memory.rss":         90 * MiB,
			"k8s.pod.memory.page_faults": 2000, "k8s.pod.memory.major_page_faults": 6,
		},
		{"db", "postgres"}: {
			"container.cpu.time": 12, "container.cpu.usage": 1,
			"container.memory.working_set": 512 * MiB, "container.memory.usage": 700 * MiB,
			"container.memory.rss": 400 * MiB, "container.memory.available": 512 * MiB,
			"container.memory.page_faults": 1000, "container.memory.major_page_faults": 3,
		},
		{"db", "exporter"}: {
			"container.cpu.time": 0.25, "container.cpu.usage": 0.01,
			"container.memory.working_set": 8 * MiB, "container.memory.usage": 12 * MiB,
			"container.memory.rss": 6 * MiB, "container.memory.available": 0,
			"container.memory.page_faults": 1000, "container.memory.major_page_faults": 3,
		},
		{"db", ""}: {
			"k8s.pod.cpu.time": 12.25, "k8s.pod.cpu.usage": 1.01,
			"k8s.pod.memory.working_set": 520 * MiB, "k8s.pod.memory.usage": 712 * MiB,
			"k8s.pod.memory.rss":         406 * MiB,
			"k8s.pod.memory.page_faults": 2000, "k8s.pod.memory.major_page_faults": 6,
		},
		{"old", "old"}: {
			"container.cpu.time": 7e-9, "container.cpu.usage": 7e-9,
			"container.memory.working_set": 7, "container.memory.usage": 7,
			"container.memory.rss": 7, "container.memory.available": 7,
			"container.memory.page_faults": 1000, "container.memory.major_page_faults": 3,
		},
		{"old", ""}: {
			"k8s.pod.cpu.time": 7e-9, "k8s.pod.cpu.usage": 7e-9,
			"k8s.pod.memory.working_set": 7, "k8s.pod.memory.usage": 7,
			"k8s.pod.memory.rss":         7,
			"k8s.pod.memory.page_faults": 1000, "k8s.pod.memory.major_page_faults": 3,
		},
	}
	require.Len(t, got, len(want), "resources: %v", keys(got))
	wantIDs := map[resourceKey]string{
		{"web", "nginx"}: "c-nginx", {"web", "sidecar"}: "c-sidecar",
		{"db", "postgres"}: "c-postgres", {"db", "exporter"}: "c-exporter",
		{"old", "old"}: "c-old",
	}
	uids := map[string]string{"web": "uid-web", "db": "uid-db", "old": "uid-old"}
	var scrapeTS pcommon.Timestamp
	for key, values := range want {
		g, ok := got[key]
		require.True(t, ok, "resource %v missing", key)
		assert.Len(t, g.values, len(values), "metrics of %v: %v", key, g.values)
		for name, v := range values {
			assert.InDelta(t, v, g.values[name], 1e-9, "%v %s", key, name)
		}
		assert.Equal(t, "node-a", g.attrs["k8s.node.name"], "%v", key)
		assert.Equal(t, "shop", g.attrs["k8s.namespace.name"], "%v", key)
		assert.Equal(t, uids[key.pod], g.attrs["k8s.pod.uid"], "%v", key)
		if key.container != "" {
			assert.Equal(t, wantIDs[key], g.attrs["container.id"], "%v", key)
			assert.Equal(t, pcommon.NewTimestampFromTime(base.Add(10*time.Second)), g.start, "%v start", key)
		} else {
			assert.NotContains(t, g.attrs, "container.id")
			assert.Equal(t, pcommon.NewTimestampFromTime(base), g.start, "%v start", key)
		}
		// One timestamp per scrape, on every data point.
		for name, ts := range g.ts {
			if scrapeTS == 0 {
				scrapeTS = ts
			}
			assert.Equal(t, scrapeTS, ts, "%v %s", key, name)
		}
	}
	assert.Equal(t, 2, srv.Calls("ListContainerStats"))
	// Every call the receiver made said exactly application/grpc: CRI-O's
	// socket refuses a connection whose first request says anything else.
	for rpc, types := range srv.ContentTypes() {
		assert.Equal(t, []string{"application/grpc"}, types, "content-type of %s", rpc)
	}
	assert.Contains(t, srv.ContentTypes(), "ListPodSandbox")
	assert.Zero(t, srv.RefusedConnections())
}

// TestReceiverPartialScrapeWhenRuntimeFails checks that a CRI failure is a
// partial scrape error naming the RPC, and that the next healthy scrape recovers.
func TestReceiverPartialScrapeWhenRuntimeFails(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	srv.SetError("ListContainerStats", status.Error(codes.Internal, "boom"))

	cfg := newTestConfig(srv.Endpoint)
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })

	md, err := s.scrape(t.Context())
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, "ListContainerStats")
	assert.ErrorContains(t, err, "code = Internal")
	assert.Equal(t, 0, md.ResourceMetrics().Len())

	srv.SetError("ListContainerStats", nil)
	md, err = s.scrape(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 8, md.ResourceMetrics().Len())
}

// TestReceiverStartsWithoutRuntime checks that a missing socket neither fails
// Start nor panics a scrape: the scrape reports the socket it tried.
func TestReceiverStartsWithoutRuntime(t *testing.T) {
	cfg := newTestConfig("unix:///nonexistent/statssummary-test.sock")
	cfg.CRI.Timeout = 200 * time.Millisecond
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })

	md, err := s.scrape(t.Context())
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, "ListPodSandbox")
	assert.Equal(t, 0, md.ResourceMetrics().Len())
}

func keys(m map[resourceKey]scraped) []resourceKey {
	out := make([]resourceKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
