package statssummaryreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// The setups the tests of this package share: a configuration against a CRI
// test server, a scraper driven by hand, a receiver driven by a tick channel.

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

// startScraper starts a scraper with cfg, as the controller would, and shuts
// it down when the test ends; its clock is clock (time.Now when nil). Every
// test and benchmark that drives a scraper by hand starts it here.
func startScraper(t testing.TB, cfg *Config, host component.Host, clock func() time.Time) *statsScraper {
	t.Helper()
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	s.now = clock
	require.NoError(t, s.start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.WithoutCancel(t.Context()))) })
	return s
}

// newCRI is a CRI test server holding twoPodsState.
func newCRI(t *testing.T) *crifake.Server {
	t.Helper()
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	return srv
}

// tickedReceiver is a receiver built as the factory builds it, whose scrapes
// after the one at Start are driven by tick (or by its own ticker), with
// what it emits in sink.
type tickedReceiver struct {
	r    receiver.Metrics
	tick chan time.Time
	sink *consumertest.MetricsSink
}

// startReceiver builds and starts the receiver with cfg and set, and shuts it
// down when the test ends. With ownTicker the controller scrapes on its
// collection interval; otherwise each value sent on tick is a scrape.
func startReceiver(t *testing.T, cfg *Config, set receiver.Settings, ownTicker bool) *tickedReceiver {
	t.Helper()
	tr := &tickedReceiver{tick: make(chan time.Time), sink: new(consumertest.MetricsSink)}
	var opts []scraperhelper.ControllerOption
	if !ownTicker {
		opts = append(opts, scraperhelper.WithTickerChannel(tr.tick))
	}
	var err error
	tr.r, err = newMetricsReceiver(cfg, set, tr.sink, opts...)
	require.NoError(t, err)
	require.NoError(t, tr.r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, tr.r.Shutdown(context.WithoutCancel(t.Context()))) })
	return tr
}

func startBenchScraper(b testing.TB, n crifake.SyntheticNode) (*statsScraper, *crifake.Server) {
	b.Helper()
	srv := crifake.New(b)
	srv.SetState(crifake.Synthetic(n))
	cfg := newTestConfig(srv.Endpoint)
	cfg.CRI.Timeout = 30 * time.Second
	// The synthetic pods have no cgroups, so the cgroup (cAdvisor) provider has
	// nothing to add to them; left on, it reads whatever this machine runs
	// under /kubepods, at most once per second (CgroupMaxAge) however many
	// scrapes that second holds. Its cost depends on time and on the
	// neighbours, not on the scrape, so it is measured apart: internal/cadvisor
	// BenchmarkRefresh, and the steady-state run (docs/performance.md).
	cfg.Cgroups.Enabled = false
	return startScraper(b, cfg, componenttest.NewNopHost(), nil), srv
}
