// Package metadata is the receiver's metric and resource catalogue as mdatagen
// generates it from metadata.yaml (the generated_*.go files), plus this file,
// written by hand: what the converter (internal/convert) needs from the
// generated builders on its hot path and the generator does not offer. It has
// to live here: ResourceMetricsOption's method and the ResourceBuilder's
// resource are unexported. It survives regeneration by construction: `make
// generate` removes every file mdatagen writes and regenerates from scratch,
// never this one, and vets the package, so a generator change that breaks it
// fails there; `make check-generate` proves the committed files are exactly
// that output. Without it a scrape's conversion allocates about 16 % more
// (docs/performance.md, change 8).
package metadata

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// ResourceEmit is a ResourceMetricsOption for EmitForResource that one caller
// reuses for every resource of a scrape: set Resource and Start before each
// call. It moves Resource into the emitted ResourceMetrics where WithResource
// copies every attribute (Resource is left empty), and, when Start is not zero,
// sets the start timestamp of every data point, as WithStartTimeOverride does.
// Unlike those two it allocates nothing per call.
type ResourceEmit struct {
	Resource pcommon.Resource
	Start    pcommon.Timestamp
}

func (o *ResourceEmit) apply(rm pmetric.ResourceMetrics) {
	o.Resource.MoveTo(rm.Resource())
	if o.Start == 0 {
		return
	}
	metrics := rm.ScopeMetrics().At(0).Metrics()
	for i := 0; i < metrics.Len(); i++ {
		var dps pmetric.NumberDataPointSlice
		switch m := metrics.At(i); m.Type() {
		case pmetric.MetricTypeGauge:
			dps = m.Gauge().DataPoints()
		case pmetric.MetricTypeSum:
			dps = m.Sum().DataPoints()
		default:
			continue
		}
		for j := 0; j < dps.Len(); j++ {
			dps.At(j).SetStartTimestamp(o.Start)
		}
	}
}

// Reserve makes room for n attributes in the resource being built, so that
// setting them grows no slice.
func (rb *ResourceBuilder) Reserve(n int) {
	rb.res.Attributes().EnsureCapacity(n)
}
