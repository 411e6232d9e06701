package statssummaryreceiver

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// peerMetrics is testdata/kubeletstats_metrics.yaml.
type peerMetrics struct {
	Metrics []struct {
		Name      string `json:"name"`
		Unit      string `json:"unit"`
		Type      string `json:"type"`
		ValueType string `json:"value_type"`
		Monotonic *bool  `json:"monotonic"`
		Enabled   bool   `json:"enabled"`
		Verified  *bool  `json:"verified"`
	} `json:"metrics"`
	NotProvided []struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"not_provided"`
}

// TestPeerNames checks, for every kubeletstats metric of the fixture, that it is
// declared with the same default enablement and emitted with the same unit,
// type, value type and monotonicity, so dashboards built on kubeletstats keep
// working when only the receiver's name changes.
func TestPeerNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "kubeletstats_metrics.yaml"))
	require.NoError(t, err)
	var peer peerMetrics
	require.NoError(t, yaml.UnmarshalStrict(raw, &peer))
	require.Len(t, peer.Metrics, 53)

	enabled := defaultEnablement(t)
	produced := producedMetrics(t)

	for _, want := range peer.Metrics {
		t.Run(want.Name, func(t *testing.T) {
			def, declared := enabled[want.Name]
			require.True(t, declared, "not declared in metadata.yaml")
			assert.Equal(t, want.Enabled, def, "default enablement")
			got, ok := produced[want.Name]
			require.True(t, ok, "not produced from the full Summary")
			if want.Verified != nil && !*want.Verified {
				return // name only: kubeletstats' own declaration was not readable
			}
			assert.Equal(t, want.Unit, got.Unit(), "unit")
			switch want.Type {
			case "gauge":
				require.Equal(t, pmetric.MetricTypeGauge, got.Type(), "type")
				assertValueType(t, want.ValueType, got.Gauge().DataPoints())
			case "sum":
				require.Equal(t, pmetric.MetricTypeSum, got.Type(), "type")
				require.NotNil(t, want.Monotonic, "the fixture gives no monotonicity for a sum")
				assert.Equal(t, *want.Monotonic, got.Sum().IsMonotonic(), "monotonic")
				assert.Equal(t, pmetric.AggregationTemporalityCumulative, got.Sum().AggregationTemporality(), "temporality")
				assertValueType(t, want.ValueType, got.Sum().DataPoints())
			default:
				t.Fatalf("fixture type %q", want.Type)
			}
		})
	}
	for _, np := range peer.NotProvided {
		_, declared := enabled[np.Name]
		assert.False(t, declared, "%s is listed as not provided (%s) but is declared", np.Name, np.Reason)
	}
}

func assertValueType(t *testing.T, want string, dps pmetric.NumberDataPointSlice) {
	t.Helper()
	require.Positive(t, dps.Len())
	wantType := map[string]pmetric.NumberDataPointValueType{
		"int": pmetric.NumberDataPointValueTypeInt, "double": pmetric.NumberDataPointValueTypeDouble,
	}[want]
	require.NotZero(t, wantType, "fixture value_type %q", want)
	assert.Equal(t, wantType, dps.At(0).ValueType(), "value type")
}

// defaultEnablement maps each declared metric to its default enablement.
func defaultEnablement(t *testing.T) map[string]bool {
	t.Helper()
	cfg := reflect.ValueOf(metadata.DefaultMetricsConfig())
	out := make(map[string]bool, cfg.NumField())
	for i := range cfg.NumField() {
		name := cfg.Type().Field(i).Tag.Get("mapstructure")
		if name == "" {
			continue
		}
		out[name] = cfg.Field(i).FieldByName("Enabled").Bool()
	}
	return out
}

// producedMetrics converts the full Summary with every metric enabled and
// returns one emitted metric per name.
func producedMetrics(t *testing.T) map[string]pmetric.Metric {
	t.Helper()
	dir := filepath.Join(scenariosDir, "all_metrics_enabled")
	sc := readScenario(t, dir)
	md := convertSummaryScenario(t, dir, sc, scenarioConfig(t, sc.Config))
	out := map[string]pmetric.Metric{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				out[ms.At(k).Name()] = ms.At(k)
			}
		}
	}
	return out
}
