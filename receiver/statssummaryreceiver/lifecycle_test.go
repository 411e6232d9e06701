package statssummaryreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"go.uber.org/goleak"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// TestStartShutdownCycles starts and stops the receiver 100 times against a live
// runtime, scraping each time, and checks that no goroutine is left behind.
func TestStartShutdownCycles(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	ignore := goleak.IgnoreCurrent()

	for i := 0; i < 100; i++ {
		sink := new(consumertest.MetricsSink)
		tick := make(chan time.Time)
		cfg := newTestConfig(srv.Endpoint)
		cfg.InitialDelay = 0
		r, err := newMetricsReceiver(cfg, receivertest.NewNopSettings(metadata.Type), sink, scraperhelper.WithTickerChannel(tick))
		require.NoError(t, err)
		require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
		require.Eventually(t, func() bool { return len(sink.AllMetrics()) > 0 }, 10*time.Second, time.Millisecond)
		require.NoError(t, r.Shutdown(t.Context()))
	}
	assert.Equal(t, 100, srv.Calls("ListContainerStats"))
	goleak.VerifyNone(t, ignore)
}

// TestShutdownCancelsHangingScrape checks that Shutdown returns promptly while a
// CRI call hangs, instead of waiting out the CRI timeout.
func TestShutdownCancelsHangingScrape(t *testing.T) {
	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	srv.SetDelay("ListContainerStats", time.Hour)

	cfg := newTestConfig(srv.Endpoint)
	cfg.InitialDelay = 0
	cfg.CRI.Timeout = time.Hour // only Shutdown can end the hanging call
	r, err := newMetricsReceiver(cfg, receivertest.NewNopSettings(metadata.Type), consumertest.NewNop(),
		scraperhelper.WithTickerChannel(make(chan time.Time)))
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return srv.Calls("ListContainerStats") == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx), "shutdown must not wait for the hanging call")
}
