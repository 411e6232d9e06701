package deploy

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/processor/batchprocessor"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

// TestShippedCollectorConfig loads the config `make run` uses
// (config/collector.yaml) with the real factories, so a broken default config
// fails here rather than at startup.
func TestShippedCollectorConfig(t *testing.T) {
	t.Setenv("CRI_ENDPOINT", "/run/containerd/containerd.sock")
	factories, err := otelcoltest.NopFactories()
	require.NoError(t, err)
	factories.Receivers, err = otelcol.MakeFactoryMap(statssummaryreceiver.NewFactory())
	require.NoError(t, err)
	factories.Processors, err = otelcol.MakeFactoryMap(batchprocessor.NewFactory())
	require.NoError(t, err)
	factories.Exporters, err = otelcol.MakeFactoryMap(debugexporter.NewFactory())
	require.NoError(t, err)

	cfg, err := otelcoltest.LoadConfigAndValidate(filepath.Join("..", "..", "config", "collector.yaml"), factories)
	require.NoError(t, err)
	rcfg, ok := cfg.Receivers[component.NewID(statssummaryreceiver.NewFactory().Type())].(*statssummaryreceiver.Config)
	require.True(t, ok, "stats_summary receiver configured")
	assert.Equal(t, "/run/containerd/containerd.sock", rcfg.CRI.Endpoint)
}
