package statssummaryreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadatatest"
)

// TestScrapeTelemetry checks the receiver's own metrics through the collector's
// meter, and that the CRI client's per-RPC metrics (otelgrpc, via configgrpc)
// reach the same meter with the RPC's name and status code.
func TestScrapeTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })

	srv := crifake.New(t)
	srv.SetState(twoPodsState())
	srv.SetError("ListContainerStats", status.Error(codes.Unavailable, "restarting"))

	s := newStatsScraper(newTestConfig(srv.Endpoint), metadatatest.NewSettings(tel))
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(t.Context())) })

	_, err := s.scrape(t.Context())
	require.Error(t, err)
	srv.SetError("ListContainerStats", nil)
	_, err = s.scrape(t.Context())
	require.NoError(t, err)

	metadatatest.AssertEqualReceiverStatsSummarySourceErrors(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("source", "cri"))},
	}, metricdatatest.IgnoreTimestamp())

	duration, err := tel.GetMetric("otelcol_receiver_stats_summary_scrape_duration")
	require.NoError(t, err)
	hist, ok := duration.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "scrape duration is a %T", duration.Data)
	require.Len(t, hist.DataPoints, 1)
	assert.Equal(t, uint64(2), hist.DataPoints[0].Count)

	rpc := rpcClientDuration(t, tel)
	calls := map[string]map[string]uint64{} // rpc.method → status code → count
	for _, dp := range rpc.DataPoints {
		method, _ := dp.Attributes.Value("rpc.method")
		code, _ := dp.Attributes.Value("rpc.response.status_code")
		if calls[method.AsString()] == nil {
			calls[method.AsString()] = map[string]uint64{}
		}
		calls[method.AsString()][code.AsString()] += dp.Count
	}
	assert.Equal(t, map[string]uint64{"UNAVAILABLE": 1, "OK": 1},
		calls["runtime.v1.RuntimeService/ListContainerStats"], "calls: %v", calls)
	assert.Equal(t, map[string]uint64{"OK": 2},
		calls["runtime.v1.RuntimeService/ListPodSandbox"], "calls: %v", calls)
}

// rpcClientDuration finds otelgrpc's client duration histogram, whichever of
// its semantic-convention names the linked version uses.
func rpcClientDuration(t *testing.T, tel *componenttest.Telemetry) metricdata.Histogram[float64] {
	t.Helper()
	for _, name := range []string{"rpc.client.call.duration", "rpc.client.duration"} {
		m, err := tel.GetMetric(name)
		if err != nil {
			continue
		}
		h, ok := m.Data.(metricdata.Histogram[float64])
		require.True(t, ok, "%s is a %T", name, m.Data)
		return h
	}
	t.Fatal("no rpc.client duration metric from the CRI client")
	return metricdata.Histogram[float64]{}
}
