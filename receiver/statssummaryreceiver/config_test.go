package statssummaryreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.CollectionInterval = 30 * time.Second
	custom.NodeName = "worker-7"
	custom.CRI.Endpoint = "/run/crio/crio.sock"
	custom.CRI.Timeout = 5 * time.Second
	custom.CRI.StatsPath = "partial"
	custom.CRI.StatsInterval = 2 * time.Minute
	custom.CRI.PodLogsDir = "/srv/pod-logs"

	k8sAPI := createDefaultConfig().(*Config)
	k8sAPI.K8sAPI.Enabled = true
	k8sAPI.K8sAPI.AuthType = podmeta.AuthKubeConfig
	k8sAPI.K8sAPI.Context = "prod"
	k8sAPI.K8sAPI.Labels = []string{"app", "app.kubernetes.io/name"}
	k8sAPI.K8sAPI.ResolveVolumeClaims = true

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{id: component.NewIDWithName(metadata.Type, "bad_endpoint"), wantErr: `cri.endpoint: endpoint "tcp://10.0.0.1:1234": only unix:// sockets`},
		{id: component.NewIDWithName(metadata.Type, "bad_timeout"), wantErr: "cri.timeout: must be positive, got 0s"},
		{id: component.NewIDWithName(metadata.Type, "timeout_over_interval"), wantErr: "cri.timeout: 6s is longer than collection_interval 5s"},
		{id: component.NewIDWithName(metadata.Type, "bad_stats_path"), wantErr: `cri.stats_path: unknown stats path "sometimes": want auto, strict or partial`},
		{id: component.NewIDWithName(metadata.Type, "negative_stats_interval"), wantErr: "cri.stats_interval: must not be negative, got -1s"},
		{id: component.NewIDWithName(metadata.Type, "relative_pod_logs_dir"), wantErr: `cri.pod_logs_dir: must be an absolute path, got "var/log/pods"`},
		{id: component.NewIDWithName(metadata.Type, "k8s_api"), want: k8sAPI},
		{id: component.NewIDWithName(metadata.Type, "k8s_api_none_without_endpoint"), wantErr: "k8s_api: endpoint: required with auth_type none"},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 10*time.Second, cfg.CollectionInterval)
	assert.Equal(t, 2*time.Second, cfg.CRI.Timeout)
	assert.Empty(t, cfg.CRI.Endpoint, "an empty endpoint means: detect the runtime socket")
	assert.False(t, cfg.K8sAPI.Enabled, "the API server is never called unless asked")
	assert.Equal(t, podmeta.AuthServiceAccount, cfg.K8sAPI.AuthType)
	require.NoError(t, confmap.Validate(cfg))
}

func TestResolveNodeName(t *testing.T) {
	t.Setenv(nodeNameEnv, "from-env")
	got, err := resolveNodeName("configured")
	require.NoError(t, err)
	assert.Equal(t, "configured", got)

	got, err = resolveNodeName("")
	require.NoError(t, err)
	assert.Equal(t, "from-env", got)

	t.Setenv(nodeNameEnv, "")
	got, err = resolveNodeName("")
	require.NoError(t, err)
	assert.NotEmpty(t, got, "falls back to the host name")
}
