package testkit

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// NumberPoints returns the data points of a gauge or a sum; ok is false for
// any other metric type (the receiver emits none).
func NumberPoints(m pmetric.Metric) (dps pmetric.NumberDataPointSlice, ok bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints(), true
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints(), true
	default:
		return pmetric.NumberDataPointSlice{}, false
	}
}

// ForEachNumberPoint calls fn for every gauge and sum data point in md.
func ForEachNumberPoint(md pmetric.Metrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				dps, ok := NumberPoints(m)
				if !ok {
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					fn(m.Name(), dps.At(l))
				}
			}
		}
	}
}

// SingleResource is rm alone in a Metrics.
func SingleResource(rm pmetric.ResourceMetrics) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm.CopyTo(md.ResourceMetrics().AppendEmpty())
	return md
}

// PointValues maps "name" or "name{k=v,…}" (attributes sorted) to the value
// of each data point of a resource.
func PointValues(rm pmetric.ResourceMetrics) map[string]float64 {
	out := map[string]float64{}
	ForEachNumberPoint(SingleResource(rm), func(name string, dp pmetric.NumberDataPoint) {
		out[PointKey(name, dp)] = PointValue(dp)
	})
	return out
}

// PointKey is "name" or "name{k=v,…}", the data point's attributes sorted.
func PointKey(name string, dp pmetric.NumberDataPoint) string {
	if dp.Attributes().Len() == 0 {
		return name
	}
	keys := make([]string, 0, dp.Attributes().Len())
	for k, v := range dp.Attributes().All() {
		keys = append(keys, k+"="+v.AsString())
	}
	slices.Sort(keys)
	return name + "{" + strings.Join(keys, ",") + "}"
}

// PointValue is the data point's value as a float64, whatever its type.
func PointValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}
