package statssummaryreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestMetricGroupsConfig(t *testing.T) {
	tests := []struct {
		name    string
		conf    map[string]any
		want    []MetricGroup
		allNets NetworkInterfacesConfig
		wantErr string
	}{
		{
			name: "default is every group but volume, as in kubeletstats",
			conf: map[string]any{},
			want: []MetricGroup{"node", "system_container", "pod", "container"},
		},
		{
			name:    "a subset and all pod interfaces",
			conf:    map[string]any{"metric_groups": []any{"pod", "volume"}, "collect_all_network_interfaces": map[string]any{"pod": true}},
			want:    []MetricGroup{"pod", "volume"},
			allNets: NetworkInterfacesConfig{Pod: true},
		},
		{
			name:    "empty",
			conf:    map[string]any{"metric_groups": []any{}},
			wantErr: "metric_groups: must name at least one of node, system_container, pod, container, volume",
		},
		{
			name:    "unknown group",
			conf:    map[string]any{"metric_groups": []any{"node", "nodes"}},
			wantErr: `metric_groups: unknown group "nodes" (want node, system_container, pod, container or volume)`,
		},
		{
			name:    "repeated group",
			conf:    map[string]any{"metric_groups": []any{"pod", "pod"}},
			wantErr: `metric_groups: group "pod" listed twice`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(tt.conf).Unmarshal(cfg))
			err := cfg.Validate()
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.MetricGroups)
			assert.Equal(t, tt.allNets, cfg.CollectAllNetworkInterfaces)
		})
	}
}

func TestDefaultGroupsAreNotShared(t *testing.T) {
	a, b := defaultGroupsConfig(), defaultGroupsConfig()
	a.MetricGroups[0] = "changed"
	assert.Equal(t, NodeMetricGroup, b.MetricGroups[0])
	assert.Equal(t, NodeMetricGroup, defaultMetricGroups[0])
}
