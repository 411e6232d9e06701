package convert

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/statssummary/statssummary/internal/benchnode"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// peerDefaultMetrics are the metrics kubeletstats v0.164.1 enables by
// default (its metadata.yaml), the set make bench-peer compares with.
var peerDefaultMetrics = []string{
	"container.cpu.time", "container.cpu.usage", "container.filesystem.available", "container.filesystem.capacity",
	"container.filesystem.usage", "container.memory.available", "container.memory.major_page_faults",
	"container.memory.page_faults", "container.memory.rss", "container.memory.usage", "container.memory.working_set",
	"k8s.node.cpu.time", "k8s.node.cpu.usage", "k8s.node.filesystem.available", "k8s.node.filesystem.capacity",
	"k8s.node.filesystem.usage", "k8s.node.memory.available", "k8s.node.memory.major_page_faults",
	"k8s.node.memory.page_faults", "k8s.node.memory.rss", "k8s.node.memory.usage", "k8s.node.memory.working_set",
	"k8s.node.network.errors", "k8s.node.network.io", "k8s.pod.cpu.time", "k8s.pod.cpu.usage",
	"k8s.pod.filesystem.available", "k8s.pod.filesystem.capacity", "k8s.pod.filesystem.usage",
	"k8s.pod.memory.available", "k8s.pod.memory.major_page_faults", "k8s.pod.memory.page_faults",
	"k8s.pod.memory.rss", "k8s.pod.memory.usage", "k8s.pod.memory.working_set", "k8s.pod.network.errors",
	"k8s.pod.network.io", "k8s.volume.available", "k8s.volume.capacity", "k8s.volume.inodes",
	"k8s.volume.inodes.free", "k8s.volume.inodes.used",
}

// onlyMetrics is the default configuration with exactly the named metrics
// enabled; it fails when a name is not in the catalogue.
func onlyMetrics(tb testing.TB, names []string) metadata.MetricsBuilderConfig {
	tb.Helper()
	cfg := metadata.NewDefaultMetricsBuilderConfig()
	v := reflect.ValueOf(&cfg.Metrics).Elem()
	found := 0
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
		on := slices.Contains(names, name)
		if on {
			found++
		}
		v.Field(i).FieldByName("Enabled").SetBool(on)
	}
	if found != len(names) {
		tb.Fatalf("%d of %d metric names found in the catalogue", found, len(names))
	}
	return cfg
}

// BenchmarkConvert is Summary → pdata alone, from one assembly of each
// synthetic node, with the receiver's default metrics and with
// kubeletstats' (make bench-peer's set).
func BenchmarkConvert(b *testing.B) {
	sets := []struct {
		name string
		mbc  metadata.MetricsBuilderConfig
	}{
		{"default", metadata.NewDefaultMetricsBuilderConfig()},
		{"peer", onlyMetrics(b, peerDefaultMetrics)},
	}
	for _, n := range benchnode.Sizes {
		a, err := benchnode.Assemble(b.Context(), n)
		if err != nil {
			b.Fatal(err)
		}
		for _, set := range sets {
			b.Run(fmt.Sprintf("metrics=%s/%s", set.name, benchnode.SizeName(n)), func(b *testing.B) {
				c := New(set.mbc, defaultGroups, receivertest.NewNopSettings(metadata.Type))
				now := time.Now()
				points := 0
				b.ReportAllocs()
				report := testkit.CPUPerOp(b)
				for b.Loop() {
					md := c.Convert(a, now)
					if points = md.DataPointCount(); points == 0 {
						b.Fatal("no data points")
					}
				}
				report()
				b.ReportMetric(float64(points), "datapoints/op")
			})
		}
	}
}
