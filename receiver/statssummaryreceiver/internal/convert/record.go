package convert

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// Record functions as method expressions of the generated MetricsBuilder. The
// per-area tables (cpu.go, memory.go, fs.go, …) name one per Summary field, so
// the node, system containers, pods and containers share one conversion path.
type (
	recordDouble func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
	recordInt    func(*metadata.MetricsBuilder, pcommon.Timestamp, int64)
)

// recordUint records v when it is set, clamped to the int64 range of pdata.
func recordUint(mb *metadata.MetricsBuilder, rec recordInt, ts pcommon.Timestamp, v *uint64) {
	if v == nil || rec == nil {
		return
	}
	rec(mb, ts, clampInt64(*v))
}

// recordInt64 records v when it is set.
func recordInt64(mb *metadata.MetricsBuilder, rec recordInt, ts pcommon.Timestamp, v *int64) {
	if v == nil || rec == nil {
		return
	}
	rec(mb, ts, *v)
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
func recordUptime(mb *metadata.MetricsBuilder, rec recordInt, ts pcommon.Timestamp, start metav1.Time, now time.Time) {
	if rec == nil || start.IsZero() || now.Before(start.Time) {
		return
	}
	rec(mb, ts, int64(now.Sub(start.Time)/time.Second))
}
