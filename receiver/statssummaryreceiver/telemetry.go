package statssummaryreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// scrapeTelemetry is the receiver's own telemetry through the collector's
// meter: scrape duration and failed sources. Per-RPC CRI call durations and
// status codes are not repeated here: configgrpc instruments the CRI client
// with otelgrpc on the same meter provider (rpc.client.* with rpc.method).
type scrapeTelemetry struct {
	tb *metadata.TelemetryBuilder
}

func newScrapeTelemetry(set component.TelemetrySettings) (*scrapeTelemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &scrapeTelemetry{tb: tb}, nil
}

// record notes one scrape that began at started and ended with err (the
// assembly's error, joining one *summary.SourceError per failed source).
func (t *scrapeTelemetry) record(ctx context.Context, started time.Time, err error) {
	t.tb.ReceiverStatsSummaryScrapeDuration.Record(ctx, time.Since(started).Seconds())
	for _, source := range summary.FailedSources(err) {
		t.tb.ReceiverStatsSummarySourceErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("source", source)))
	}
}

func (t *scrapeTelemetry) shutdown() {
	t.tb.Shutdown()
}
