package convert

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/benchnode"
	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// testStart is the builder's start time of the converters compared.
var testStart = pcommon.NewTimestampFromTime(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))

// generated returns a Converter for mbc that always takes the generated
// MetricsBuilder's path, the reference the emitter is held to.
func generated(mbc metadata.MetricsBuilderConfig, g Groups) *Converter {
	c := newConverter(mbc, g, receivertest.NewNopSettings(metadata.Type), testStart)
	c.out.fast = nil
	return c
}

// fastPath returns a Converter for mbc that takes the emitter's path when it
// can, with the start time of generated's.
func fastPath(mbc metadata.MetricsBuilderConfig, g Groups) *Converter {
	return newConverter(mbc, g, receivertest.NewNopSettings(metadata.Type), testStart)
}

// everything enables every metric and resource attribute.
func everything() metadata.MetricsBuilderConfig {
	cfg := allEnabled()
	enableAll(reflect.ValueOf(&cfg.ResourceAttributes).Elem())
	return cfg
}

// richAssembly has what the synthetic node lacks: pressure, several
// interfaces (one named twice, so that points with equal attributes merge),
// cgroup counters, limits and requests, system containers, volumes and a
// container the runtime does not know.
func richAssembly(now time.Time) *summary.Assembly {
	started := metav1.NewTime(now.Add(-time.Hour))
	psi := &statsapi.PSIStats{Some: statsapi.PSIData{Total: 1500, Avg10: 1.5, Avg60: 2, Avg300: 3}, Full: statsapi.PSIData{Total: 700, Avg10: 0.5}}
	cpu := &statsapi.CPUStats{UsageNanoCores: testkit.P64(250_000_000), UsageCoreNanoSeconds: testkit.P64(9_000_000_000), PSI: psi}
	mem := &statsapi.MemoryStats{UsageBytes: testkit.P64(100 << 20), WorkingSetBytes: testkit.P64(80 << 20), AvailableBytes: testkit.P64(1 << 30),
		RSSBytes: testkit.P64(60 << 20), PageFaults: testkit.P64(10), MajorPageFaults: testkit.P64(1), PSI: psi}
	fs := &statsapi.FsStats{AvailableBytes: testkit.P64(1 << 30), CapacityBytes: testkit.P64(2 << 30), UsedBytes: testkit.P64(1 << 20),
		Inodes: testkit.P64(1000), InodesFree: testkit.P64(900), InodesUsed: testkit.P64(100)}
	iface := func(name string, v uint64) statsapi.InterfaceStats {
		return statsapi.InterfaceStats{Name: name, RxBytes: testkit.P64(v), TxBytes: testkit.P64(v + 1), RxErrors: testkit.P64(1), TxErrors: testkit.P64(2)}
	}
	network := &statsapi.NetworkStats{InterfaceStats: iface("eth0", 100),
		Interfaces: []statsapi.InterfaceStats{iface("eth0", 100), iface("eth1", 200), iface("eth1", 300)}}
	container := statsapi.ContainerStats{Name: "app", StartTime: started, CPU: cpu, Memory: mem, IO: &statsapi.IOStats{PSI: psi},
		Swap: &statsapi.SwapStats{SwapUsageBytes: testkit.P64(5), SwapAvailableBytes: testkit.P64(6)}, Rootfs: fs, Logs: fs}
	counters := cadvisor.CgroupCounters{Has: cadvisor.HasThrottling | cadvisor.HasMemoryMax | cadvisor.HasMemoryOOMKill | cadvisor.HasDiskBytes | cadvisor.HasDiskOps,
		CPUPeriods: 10, CPUThrottledPeriods: 2, CPUThrottledTime: 3, MemoryMax: 4, MemoryOOMKill: 1, DiskReadBytes: 5, DiskWriteBytes: 6, DiskReadOps: 7, DiskWriteOps: 8}
	res := summary.Resources{CPURequest: 0.1, CPULimit: 1, MemoryRequest: 64 << 20, MemoryLimit: 512 << 20}
	s := &statsapi.Summary{
		Node: statsapi.NodeStats{NodeName: "n", StartTime: started, CPU: cpu, Memory: mem, IO: &statsapi.IOStats{PSI: psi}, Network: network, Fs: fs,
			Runtime: &statsapi.RuntimeStats{ImageFs: fs, ContainerFs: fs}, Rlimit: &statsapi.RlimitStats{MaxPID: ptr(int64(4096)), NumOfRunningProcesses: ptr(int64(300))},
			Swap:             &statsapi.SwapStats{SwapUsageBytes: testkit.P64(1)},
			SystemContainers: []statsapi.ContainerStats{{Name: "kubelet", StartTime: started, CPU: cpu, Memory: mem, Rootfs: fs}, {Name: "runtime", CPU: cpu}}},
		Pods: []statsapi.PodStats{
			{PodRef: statsapi.PodReference{Name: "web", Namespace: "shop", UID: "u1"}, StartTime: started, CPU: cpu, Memory: mem, IO: &statsapi.IOStats{PSI: psi},
				Network: network, EphemeralStorage: fs, ProcessStats: &statsapi.ProcessStats{ProcessCount: testkit.P64(3)},
				Containers:  []statsapi.ContainerStats{container, {Name: "sidecar", CPU: cpu}},
				VolumeStats: []statsapi.VolumeStats{{Name: "data", FsStats: *fs, PVCRef: &statsapi.PVCReference{Name: "claim", Namespace: "shop"}}, {Name: "tmp", FsStats: *fs}}},
			{PodRef: statsapi.PodReference{Name: "idle", Namespace: "shop", UID: "u2"}}, // no stats: no resource
		},
	}
	return &summary.Assembly{
		Summary: s, Time: now,
		Containers:  cri.ContainerInfos{{{ID: "c1", Attempt: 2}}},
		VolumeTypes: map[summary.VolumeKey]string{{PodUID: "u1", Name: "tmp"}: "emptyDir"},
		Extras: &summary.Extras{Capacity: summary.NodeCapacity{CPU: 4, Memory: 8 << 30}, Pods: []summary.PodExtras{{
			Resources: res, Counters: counters,
			Containers: []summary.ContainerExtras{{Resources: res, Counters: counters}},
		}}},
	}
}

func ptr[T any](v T) *T { return &v }

// TestFastPathEqualsGenerated holds the emitter to the generated
// MetricsBuilder: for the same Summaries and configuration both produce the
// same resources, metrics, points, attributes and timestamps, scrape after
// scrape; only the order of metrics within a resource may differ.
func TestFastPathEqualsGenerated(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	assemblies := map[string]*summary.Assembly{"rich": richAssembly(now)}
	for i, seed := range convertSeeds {
		var s statsapi.Summary
		require.NoError(t, json.Unmarshal([]byte(seed), &s))
		assemblies["seed "+string(rune('0'+i))] = &summary.Assembly{Summary: &s, Time: now}
	}
	synthetic, err := benchnode.Assemble(t.Context(), crifake.SyntheticNode{Pods: 3, ContainersPerPod: 2})
	require.NoError(t, err)
	assemblies["synthetic 3 × 2"] = synthetic

	mergingStrategies := everything()
	mergingStrategies.Metrics.K8sPodNetworkIo.AggregationStrategy = metadata.AggregationStrategyAvg
	mergingStrategies.Metrics.K8sPodNetworkErrors.AggregationStrategy = metadata.AggregationStrategyMax
	mergingStrategies.Metrics.K8sNodeNetworkIo.AggregationStrategy = metadata.AggregationStrategyMin
	configs := []struct {
		name string
		mbc  metadata.MetricsBuilderConfig
		g    Groups
	}{
		{"default", metadata.NewDefaultMetricsBuilderConfig(), defaultGroups},
		{"everything", everything(), allGroups(true, true)},
		{"other aggregation strategies", mergingStrategies, allGroups(true, true)},
	}
	for _, cfg := range configs {
		for name, a := range assemblies {
			t.Run(cfg.name+"/"+name, func(t *testing.T) {
				fast := fastPath(cfg.mbc, cfg.g)
				require.NotNil(t, fast.out.fast, "the emitter serves this configuration")
				gen := generated(cfg.mbc, cfg.g)
				for range 2 { // the emitter's per-scrape state is reused
					want, got := gen.Convert(a, now), fast.Convert(a, now)
					assert.Equal(t, want.DataPointCount(), got.DataPointCount())
					require.NoError(t, pmetrictest.CompareMetrics(want, got, pmetrictest.IgnoreMetricsOrder()))
				}
			})
		}
	}
}

// TestFastPathMergesEqualAttributes: eth1 is listed twice in richAssembly, so
// its points merge, under each metric's strategy, as the generated builder
// merges them (the avg divided once, however many points merged).
func TestFastPathMergesEqualAttributes(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cfg := everything()
	cfg.Metrics.K8sPodNetworkIo.AggregationStrategy = metadata.AggregationStrategyAvg
	c := New(cfg, allGroups(true, true), receivertest.NewNopSettings(metadata.Type))
	md := c.Convert(richAssembly(now), now)
	got := map[string]float64{}
	for _, rm := range md.ResourceMetrics().All() {
		if _, ok := rm.Resource().Attributes().Get("k8s.pod.uid"); !ok || rm.Resource().Attributes().Len() != 4 {
			continue // the pod's resource only
		}
		maps := testkit.PointValues(rm)
		for k, v := range maps {
			if strings.HasPrefix(k, "k8s.pod.network.") {
				got[k] = v
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"k8s.pod.network.io{direction=receive,interface=eth0}":      100,
		"k8s.pod.network.io{direction=transmit,interface=eth0}":     101,
		"k8s.pod.network.io{direction=receive,interface=eth1}":      250, // avg of 200 and 300
		"k8s.pod.network.io{direction=transmit,interface=eth1}":     251,
		"k8s.pod.network.errors{direction=receive,interface=eth0}":  1,
		"k8s.pod.network.errors{direction=transmit,interface=eth0}": 2,
		"k8s.pod.network.errors{direction=receive,interface=eth1}":  2, // summed
		"k8s.pod.network.errors{direction=transmit,interface=eth1}": 4,
	}, got)
}

// TestFastPathFallsBack: a configuration that changes what the generated
// builder emits in ways the emitter does not model — resource attribute
// filters, a metric's data point attributes — takes the generated path, and
// the filter is applied.
func TestFastPathFallsBack(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	set := receivertest.NewNopSettings(metadata.Type)

	filtered := everything()
	filtered.ResourceAttributes.K8sPodName.MetricsInclude = []filter.Config{{Strict: "web"}}
	c := New(filtered, allGroups(false, false), set)
	assert.Nil(t, c.out.fast)
	md := c.Convert(richAssembly(now), now)
	for _, rm := range md.ResourceMetrics().All() {
		if v, ok := rm.Resource().Attributes().Get("k8s.pod.name"); ok {
			assert.Equal(t, "web", v.Str())
		}
	}

	fewerAttributes := everything()
	fewerAttributes.Metrics.K8sPodNetworkIo.EnabledAttributes = []metadata.K8sPodNetworkIoMetricAttributeKey{metadata.K8sPodNetworkIoMetricAttributeKeyDirection}
	assert.Nil(t, New(fewerAttributes, defaultGroups, set).out.fast)

	assert.NotNil(t, New(everything(), defaultGroups, set).out.fast)
}

// TestCatalogueCoversEveryMetric: every metric metadata.yaml declares is
// registered exactly once (one probe, one slot), and each slot's name,
// unit and type are the generated builder's; a metric the converter never
// records would be missing here.
func TestCatalogueCoversEveryMetric(t *testing.T) {
	cfg := everything()
	e := newEmitter(cfg, receivertest.NewNopSettings(metadata.Type), builderStart())
	require.NotNil(t, e)
	seen := map[string]int{}
	for id := 1; id < len(e.slots); id++ {
		require.True(t, e.slots[id].enabled, "metric %d", id)
		seen[e.slots[id].name]++
	}
	ms := reflect.TypeFor[metadata.MetricsConfig]()
	want := map[string]int{}
	for i := range ms.NumField() {
		name, _, _ := strings.Cut(ms.Field(i).Tag.Get("mapstructure"), ",")
		want[name] = 1
	}
	assert.Equal(t, want, seen)

	// Disabled metrics have disabled slots.
	off := metadata.NewDefaultMetricsBuilderConfig()
	off.Metrics.ContainerCPUTime.Enabled = false
	e = newEmitter(off, receivertest.NewNopSettings(metadata.Type), builderStart())
	require.NotNil(t, e)
	assert.False(t, e.slots[containerCPU.time.id].enabled)
	assert.True(t, e.slots[containerCPU.usage.id].enabled)
	assert.Equal(t, "container.cpu.usage", e.slots[containerCPU.usage.id].name)
}

// sanity: the test's helper produces pdata the comparison can fail on.
func TestCompareDetectsDifference(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	a := richAssembly(now)
	want := generated(everything(), allGroups(true, true)).Convert(a, now)
	got := fastPath(everything(), allGroups(true, true)).Convert(a, now)
	got.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).SetUnit("wrong")
	require.Error(t, pmetrictest.CompareMetrics(want, got, pmetrictest.IgnoreMetricsOrder()))
}
