// Package receiverrun starts the real stats_summary receiver in a test's own
// process from a configuration map, as a collector would build it, and never
// ticks a scrape: the suites that compare its JSON endpoint with another
// reading of the same node (the kubelet's, the DaemonSet pod's) use it.
package receiverrun

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap/zaptest"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

// Start unmarshals conf (a stats_summary section) onto the factory's
// defaults, validates it, starts the receiver and shuts it down when the test
// ends.
func Start(t *testing.T, conf map[string]any) {
	t.Helper()
	f := statssummaryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*statssummaryreceiver.Config)
	require.NoError(t, confmap.NewFromStringMap(conf).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	set := receivertest.NewNopSettings(f.Type())
	set.Logger = zaptest.NewLogger(t)
	r, err := statssummaryreceiver.NewManualMetricsReceiver(cfg, set, new(consumertest.MetricsSink), make(chan time.Time))
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		// t.Context is done when cleanups run: shutdown gets its own bound.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, r.Shutdown(ctx))
	})
}
