package statssummaryreceiver

import "go.opentelemetry.io/collector/pdata/pmetric"

// numberPoints returns the data points of a gauge or a sum; ok is false for
// any other metric type (the receiver emits none).
func numberPoints(m pmetric.Metric) (dps pmetric.NumberDataPointSlice, ok bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints(), true
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints(), true
	default:
		return pmetric.NumberDataPointSlice{}, false
	}
}

// forEachNumberPoint calls fn for every gauge and sum data point in md.
func forEachNumberPoint(md pmetric.Metrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				dps, ok := numberPoints(m)
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
