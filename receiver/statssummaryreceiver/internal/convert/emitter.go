package convert

import (
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// emitter is the hand-built path from the recorders to pdata: it appends each
// point straight into its resource's metric, where the generated
// MetricsBuilder buffers every metric apart and, per resource, visits all of
// the catalogue's metrics to move the recorded ones out (EmitForResource), then
// walks them again to set the start timestamps. The output is the same
// (TestFastPathEqualsGenerated): the names, descriptions, units, types and
// attribute keys are read at construction from what the generated code emits
// for each metric (probe), the same aggregation of points with equal
// attributes is applied, and resources without points are left out. Only
// metric order within a resource differs: recording order, not the
// catalogue's.
//
// It serves configurations the generated builder's per-resource filters and
// per-metric attribute choices do not change (fastPathApplies); any other
// uses the generated path.
type emitter struct {
	out pmetric.Metrics
	rms pmetric.ResourceMetricsSlice
	// rmsHint sizes the next scrape's resource slice: the last one's length.
	rmsHint int

	slots                   []slot // by metricID
	scopeName, scopeVersion string
	// builderStart is the start of points whose object has no start time:
	// the generated builder's start (the receiver's).
	builderStart pcommon.Timestamp

	// The resource being built: gen tells the slots recorded in it from the
	// others (64 bits: it never wraps, so a slot last used long ago or never
	// cannot pass for one of this resource), rm exists once a point was
	// recorded (open).
	gen     uint64
	kind    resourceKind
	start   pcommon.Timestamp
	open    bool
	rm      pmetric.ResourceMetrics
	metrics pmetric.MetricSlice
	// avgPending are the slots of this resource whose points merged under
	// the avg strategy: divided when the resource closes.
	avgPending []metricID
	// metricsHint is, per kind, the most metrics a resource had: the size of
	// the next one's metric slice.
	metricsHint [resourceKinds]int
}

// slot is one metric of the catalogue as this configuration emits it.
type slot struct {
	enabled                 bool
	name, description, unit string
	sum, monotonic          bool
	temporality             pmetric.AggregationTemporality
	// keys are the data point attribute keys, in the order the generated
	// Record method takes (and sets) their values.
	keys     []string
	strategy string

	// The metric in the resource being built, when gen is the emitter's.
	gen    uint64
	dps    pmetric.NumberDataPointSlice
	counts []int  // points merged into each data point (attributed metrics)
	avgGen uint64 // gen when queued in avgPending
}

// resourceKind sizes metric slices per kind of resource.
type resourceKind int

const (
	kindNode resourceKind = iota
	kindSystemContainer
	kindPod
	kindContainer
	kindVolume
	resourceKinds
)

// newEmitter returns the hand-built path for mbc, or nil when mbc needs the
// generated one (fastPathApplies). start is the builder's start time.
func newEmitter(mbc metadata.MetricsBuilderConfig, set receiver.Settings, start pcommon.Timestamp) *emitter {
	strategies, ok := fastPathApplies(mbc)
	if !ok {
		return nil
	}
	set.Logger = zap.NewNop() // the probe's warnings are the real builder's
	probe := metadata.NewMetricsBuilder(mbc, set, metadata.WithStartTime(start))
	e := &emitter{slots: make([]slot, len(catalogue)), builderStart: start, gen: 1}
	for id := 1; id < len(catalogue); id++ {
		catalogue[id](probe)
		md := probe.Emit()
		if md.ResourceMetrics().Len() == 0 {
			continue // disabled
		}
		sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
		e.scopeName, e.scopeVersion = sm.Scope().Name(), sm.Scope().Version()
		m := sm.Metrics().At(0)
		s := &e.slots[id]
		s.enabled = true
		s.name, s.description, s.unit = m.Name(), m.Description(), m.Unit()
		var dps pmetric.NumberDataPointSlice
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			dps = m.Gauge().DataPoints()
		case pmetric.MetricTypeSum:
			s.sum, s.monotonic, s.temporality = true, m.Sum().IsMonotonic(), m.Sum().AggregationTemporality()
			dps = m.Sum().DataPoints()
		default:
			return nil // not a number metric: not the catalogue this path knows
		}
		for k := range dps.At(0).Attributes().All() {
			s.keys = append(s.keys, k)
		}
		if len(s.keys) > maxPointAttributes {
			return nil
		}
		s.strategy = strategies[s.name]
	}
	e.reset()
	return e
}

// maxPointAttributes is the most data point attributes a metric of the
// catalogue has (pressure: type and window; network: interface and direction).
const maxPointAttributes = 2

// fastPathApplies says whether mbc leaves the generated builder's output as
// the emitter builds it: no resource attribute filters (metrics_include,
// metrics_exclude) and every metric's data point attributes as the default
// configuration has them. It returns each metric's aggregation strategy, by
// name, for points with equal attributes.
func fastPathApplies(mbc metadata.MetricsBuilderConfig) (map[string]string, bool) {
	ra := reflect.ValueOf(mbc.ResourceAttributes)
	for i := range ra.NumField() {
		f := ra.Field(i)
		if f.FieldByName("MetricsInclude").Len() > 0 || f.FieldByName("MetricsExclude").Len() > 0 {
			return nil, false
		}
	}
	strategies := map[string]string{}
	def := reflect.ValueOf(metadata.DefaultMetricsConfig())
	ms := reflect.ValueOf(mbc.Metrics)
	for i := range ms.NumField() {
		f := ms.Field(i)
		name, _, _ := strings.Cut(ms.Type().Field(i).Tag.Get("mapstructure"), ",")
		if a := f.FieldByName("EnabledAttributes"); a.IsValid() && !reflect.DeepEqual(a.Interface(), def.Field(i).FieldByName("EnabledAttributes").Interface()) {
			return nil, false
		}
		if s := f.FieldByName("AggregationStrategy"); s.IsValid() {
			strategies[name] = s.String()
		}
	}
	return strategies, true
}

// reset starts the next scrape's output.
func (e *emitter) reset() {
	e.out = pmetric.NewMetrics()
	e.rms = e.out.ResourceMetrics()
	e.rms.EnsureCapacity(e.rmsHint)
}

// take returns the scrape's output and starts the next one.
func (e *emitter) take() pmetric.Metrics {
	out := e.out
	e.rmsHint = e.rms.Len()
	e.reset()
	return out
}

// begin starts a resource of kind k whose points start at start (the
// builder's start when zero).
func (e *emitter) begin(k resourceKind, start pcommon.Timestamp) {
	e.gen++
	e.kind = k
	e.start = start
	if start == 0 {
		e.start = e.builderStart
	}
	e.open = false
}

// end closes the resource with the attributes of res; without points it is
// left out.
func (e *emitter) end(res pcommon.Resource) {
	if !e.open {
		return
	}
	for _, id := range e.avgPending {
		s := &e.slots[id]
		for i, n := range s.counts {
			if n < 2 {
				continue
			}
			dp := s.dps.At(i)
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				dp.SetIntValue(dp.IntValue() / int64(n))
			} else {
				dp.SetDoubleValue(dp.DoubleValue() / float64(n))
			}
		}
	}
	e.avgPending = e.avgPending[:0]
	res.MoveTo(e.rm.Resource())
	if n := e.metrics.Len(); n > e.metricsHint[e.kind] {
		e.metricsHint[e.kind] = n
	}
	e.open = false
}

// metric returns the points of s in the resource being built, adding the
// metric (and the resource) at its first point.
func (e *emitter) metric(s *slot) pmetric.NumberDataPointSlice {
	if s.gen == e.gen {
		return s.dps
	}
	if !e.open {
		e.rm = e.rms.AppendEmpty()
		sm := e.rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(e.scopeName)
		sm.Scope().SetVersion(e.scopeVersion)
		e.metrics = sm.Metrics()
		e.metrics.EnsureCapacity(e.metricsHint[e.kind])
		e.open = true
	}
	m := e.metrics.AppendEmpty()
	m.SetName(s.name)
	m.SetDescription(s.description)
	m.SetUnit(s.unit)
	if s.sum {
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(s.monotonic)
		sum.SetAggregationTemporality(s.temporality)
		s.dps = sum.DataPoints()
	} else {
		s.dps = m.SetEmptyGauge().DataPoints()
	}
	s.gen = e.gen
	s.counts = s.counts[:0]
	return s.dps
}

// point appends a point of metric id without attributes; false when the
// metric is off.
func (e *emitter) point(id metricID, ts pcommon.Timestamp) (pmetric.NumberDataPoint, bool) {
	s := &e.slots[id]
	if !s.enabled {
		return pmetric.NumberDataPoint{}, false
	}
	dp := e.metric(s).AppendEmpty()
	dp.SetStartTimestamp(e.start)
	dp.SetTimestamp(ts)
	return dp, true
}

// attributed appends a point of metric id with the attribute values attrs
// (in the order of the slot's keys), or, when the resource already has a
// point with these attributes and times and the metric's aggregation
// strategy merges, returns that point with merged set, as the generated
// Record methods do; the caller sets or merges the value. ok is false when
// the metric is off.
func (e *emitter) attributed(id metricID, ts pcommon.Timestamp, attrs *[maxPointAttributes]string) (dp pmetric.NumberDataPoint, strategy string, merged, ok bool) {
	s := &e.slots[id]
	if !s.enabled {
		return dp, "", false, false
	}
	dps := e.metric(s)
	switch s.strategy {
	case metadata.AggregationStrategySum, metadata.AggregationStrategyAvg,
		metadata.AggregationStrategyMin, metadata.AggregationStrategyMax:
		if i := s.find(dps, e.start, ts, attrs); i >= 0 {
			s.counts[i]++
			if s.strategy == metadata.AggregationStrategyAvg && s.avgGen != e.gen {
				s.avgGen = e.gen
				e.avgPending = append(e.avgPending, id)
			}
			return dps.At(i), s.strategy, true, true
		}
	}
	dp = dps.AppendEmpty()
	dp.SetStartTimestamp(e.start)
	dp.SetTimestamp(ts)
	m := dp.Attributes()
	m.EnsureCapacity(len(s.keys))
	for k, key := range s.keys {
		m.PutStr(key, attrs[k])
	}
	s.counts = append(s.counts, 1)
	return dp, s.strategy, false, true
}

// find is the index of the point of dps with these times and attribute
// values, -1 when none.
func (s *slot) find(dps pmetric.NumberDataPointSlice, start, ts pcommon.Timestamp, attrs *[maxPointAttributes]string) int {
	for i := range dps.Len() {
		dp := dps.At(i)
		if dp.StartTimestamp() != start || dp.Timestamp() != ts {
			continue
		}
		a := dp.Attributes()
		same := a.Len() == len(s.keys)
		for k := 0; same && k < len(s.keys); k++ {
			v, ok := a.Get(s.keys[k])
			same = ok && v.Str() == attrs[k]
		}
		if same {
			return i
		}
	}
	return -1
}

// aggregateInt merges v into dp under strategy (sum and avg add; avg
// divides when the resource closes).
func aggregateInt(dp pmetric.NumberDataPoint, strategy string, v int64) {
	switch strategy {
	case metadata.AggregationStrategyMin:
		if dp.IntValue() > v {
			dp.SetIntValue(v)
		}
	case metadata.AggregationStrategyMax:
		if dp.IntValue() < v {
			dp.SetIntValue(v)
		}
	default:
		dp.SetIntValue(dp.IntValue() + v)
	}
}

// aggregateDouble is aggregateInt for double points.
func aggregateDouble(dp pmetric.NumberDataPoint, strategy string, v float64) {
	switch strategy {
	case metadata.AggregationStrategyMin:
		if dp.DoubleValue() > v {
			dp.SetDoubleValue(v)
		}
	case metadata.AggregationStrategyMax:
		if dp.DoubleValue() < v {
			dp.SetDoubleValue(v)
		}
	default:
		dp.SetDoubleValue(dp.DoubleValue() + v)
	}
}

// builderStart is the start every point of an object without a start time
// carries; the generated builder and the emitter share it.
func builderStart() pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(time.Now())
}
