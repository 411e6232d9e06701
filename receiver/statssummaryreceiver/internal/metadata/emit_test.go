package metadata

// Written by hand, with emit.go.

import (
	"testing"

	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func TestResourceEmitMovesResourceAndSetsStart(t *testing.T) {
	builderStart := pcommon.Timestamp(1_000)
	mb := NewMetricsBuilder(DefaultMetricsBuilderConfig(), receivertest.NewNopSettings(Type), WithStartTime(builderStart))
	rb := mb.NewResourceBuilder()
	var opt ResourceEmit

	// A resource with a gauge and a sum, and its own start time.
	rb.Reserve(2)
	rb.SetK8sNodeName("node-a")
	rb.SetK8sPodName("pod-a")
	mb.RecordK8sPodMemoryUsageDataPoint(5_000, 42)
	mb.RecordK8sPodCPUTimeDataPoint(5_000, 1.5)
	opt.Resource, opt.Start = rb.Emit(), 2_000
	moved := opt.Resource
	mb.EmitForResource(&opt)
	if n := moved.Attributes().Len(); n != 0 {
		t.Errorf("the resource handed over still has %d attributes; want it moved", n)
	}

	// A second resource without a start time keeps the builder's.
	rb.SetK8sNodeName("node-a")
	rb.SetK8sPodName("pod-b")
	mb.RecordK8sPodMemoryUsageDataPoint(5_000, 7)
	opt.Resource, opt.Start = rb.Emit(), 0
	mb.EmitForResource(&opt)

	md := mb.Emit()
	if got := md.ResourceMetrics().Len(); got != 2 {
		t.Fatalf("got %d resources, want 2", got)
	}
	wantStart := map[string]pcommon.Timestamp{"pod-a": 2_000, "pod-b": builderStart}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		attrs := rm.Resource().Attributes().AsRaw()
		pod, _ := attrs["k8s.pod.name"].(string)
		if attrs["k8s.node.name"] != "node-a" || len(attrs) != 2 {
			t.Errorf("resource %d attributes = %v", i, attrs)
		}
		metrics := rm.ScopeMetrics().At(0).Metrics()
		for j := 0; j < metrics.Len(); j++ {
			m := metrics.At(j)
			var dps pmetric.NumberDataPointSlice
			if m.Type() == pmetric.MetricTypeSum {
				dps = m.Sum().DataPoints()
			} else {
				dps = m.Gauge().DataPoints()
			}
			for k := 0; k < dps.Len(); k++ {
				if got := dps.At(k).StartTimestamp(); got != wantStart[pod] {
					t.Errorf("%s %s start = %d, want %d", pod, m.Name(), got, wantStart[pod])
				}
			}
		}
	}
}

// The resource attribute filters of the configuration still see the resource.
func TestResourceEmitKeepsResourceFilters(t *testing.T) {
	cfg := DefaultMetricsBuilderConfig()
	cfg.ResourceAttributes.K8sPodName.MetricsExclude = []filter.Config{{Strict: "excluded"}}
	mb := NewMetricsBuilder(cfg, receivertest.NewNopSettings(Type))
	rb := mb.NewResourceBuilder()
	var opt ResourceEmit
	for _, pod := range []string{"excluded", "kept"} {
		rb.SetK8sPodName(pod)
		mb.RecordK8sPodMemoryUsageDataPoint(5_000, 1)
		opt.Resource = rb.Emit()
		mb.EmitForResource(&opt)
	}
	md := mb.Emit()
	if md.ResourceMetrics().Len() != 1 {
		t.Fatalf("got %d resources, want only the kept one", md.ResourceMetrics().Len())
	}
	if got, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("k8s.pod.name"); got.Str() != "kept" {
		t.Errorf("kept resource is %q", got.Str())
	}
}
