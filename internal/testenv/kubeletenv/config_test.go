package kubeletenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// TestConfigKeepsEmptySettings checks that the written configuration carries
// the settings the kubelet would default when absent: no eviction thresholds
// and no node allocatable enforcement, as empty values, beside the rest.
func TestConfigKeepsEmptySettings(t *testing.T) {
	p := paths{t.TempDir()}
	c := &containerdenv.Env{Endpoint: "unix:///x/containerd.sock", CgroupDriver: containerdenv.Systemd}
	cfg := kubeletConfig(p, c, "/ss_x", 10250, 10255, 7*time.Second)
	path := filepath.Join(p.dir, "kubelet.yaml")
	require.NoError(t, writeConfig(path, cfg))
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	var back kubeletconfig.KubeletConfiguration
	require.NoError(t, yaml.UnmarshalStrict(data, &back), "%s", data)
	assert.NotNil(t, back.EvictionHard, "evictionHard written")
	assert.Empty(t, back.EvictionHard, "evictionHard empty")
	assert.NotNil(t, back.EnforceNodeAllocatable, "enforceNodeAllocatable written")
	assert.Empty(t, back.EnforceNodeAllocatable, "enforceNodeAllocatable empty")
	assert.Equal(t, "systemd", back.CgroupDriver)
	assert.Equal(t, "/ss_x", back.CgroupRoot)
	assert.Equal(t, "unix:///x/containerd.sock", back.ContainerRuntimeEndpoint)
	assert.Equal(t, int32(10255), back.ReadOnlyPort)
	assert.Equal(t, 7*time.Second, back.VolumeStatsAggPeriod.Duration)
	assert.Equal(t, p.podLogs(), back.PodLogsDir)
	require.NotNil(t, back.FailCgroupV1)
	assert.False(t, *back.FailCgroupV1)
}

func TestPodsCgroup(t *testing.T) {
	assert.Equal(t, "/ss_parity/kubepods", podsCgroup(containerdenv.CgroupFS, cgroupRootName("parity")))
	assert.Equal(t, "/ss_par_ity.slice/ss_par_ity-kubepods.slice", podsCgroup(containerdenv.Systemd, cgroupRootName("par-ity")))
}
