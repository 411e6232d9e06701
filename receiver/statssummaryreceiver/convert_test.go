package statssummaryreceiver

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

func p64(v uint64) *uint64 { return &v }

// allEnabled is the default configuration with every metric switched on.
func allEnabled(t *testing.T) metadata.MetricsBuilderConfig {
	t.Helper()
	cfg := metadata.NewDefaultMetricsBuilderConfig()
	sc := readScenario(t, scenariosDir+"/all_metrics_enabled")
	full := scenarioConfig(t, sc.Config)
	cfg.Metrics = full.Metrics
	return cfg
}

func TestClampInt64(t *testing.T) {
	tests := []struct {
		in   uint64
		want int64
	}{
		{0, 0},
		{42, 42},
		{math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 + 1, math.MaxInt64},
		{math.MaxUint64, math.MaxInt64},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, clampInt64(tt.in), "clampInt64(%d)", tt.in)
	}
}

// TestConvertEdgeCases feeds small Summaries and checks the points of one
// resource by hand-written values: metric name (and data point attributes) →
// value.
func TestConvertEdgeCases(t *testing.T) {
	scrape := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	started := metav1.NewTime(scrape.Add(-90 * time.Second))
	tests := []struct {
		name        string
		summary     statsapi.Summary
		allNets     NetworkInterfacesConfig
		volumeTypes map[summary.VolumeKey]string
		wantAttrs   map[string]any
		want        map[string]float64
	}{
		{
			name: "counter beyond int64 saturates",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n", StartTime: started,
				Memory: &statsapi.MemoryStats{PageFaults: p64(math.MaxUint64), UsageBytes: p64(7)}}},
			wantAttrs: map[string]any{"k8s.node.name": "n"},
			want: map[string]float64{
				"k8s.node.memory.page_faults": math.MaxInt64, "k8s.node.memory.usage": 7, "k8s.node.uptime": 90,
			},
		},
		{
			name: "start after the scrape: no uptime",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n", StartTime: metav1.NewTime(scrape.Add(time.Minute)),
				CPU: &statsapi.CPUStats{UsageCoreNanoSeconds: p64(1_500_000_000)}}},
			wantAttrs: map[string]any{"k8s.node.name": "n"},
			want:      map[string]float64{"k8s.node.cpu.time": 1.5},
		},
		{
			name: "default interface missing from the list is recorded once, unnamed counters skipped",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n",
				Network: &statsapi.NetworkStats{
					InterfaceStats: statsapi.InterfaceStats{Name: "lo", RxBytes: p64(5)},
					Interfaces:     []statsapi.InterfaceStats{{Name: "eth0", TxErrors: p64(2)}},
				}}},
			allNets:   NetworkInterfacesConfig{Node: true},
			wantAttrs: map[string]any{"k8s.node.name": "n"},
			want: map[string]float64{
				"k8s.node.network.io{direction=receive,interface=lo}":        5,
				"k8s.node.network.errors{direction=transmit,interface=eth0}": 2,
			},
		},
		{
			name: "volume without a claim has no type",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n"}, Pods: []statsapi.PodStats{{
				PodRef:      statsapi.PodReference{Name: "p", Namespace: "ns", UID: "u"},
				VolumeStats: []statsapi.VolumeStats{{Name: "scratch", FsStats: statsapi.FsStats{UsedBytes: p64(4096), InodesUsed: p64(9)}}},
			}}},
			wantAttrs: map[string]any{
				"k8s.node.name": "n", "k8s.pod.name": "p", "k8s.namespace.name": "ns", "k8s.pod.uid": "u",
				"k8s.volume.name": "scratch",
			},
			want: map[string]float64{"k8s.pod.volume.usage": 4096, "k8s.volume.inodes.used": 9},
		},
		{
			name: "volume typed by the host provider",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n"}, Pods: []statsapi.PodStats{{
				PodRef:      statsapi.PodReference{Name: "p", Namespace: "ns", UID: "u"},
				VolumeStats: []statsapi.VolumeStats{{Name: "cache", FsStats: statsapi.FsStats{UsedBytes: p64(8192)}}},
			}}},
			volumeTypes: map[summary.VolumeKey]string{{PodUID: "u", Name: "cache"}: "emptyDir", {PodUID: "other", Name: "cache"}: "csi"},
			wantAttrs: map[string]any{
				"k8s.node.name": "n", "k8s.pod.name": "p", "k8s.namespace.name": "ns", "k8s.pod.uid": "u",
				"k8s.volume.name": "cache", "k8s.volume.type": "emptyDir",
			},
			want: map[string]float64{"k8s.pod.volume.usage": 8192},
		},
		{
			name: "container without runtime identity: no container.id nor restart count",
			summary: statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n"}, Pods: []statsapi.PodStats{{
				PodRef:     statsapi.PodReference{Name: "p", Namespace: "ns", UID: "u"},
				Containers: []statsapi.ContainerStats{{Name: "c", Logs: &statsapi.FsStats{UsedBytes: p64(10)}}},
			}}},
			wantAttrs: map[string]any{
				"k8s.node.name": "n", "k8s.pod.name": "p", "k8s.namespace.name": "ns", "k8s.pod.uid": "u",
				"k8s.container.name": "c",
			},
			want: map[string]float64{
				"container.logs.usage":                                10,
				"k8s.container.ephemeral_storage.usage{fs.type=logs}": 10,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := newConverter(allEnabled(t), GroupsConfig{MetricGroups: allMetricGroups, CollectAllNetworkInterfaces: tt.allNets},
				receivertest.NewNopSettings(metadata.Type))
			md := conv.convert(&summary.Assembly{Summary: &tt.summary, VolumeTypes: tt.volumeTypes, Time: scrape}, time.Time{})
			require.Equal(t, 1, md.ResourceMetrics().Len())
			rm := md.ResourceMetrics().At(0)
			assert.Equal(t, tt.wantAttrs, rm.Resource().Attributes().AsRaw())
			assert.Equal(t, tt.want, pointValues(rm))
			forEachNumberPoint(md, func(name string, dp pmetric.NumberDataPoint) {
				assert.Equal(t, pcommon.NewTimestampFromTime(scrape), dp.Timestamp(), name)
				assert.NotZero(t, dp.StartTimestamp(), name)
			})
		})
	}
}

// TestResourceAttributesDoNotSplitSeries: a container that restarts (a new
// runtime ID, the next attempt) keeps its series by default, because its
// resource attributes are those of its previous run — as with kubeletstats,
// which sets container.id only when extra_metadata_labels asks for it.
// container.id and k8s.container.restart_count are there when enabled.
func TestResourceAttributesDoNotSplitSeries(t *testing.T) {
	scrape := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n"}, Pods: []statsapi.PodStats{{
		PodRef: statsapi.PodReference{Name: "p", Namespace: "ns", UID: "u"},
		Containers: []statsapi.ContainerStats{{Name: "app", StartTime: metav1.NewTime(scrape.Add(-time.Minute)),
			CPU: &statsapi.CPUStats{UsageCoreNanoSeconds: p64(1)}}},
	}}}
	first := cri.ContainerInfo{ID: "c-first", Attempt: 0}
	second := cri.ContainerInfo{ID: "c-second", Attempt: 1}
	// containerAttrs converts s with run as the runtime's identity of its
	// container and returns the container resource's attributes.
	containerAttrs := func(t *testing.T, cfg *Config, run cri.ContainerInfo) map[string]any {
		t.Helper()
		conv := newConverter(cfg.MetricsBuilderConfig, cfg.GroupsConfig, receivertest.NewNopSettings(metadata.Type))
		md := conv.convert(&summary.Assembly{Summary: &s, Time: scrape, Containers: cri.ContainerInfos{{run}}}, time.Time{})
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			attrs := md.ResourceMetrics().At(i).Resource().Attributes().AsRaw()
			if _, ok := attrs["k8s.container.name"]; ok {
				return attrs
			}
		}
		require.FailNow(t, "no container resource")
		return nil
	}
	identity := map[string]any{
		"k8s.node.name": "n", "k8s.pod.name": "p", "k8s.namespace.name": "ns", "k8s.pod.uid": "u",
		"k8s.container.name": "app",
	}

	t.Run("default: one series across the restart", func(t *testing.T) {
		cfg := scenarioConfig(t, nil)
		assert.Equal(t, identity, containerAttrs(t, cfg, first))
		assert.Equal(t, identity, containerAttrs(t, cfg, second))
	})
	t.Run("enabled: the runtime's identity of each run", func(t *testing.T) {
		cfg := scenarioConfig(t, map[string]any{"resource_attributes": map[string]any{
			"container.id":                map[string]any{"enabled": true},
			"k8s.container.restart_count": map[string]any{"enabled": true},
		}})
		for _, run := range []cri.ContainerInfo{first, second} {
			want := maps.Clone(identity)
			want["container.id"] = run.ID
			want["k8s.container.restart_count"] = int64(run.Attempt)
			assert.Equal(t, want, containerAttrs(t, cfg, run))
		}
	})
}

// TestConvertStartTimestamps: the object's start time when known; otherwise the
// builder's start (the receiver's start), never zero.
func TestConvertStartTimestamps(t *testing.T) {
	scrape := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	podStart := scrape.Add(-time.Hour)
	s := statsapi.Summary{
		Node: statsapi.NodeStats{NodeName: "n", CPU: &statsapi.CPUStats{UsageCoreNanoSeconds: p64(1)}},
		Pods: []statsapi.PodStats{{
			PodRef: statsapi.PodReference{Name: "p", UID: "u"}, StartTime: metav1.NewTime(podStart),
			CPU:         &statsapi.CPUStats{UsageCoreNanoSeconds: p64(1)},
			VolumeStats: []statsapi.VolumeStats{{Name: "v", FsStats: statsapi.FsStats{CapacityBytes: p64(1)}}},
		}},
	}
	before := time.Now()
	conv := newConverter(metadata.NewDefaultMetricsBuilderConfig(), GroupsConfig{MetricGroups: allMetricGroups}, receivertest.NewNopSettings(metadata.Type))
	md := conv.convert(&summary.Assembly{Summary: &s, Time: scrape}, time.Time{})
	require.Equal(t, 3, md.ResourceMetrics().Len())
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		attrs := rm.Resource().Attributes().AsRaw()
		forEachNumberPoint(singleResource(rm), func(name string, dp pmetric.NumberDataPoint) {
			if _, isPod := attrs["k8s.pod.uid"]; isPod {
				assert.Equal(t, pcommon.NewTimestampFromTime(podStart), dp.StartTimestamp(), "%s of %v", name, attrs)
				return
			}
			// the node's start is unknown here
			assert.GreaterOrEqual(t, dp.StartTimestamp().AsTime(), before.Add(-time.Second), "%s of %v", name, attrs)
		})
	}
}

func TestConvertWithoutSummaryOrTime(t *testing.T) {
	conv := newConverter(metadata.NewDefaultMetricsBuilderConfig(), defaultGroupsConfig(), receivertest.NewNopSettings(metadata.Type))
	md := conv.convert(&summary.Assembly{}, time.Now())
	assert.Equal(t, 0, md.ResourceMetrics().Len())

	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := statsapi.Summary{Node: statsapi.NodeStats{NodeName: "n", CPU: &statsapi.CPUStats{UsageNanoCores: p64(1)}}}
	md = conv.convert(&summary.Assembly{Summary: &s}, now)
	forEachNumberPoint(md, func(name string, dp pmetric.NumberDataPoint) {
		assert.Equal(t, pcommon.NewTimestampFromTime(now), dp.Timestamp(), name)
	})
	assert.Equal(t, 1, md.DataPointCount())
}

// pointValues maps "name" or "name{k=v,…}" (attributes sorted) to the value of
// each data point of a resource.
func pointValues(rm pmetric.ResourceMetrics) map[string]float64 {
	out := map[string]float64{}
	forEachNumberPoint(singleResource(rm), func(name string, dp pmetric.NumberDataPoint) {
		key := name
		if dp.Attributes().Len() > 0 {
			keys := make([]string, 0, dp.Attributes().Len())
			for k, v := range dp.Attributes().All() {
				keys = append(keys, k+"="+v.AsString())
			}
			slices.Sort(keys)
			key += "{" + strings.Join(keys, ",") + "}"
		}
		if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
			out[key] = float64(dp.IntValue())
		} else {
			out[key] = dp.DoubleValue()
		}
	})
	return out
}

func singleResource(rm pmetric.ResourceMetrics) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm.CopyTo(md.ResourceMetrics().AppendEmpty())
	return md
}
