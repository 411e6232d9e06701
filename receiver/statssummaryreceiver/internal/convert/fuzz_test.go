package convert

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// convertSeeds are Summaries as the JSON endpoint writes them: a realistic
// one, extreme and missing values, repeated and empty names, and times at the
// ends of the range.
var convertSeeds = []string{
	`{"node":{"nodeName":"node-a","startTime":null},"pods":[{"podRef":{"name":"web","namespace":"shop","uid":"uid-web"},"startTime":"2026-11-01T12:00:00Z",` +
		`"containers":[{"name":"nginx","startTime":"2026-11-01T12:00:10Z","cpu":{"time":"2026-11-01T12:01:40Z","usageNanoCores":250000000,"usageCoreNanoSeconds":1500000000},` +
		`"memory":{"time":"2026-11-01T12:01:40Z","availableBytes":419430400,"usageBytes":157286400,"workingSetBytes":104857600,"rssBytes":83886080,"pageFaults":1000,"majorPageFaults":3}}],` +
		`"cpu":{"time":"2026-11-01T12:01:40Z","usageNanoCores":250000000,"usageCoreNanoSeconds":1500000000},"memory":{"time":"2026-11-01T12:01:40Z","workingSetBytes":104857600}}]}`,
	`{"node":{"nodeName":""},"pods":[{"podRef":{"name":"","namespace":"","uid":""},"startTime":"0001-01-01T00:00:00Z","containers":[{"name":"","cpu":{"usageNanoCores":18446744073709551615,"usageCoreNanoSeconds":18446744073709551615},` +
		`"memory":{"availableBytes":18446744073709551615,"usageBytes":9223372036854775808,"workingSetBytes":9223372036854775807,"rssBytes":0,"pageFaults":18446744073709551615,"majorPageFaults":0}}]}]}`,
	`{"node":{"nodeName":"n"},"pods":[{"podRef":{"name":"a","namespace":"x","uid":"u"},"startTime":"9999-12-31T23:59:59Z","containers":[{"name":"c","startTime":"1677-09-21T00:12:43Z"},{"name":"c","cpu":{}}],"cpu":{},"memory":{}},` +
		`{"podRef":{"name":"a","namespace":"x","uid":"u"},"containers":[]}]}`,
	`{"node":{"nodeName":"n","cpu":{"usageNanoCores":1,"usageCoreNanoSeconds":1},"memory":{"workingSetBytes":1},"network":{"name":"eth0","rxBytes":1,"interfaces":[{"name":"eth0","rxBytes":1}]},` +
		`"fs":{"usedBytes":1,"capacityBytes":0},"runtime":{"imageFs":{"usedBytes":1}},"rlimit":{"maxpid":1,"curproc":2},"systemContainers":[{"name":"kubelet","cpu":{"usageNanoCores":1}}]},` +
		`"pods":[{"podRef":{"name":"a","namespace":"x","uid":"u"},"network":{"name":"eth0","rxBytes":18446744073709551615},"volume":[{"name":"v","usedBytes":1}],"ephemeral-storage":{"usedBytes":1},"process_stats":{"process_count":1}}]}`,
	`{}`,
	`{"pods":null}`,
}

// FuzzConvert decodes arbitrary JSON as a Summary, converts it to metrics as a
// scrape does — with the default configuration, and with every metric,
// resource attribute, metric group and network interface enabled — and checks that it never panics, that every resource carries
// the node name, that no data point is NaN, infinite or negative, and that
// the emitter's output is the generated MetricsBuilder's.
func FuzzConvert(f *testing.F) {
	for _, s := range convertSeeds {
		f.Add([]byte(s))
	}
	set := receivertest.NewNopSettings(metadata.Type)
	now := time.Date(2026, 11, 1, 12, 5, 0, 0, time.UTC)
	everything := metadata.NewDefaultMetricsBuilderConfig()
	enableAll(reflect.ValueOf(&everything.Metrics).Elem())
	enableAll(reflect.ValueOf(&everything.ResourceAttributes).Elem())
	all := allGroups(true, true)

	f.Fuzz(func(t *testing.T, data []byte) {
		var s statsapi.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		// Infos for every container but the last pod's: a Summary the
		// infos do not fully cover converts too.
		a := &summary.Assembly{Summary: &s, Time: now}
		for i, p := range s.Pods[:max(len(s.Pods)-1, 0)] {
			infos := make([]cri.ContainerInfo, len(p.Containers))
			for j, c := range p.Containers {
				infos[j] = cri.ContainerInfo{ID: c.Name + "-id", Attempt: uint32(i)}
			}
			a.Containers = append(a.Containers, infos)
		}
		for _, cfg := range []struct {
			mbc metadata.MetricsBuilderConfig
			g   Groups
		}{
			{metadata.NewDefaultMetricsBuilderConfig(), defaultGroups},
			{everything, all}, // every metric, group and interface
		} {
			c, gen := newConverter(cfg.mbc, cfg.g, set, testStart), generated(cfg.mbc, cfg.g)
			for range 2 { // twice: the builder is reused scrape after scrape
				md := c.Convert(a, now)
				checkMetrics(t, s.Node.NodeName, md)
				// The emitter's output is the generated builder's.
				if err := pmetrictest.CompareMetrics(gen.Convert(a, now), md, pmetrictest.IgnoreMetricsOrder()); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// enableAll sets Enabled on every field of a generated metrics or resource
// attributes configuration.
func enableAll(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i).FieldByName("Enabled"); f.IsValid() && f.CanSet() {
			f.SetBool(true)
		}
	}
}

func checkMetrics(t *testing.T, node string, md pmetric.Metrics) {
	t.Helper()
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		if v, ok := rm.Resource().Attributes().Get("k8s.node.name"); !ok || v.Str() != node {
			t.Fatalf("resource %d: k8s.node.name %v, want %q", i, v.AsRaw(), node)
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				dps, ok := testkit.NumberPoints(m)
				if !ok {
					t.Fatalf("metric %s: unexpected type %s", m.Name(), m.Type())
				}
				for d := 0; d < dps.Len(); d++ {
					checkPoint(t, m.Name(), dps.At(d))
				}
			}
		}
	}
}

func checkPoint(t *testing.T, name string, dp pmetric.NumberDataPoint) {
	t.Helper()
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeDouble:
		v := dp.DoubleValue()
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("metric %s: value %v", name, v)
		}
	case pmetric.NumberDataPointValueTypeInt:
		if v := dp.IntValue(); v < 0 {
			t.Fatalf("metric %s: value %d", name, v)
		}
	default:
		t.Fatalf("metric %s: data point without a value", name)
	}
	if dp.Timestamp() == 0 {
		t.Fatalf("metric %s: data point without a timestamp", name)
	}
}
