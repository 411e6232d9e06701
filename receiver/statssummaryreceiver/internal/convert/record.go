package convert

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// Recorders name one metric of the catalogue each: the generated
// MetricsBuilder's Record method (as a method expression) and the metric's
// index in the catalogue the hand-built path keeps (emitter.go). The per-area
// tables (cpu.go, memory.go, fs.go, …) name one per Summary field, so the
// node, system containers, pods and containers share one conversion path.
// Build them with the constructors below, which register each one in
// catalogue; the zero recorder records nothing.
type (
	recordDouble struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
		id  metricID
	}
	recordInt struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64)
		id  metricID
	}
)

// metricID indexes catalogue; 0 is no metric.
type metricID int

// catalogue holds, per metricID, a probe: it records one point of the
// metric with values the probe chooses, through the generated builder. The
// hand-built path learns each metric's name, description, unit, type and
// attribute keys from the point the generated code emits (emitter.go), so
// metadata.yaml stays their only source. Index 0 is unused. It is filled
// once, by the package's variable initialization, and only read afterwards.
var catalogue = []func(*metadata.MetricsBuilder){nil}

func register(probe func(*metadata.MetricsBuilder)) metricID {
	catalogue = append(catalogue, probe)
	return metricID(len(catalogue) - 1)
}

func newRecordDouble(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)) recordDouble {
	return recordDouble{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1) })}
}

func newRecordInt(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64)) recordInt {
	return recordInt{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1) })}
}

// double records v as a double point of r.
func (s *sink) double(r recordDouble, ts pcommon.Timestamp, v float64) {
	if r.gen == nil {
		return
	}
	if s.fast == nil {
		r.gen(s.mb, ts, v)
		return
	}
	if dp, ok := s.fast.point(r.id, ts); ok {
		dp.SetDoubleValue(v)
	}
}

// int records v as an integer point of r.
func (s *sink) int(r recordInt, ts pcommon.Timestamp, v int64) {
	if r.gen == nil {
		return
	}
	if s.fast == nil {
		r.gen(s.mb, ts, v)
		return
	}
	if dp, ok := s.fast.point(r.id, ts); ok {
		dp.SetIntValue(v)
	}
}

// recordUint records v when it is set, clamped to the int64 range of pdata.
func recordUint(s *sink, rec recordInt, ts pcommon.Timestamp, v *uint64) {
	if v == nil {
		return
	}
	s.int(rec, ts, clampInt64(*v))
}

// recordInt64 records v when it is set.
func recordInt64(s *sink, rec recordInt, ts pcommon.Timestamp, v *int64) {
	if v == nil {
		return
	}
	s.int(rec, ts, *v)
}

// clampInt64 converts a counter to pdata's int64, saturating instead of wrapping.
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// recordUptime records the whole seconds between start and the scrape time; an
// unknown (zero) start or a start after the scrape records nothing.
func recordUptime(s *sink, rec recordInt, ts pcommon.Timestamp, start metav1.Time, now time.Time) {
	if start.IsZero() || now.Before(start.Time) {
		return
	}
	s.int(rec, ts, int64(now.Sub(start.Time)/time.Second))
}

var (
	nodeUptime      = newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeUptimeDataPoint)
	podUptime       = newRecordInt((*metadata.MetricsBuilder).RecordK8sPodUptimeDataPoint)
	containerUptime = newRecordInt((*metadata.MetricsBuilder).RecordContainerUptimeDataPoint)
)

// sink is where the recorders' points go: the hand-built emitter when the
// configuration allows it (emitter.go), the generated MetricsBuilder
// otherwise.
type sink struct {
	mb   *metadata.MetricsBuilder
	fast *emitter
}

// intAttrs records v as an integer point of metric id with data point
// attributes (the emitter only).
func (s *sink) intAttrs(id metricID, ts pcommon.Timestamp, v int64, attrs [maxPointAttributes]string) {
	dp, strategy, merged, ok := s.fast.attributed(id, ts, &attrs)
	switch {
	case !ok:
	case merged:
		aggregateInt(dp, strategy, v)
	default:
		dp.SetIntValue(v)
	}
}

// doubleAttrs records v as a double point of metric id with data point
// attributes (the emitter only).
func (s *sink) doubleAttrs(id metricID, ts pcommon.Timestamp, v float64, attrs [maxPointAttributes]string) {
	dp, strategy, merged, ok := s.fast.attributed(id, ts, &attrs)
	switch {
	case !ok:
	case merged:
		aggregateDouble(dp, strategy, v)
	default:
		dp.SetDoubleValue(v)
	}
}

// Recorders of metrics with data point attributes, one type per Record
// signature. The probe passes one valid value per attribute.
type (
	recordNetwork struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, string, metadata.AttributeDirection)
		id  metricID
	}
	recordPSITime struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType)
		id  metricID
	}
	recordPSIAvg struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType, metadata.AttributePressureWindow)
		id  metricID
	}
	recordMemoryEvent struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeMemoryEvent)
		id  metricID
	}
	recordDiskIO struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeDiskIoDirection)
		id  metricID
	}
	recordFsType struct {
		gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeFsType)
		id  metricID
	}
)

func newRecordNetwork(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, string, metadata.AttributeDirection)) recordNetwork {
	return recordNetwork{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1, "eth0", metadata.AttributeDirectionReceive) })}
}

func newRecordPSITime(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType)) recordPSITime {
	return recordPSITime{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1, metadata.AttributePressureTypeSome) })}
}

func newRecordPSIAvg(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType, metadata.AttributePressureWindow)) recordPSIAvg {
	return recordPSIAvg{gen: gen, id: register(func(mb *metadata.MetricsBuilder) {
		gen(mb, 1, 1, metadata.AttributePressureTypeSome, metadata.AttributePressureWindow10s)
	})}
}

func newRecordMemoryEvent(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeMemoryEvent)) recordMemoryEvent {
	return recordMemoryEvent{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1, metadata.AttributeMemoryEventOom) })}
}

func newRecordDiskIO(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeDiskIoDirection)) recordDiskIO {
	return recordDiskIO{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1, metadata.AttributeDiskIoDirectionRead) })}
}

func newRecordFsType(gen func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeFsType)) recordFsType {
	return recordFsType{gen: gen, id: register(func(mb *metadata.MetricsBuilder) { gen(mb, 1, 1, metadata.AttributeFsTypeRootfs) })}
}

func (s *sink) network(r recordNetwork, ts pcommon.Timestamp, v int64, iface string, dir metadata.AttributeDirection) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, iface, dir)
		return
	}
	s.intAttrs(r.id, ts, v, [maxPointAttributes]string{iface, dir.String()})
}

func (s *sink) psiTime(r recordPSITime, ts pcommon.Timestamp, v float64, typ metadata.AttributePressureType) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, typ)
		return
	}
	s.doubleAttrs(r.id, ts, v, [maxPointAttributes]string{typ.String()})
}

func (s *sink) psiAvg(r recordPSIAvg, ts pcommon.Timestamp, v float64, typ metadata.AttributePressureType, window metadata.AttributePressureWindow) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, typ, window)
		return
	}
	s.doubleAttrs(r.id, ts, v, [maxPointAttributes]string{typ.String(), window.String()})
}

func (s *sink) memoryEvent(r recordMemoryEvent, ts pcommon.Timestamp, v int64, event metadata.AttributeMemoryEvent) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, event)
		return
	}
	s.intAttrs(r.id, ts, v, [maxPointAttributes]string{event.String()})
}

func (s *sink) diskIO(r recordDiskIO, ts pcommon.Timestamp, v int64, dir metadata.AttributeDiskIoDirection) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, dir)
		return
	}
	s.intAttrs(r.id, ts, v, [maxPointAttributes]string{dir.String()})
}

func (s *sink) fsType(r recordFsType, ts pcommon.Timestamp, v int64, typ metadata.AttributeFsType) {
	if s.fast == nil {
		r.gen(s.mb, ts, v, typ)
		return
	}
	s.intAttrs(r.id, ts, v, [maxPointAttributes]string{typ.String()})
}
