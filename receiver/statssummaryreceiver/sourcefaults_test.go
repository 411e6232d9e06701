package statssummaryreceiver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/host"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/convert"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// flakyCgroups is a cgroup provider that is unavailable while broken: its
// snapshot then has no node sample, as when the root cgroup cannot be read.
type flakyCgroups struct {
	mu     sync.Mutex
	broken bool
}

func (f *flakyCgroups) set(broken bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = broken
}

func (f *flakyCgroups) Current(time.Duration) cadvisor.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return cadvisor.Snapshot{}
	}
	v := uint64(5e9)
	return cadvisor.Snapshot{Time: time.Now(), Node: &cadvisor.CgroupStats{
		Cgroup: "/",
		CPU:    &statsapi.CPUStats{UsageCoreNanoSeconds: &v},
		Memory: &statsapi.MemoryStats{WorkingSetBytes: &v},
	}}
}

// flakyHost is a host provider whose node facts fail while broken (as when
// /proc cannot be read or statfs of the kubelet root fails).
type flakyHost struct {
	mu     sync.Mutex
	broken bool
}

func (h *flakyHost) set(broken bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.broken = broken
}

func (h *flakyHost) Node() (host.NodeStats, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.broken {
		return host.NodeStats{}, errors.New("node fs: statfs /var/lib/kubelet: input/output error")
	}
	used := uint64(1 << 30)
	return host.NodeStats{StartTime: base, Fs: &statsapi.FsStats{UsedBytes: &used}}, nil
}

func (h *flakyHost) Pod(string) (host.PodStats, bool) { return host.PodStats{Time: time.Now()}, true }

// newSourceFaultRig is the scrape path of the receiver (the scraper's scrape,
// the store, the scraper helper's controller with its logging and counters)
// over a real assembler whose runtime is a healthy CRI test server and whose
// cgroup and host providers are the given ones.
func newSourceFaultRig(t *testing.T, cg summary.CgroupStatsProvider, hs summary.HostStatsProvider) *faultRig {
	t.Helper()
	fake := newCRI(t)
	// As the receiver connects: through a LazyConn.
	conn := cri.NewLazyConn(fake.SocketPath, func() (*grpc.ClientConn, error) {
		return grpc.NewClient(fake.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	t.Cleanup(func() { _ = conn.Close() })

	core, logs := observer.New(zapcore.DebugLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.WithoutCancel(t.Context()))) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)

	cfg := newTestConfig(fake.Endpoint)
	cfg.InitialDelay = 0
	cfg.MetricGroups = []MetricGroup{NodeMetricGroup, PodMetricGroup, ContainerMetricGroup}
	s := newStatsScraper(cfg, set)
	s.converter = convert.New(cfg.MetricsBuilderConfig, cfg.convertGroups(), set)
	var err error
	s.telemetry, err = newScrapeTelemetry(set.TelemetrySettings)
	require.NoError(t, err)
	t.Cleanup(s.telemetry.shutdown)
	s.store = summary.NewStore(summary.NewAssembler(summary.Options{
		NodeName: "node-a",
		Pods:     cri.NewProvider(cri.NewClient(conn, 5*time.Second), cri.Options{}),
		Cgroups:  cg,
		Host:     hs,
		Mode:     summary.ModeCRIFill,
	}), summary.StoreOptions{Timeout: time.Minute})
	t.Cleanup(s.store.Close)

	sc, err := scraper.NewMetrics(s.scrape)
	require.NoError(t, err)
	rig := &faultRig{t: t, state: twoPodsState(), cri: fake, tick: make(chan time.Time), sink: new(consumertest.MetricsSink), logs: logs, tel: tel}
	cc := cfg.ControllerConfig
	rig.r, err = scraperhelper.NewMetricsController(&cc, set, rig.sink,
		scraperhelper.AddMetricsScraper(metadata.Type, sc), scraperhelper.WithTickerChannel(rig.tick))
	require.NoError(t, err)
	require.NoError(t, rig.r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, rig.r.Shutdown(context.WithoutCancel(t.Context()))) })
	return rig
}

// TestSourceFaultsKeepWhatHealthySourcesGave breaks the cgroup (cAdvisor)
// provider, the host provider, then both, while the runtime stays healthy:
// each scrape is partial yet carries every pod and container the runtime
// gave, the error names the failed source(s) and is logged and counted once
// per failed source, and the first scrape after the fault ends is complete.
func TestSourceFaultsKeepWhatHealthySourcesGave(t *testing.T) {
	tests := []struct {
		name          string
		cgroups, host bool // broken
		want          []string
	}{
		{"cAdvisor unavailable", true, false, []string{"source cadvisor"}},
		{"host facts unreadable (statfs fails)", false, true, []string{"source host", "statfs /var/lib/kubelet"}},
		{"both", true, true, []string{"source cadvisor", "source host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cg, hs := &flakyCgroups{}, &flakyHost{}
			rig := newSourceFaultRig(t, cg, hs)
			rig.requireHealthy(rig.first(), 0, 0)

			cg.set(tt.cgroups)
			hs.set(tt.host)
			md := rig.scrape()
			failed := int64(0)
			for _, b := range []bool{tt.cgroups, tt.host} {
				if b {
					failed++
				}
			}
			assert.Equal(t, fullResources, podResources(md), "every pod and container the runtime gave")
			logged := rig.scrapeErrors()
			require.Len(t, logged, 1)
			for _, w := range tt.want {
				assert.Contains(t, logged[0], w)
			}
			assert.Equal(t, failed, rig.errored(), "errored metric points: one per failed source")
			for source, broken := range map[string]bool{"cri": false, "cadvisor": tt.cgroups, "host": tt.host} {
				want := int64(0)
				if broken {
					want = 1
				}
				assert.Equal(t, want, rig.sourceErrors(source), "source errors of %s", source)
			}
			assert.Equal(t, 1, rig.logs.FilterMessage("stats sources failing; scrapes are partial until they recover").Len())

			cg.set(false)
			hs.set(false)
			rig.requireHealthy(rig.scrape(), 1, failed)
			assert.Equal(t, 1, rig.logs.FilterMessage("stats sources recovered").Len())
		})
	}
}

// nodeCPUTime returns the node resource's k8s.node.cpu.time, and whether md
// has it.
func nodeCPUTime(md pmetric.Metrics) (float64, bool) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		if _, pod := rm.Resource().Attributes().Get("k8s.pod.uid"); pod {
			continue
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if m := ms.At(k); m.Name() == "k8s.node.cpu.time" {
					return m.Sum().DataPoints().At(0).DoubleValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestRuntimeFaultKeepsNodeStats kills the runtime while the cgroup and host
// providers stay healthy: the partial scrape has no pods but still the node's
// stats from the cgroups, the error names the runtime, and after a restart
// on the same socket the next scrape has both again.
func TestRuntimeFaultKeepsNodeStats(t *testing.T) {
	rig := newSourceFaultRig(t, &flakyCgroups{}, &flakyHost{})
	md := rig.first()
	rig.requireHealthy(md, 0, 0)
	v, ok := nodeCPUTime(md)
	require.True(t, ok, "node cpu time in a healthy scrape")
	assert.InDelta(t, 5.0, v, 1e-9)

	path := rig.cri.SocketPath
	rig.killCRI()
	md = rig.scrape()
	rig.requireFault(md, 0, 0, 0, "source cri", "code = Unavailable")
	v, ok = nodeCPUTime(md)
	assert.True(t, ok, "node cpu time kept while the runtime is down")
	assert.InDelta(t, 5.0, v, 1e-9)

	rig.startCRI(path)
	md = rig.scrape()
	rig.requireHealthy(md, 1, 1)
	_, ok = nodeCPUTime(md)
	assert.True(t, ok)
}
