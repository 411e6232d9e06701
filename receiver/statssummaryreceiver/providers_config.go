package statssummaryreceiver

import (
	"fmt"
	"path"
	"time"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/host"
	"github.com/statssummary/statssummary/internal/summary"
)

// CgroupsConfig says which cgroups feed the node's system containers and the
// pods (the cAdvisor provider).
type CgroupsConfig struct {
	// Enabled turns the cgroup provider on; without it the Summary has no
	// node CPU, memory or network and no system containers. Default true.
	Enabled bool `mapstructure:"enabled"`
	// PodsCgroup is the kubepods root cgroup, as the kubelet names it
	// ("/kubepods" with the cgroupfs driver, "/kubepods.slice" with systemd).
	// Empty detects the first of those that exists.
	PodsCgroup string `mapstructure:"pods_cgroup"`
	// KubeletCgroup, RuntimeCgroup and MiscCgroup are the cgroups of the
	// kubelet, runtime and misc system containers (the kubelet's
	// --kubelet-cgroups, --runtime-cgroups and --system-cgroups). Empty
	// RuntimeCgroup is the cgroup of the running containerd, crio or dockerd;
	// empty KubeletCgroup and MiscCgroup leave those out.
	KubeletCgroup string `mapstructure:"kubelet_cgroup"`
	RuntimeCgroup string `mapstructure:"runtime_cgroup"`
	MiscCgroup    string `mapstructure:"misc_cgroup"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// HostConfig says where the kubelet keeps pod data and how often its usage is
// measured. Pod logs are where cri.pod_logs_dir says.
type HostConfig struct {
	// KubeletRootDir is the kubelet's --root-dir: pods/<uid>/volumes and
	// etc-hosts are measured under it, and the node fs is statfs of its pods
	// directory (the only part of it the DaemonSet mounts).
	KubeletRootDir string `mapstructure:"kubelet_root_dir"`
	// VolumeWalkPeriod is how often volume and etc-hosts usage is measured
	// by the background walker (never on the scrape path).
	VolumeWalkPeriod time.Duration `mapstructure:"volume_walk_period"`
	// LogWalkPeriod is how often the background walker measures container
	// log usage. The scrape does not read log directories itself, so the
	// default, zero, is the collection interval: the figures are as fresh as
	// a scrape.
	LogWalkPeriod time.Duration `mapstructure:"log_walk_period"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultCgroupsConfig() CgroupsConfig { return CgroupsConfig{Enabled: true} }

func defaultHostConfig() HostConfig {
	return HostConfig{
		KubeletRootDir:   host.DefaultKubeletRootDir,
		VolumeWalkPeriod: host.DefaultWalkPeriod,
	}
}

// systemCgroups maps the configured system container cgroups to Summary names.
func (c CgroupsConfig) systemCgroups() map[string]string {
	out := map[string]string{}
	for name, cg := range map[string]string{
		statsapi.SystemContainerKubelet: c.KubeletCgroup,
		statsapi.SystemContainerRuntime: c.RuntimeCgroup,
		statsapi.SystemContainerMisc:    c.MiscCgroup,
	} {
		if cg != "" {
			out[name] = cg
		}
	}
	return out
}

// validateProviders checks mode, cgroups and host; each error names its field.
func (cfg *Config) validateProviders() []error {
	var errs []error
	if _, err := summary.ParseMode(cfg.Mode); err != nil {
		errs = append(errs, fmt.Errorf("mode: %w", err))
	} else if m, _ := summary.ParseMode(cfg.Mode); m == summary.ModeCAdvisor && !cfg.Cgroups.Enabled {
		errs = append(errs, fmt.Errorf("mode: cadvisor needs cgroups.enabled"))
	}
	for field, cg := range map[string]string{
		"cgroups.pods_cgroup":    cfg.Cgroups.PodsCgroup,
		"cgroups.kubelet_cgroup": cfg.Cgroups.KubeletCgroup,
		"cgroups.runtime_cgroup": cfg.Cgroups.RuntimeCgroup,
		"cgroups.misc_cgroup":    cfg.Cgroups.MiscCgroup,
	} {
		if cg != "" && (!path.IsAbs(cg) || path.Clean(cg) != cg) {
			errs = append(errs, fmt.Errorf("%s: %q is not a clean absolute cgroup name such as /kubepods", field, cg))
		}
	}
	if cfg.Host.KubeletRootDir == "" || !path.IsAbs(cfg.Host.KubeletRootDir) {
		errs = append(errs, fmt.Errorf("host.kubelet_root_dir: %q is not an absolute path", cfg.Host.KubeletRootDir))
	}
	if cfg.Host.VolumeWalkPeriod <= 0 {
		errs = append(errs, fmt.Errorf("host.volume_walk_period: must be positive, got %s", cfg.Host.VolumeWalkPeriod))
	}
	if cfg.Host.LogWalkPeriod < 0 {
		errs = append(errs, fmt.Errorf("host.log_walk_period: must not be negative, got %s", cfg.Host.LogWalkPeriod))
	}
	return errs
}
