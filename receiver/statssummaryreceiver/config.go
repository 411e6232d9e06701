package statssummaryreceiver

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// Config is the stats_summary receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`
	GroupsConfig                   `mapstructure:",squash"`

	// NodeName is written into the Summary and onto every resource as
	// k8s.node.name. Empty means the K8S_NODE_NAME environment variable, else the
	// host name.
	NodeName string `mapstructure:"node_name"`

	// CRI is how the container runtime is reached.
	CRI CRIConfig `mapstructure:"cri"`

	// Server serves the assembled Summary as the kubelet's /stats/summary
	// JSON. Absent by default: nothing listens. `server:` alone listens on
	// 127.0.0.1:10265 (see ServerConfig).
	Server configoptional.Optional[ServerConfig] `mapstructure:"server"`

	// Mode says how the runtime's and the cgroups' pod stats combine: auto
	// (default), cri, cri+cadvisor or cadvisor. Cgroups and Host configure
	// those providers (providers_config.go).
	Mode    string        `mapstructure:"mode"`
	Cgroups CgroupsConfig `mapstructure:"cgroups"`
	Host    HostConfig    `mapstructure:"host"`

	// K8sAPI is the optional pod metadata from the API server (internal/podmeta):
	// off by default. Its fields are checked by its own Validate.
	K8sAPI podmeta.Config `mapstructure:"k8s_api"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// CRIConfig says where the container runtime's CRI socket is and how long a
// call to it may take.
type CRIConfig struct {
	// Endpoint is the runtime's CRI socket, as unix:///path or /path. Empty
	// means the first existing socket among the usual containerd and CRI-O
	// locations (cri.DefaultEndpoints).
	Endpoint string `mapstructure:"endpoint"`
	// Timeout bounds each CRI call. It must be positive and no longer than the
	// collection interval.
	Timeout time.Duration `mapstructure:"timeout"`
	// StatsPath is how stats are read: "strict" (ListPodSandboxStats), "partial"
	// (ListContainerStats, pod totals summed) or "auto" (strict, falling back
	// to partial when the runtime answers Unimplemented). Empty means auto.
	StatsPath string `mapstructure:"stats_path"`
	// StatsInterval is the identity plan's (summary.IdentityGate): in modes
	// auto, cri+cadvisor and cadvisor, while the cgroups gave every pod and
	// container its CPU and memory at the last scrape, the runtime is asked
	// for its stats (ListContainerStats, which reaches every shim) at most
	// this often, for what only it knows (writable layers), and for identity
	// alone (ListPodSandbox, ListContainers) at the scrapes in between, whose
	// CPU and memory come from the cgroups. A scrape that asks for the stats
	// keeps the runtime's values as the mode says; a new container, or a pod
	// or container the cgroups do not describe (a sandboxed runtime's), makes
	// the next scrape ask again. 0 asks at every scrape. Ignored in mode cri.
	StatsInterval time.Duration `mapstructure:"stats_interval"`
	// PodLogsDir is the root of the kubelet's pod log directories, where
	// container log usage is measured. Empty means /var/log/pods.
	PodLogsDir string `mapstructure:"pod_logs_dir"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; each error names the field at fault.
func (cfg *Config) Validate() error {
	var errs []error
	if err := cfg.validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.CRI.Endpoint != "" {
		if _, err := cri.NormalizeEndpoint(cfg.CRI.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("cri.endpoint: %w", err))
		}
	}
	if _, err := cri.ParseStatsPath(cfg.CRI.StatsPath); err != nil {
		errs = append(errs, fmt.Errorf("cri.stats_path: %w", err))
	}
	if cfg.CRI.StatsInterval < 0 {
		errs = append(errs, fmt.Errorf("cri.stats_interval: must not be negative, got %s", cfg.CRI.StatsInterval))
	}
	if cfg.CRI.PodLogsDir != "" && !filepath.IsAbs(cfg.CRI.PodLogsDir) {
		errs = append(errs, fmt.Errorf("cri.pod_logs_dir: must be an absolute path, got %q", cfg.CRI.PodLogsDir))
	}
	if cfg.CRI.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("cri.timeout: must be positive, got %s", cfg.CRI.Timeout))
	} else if cfg.CollectionInterval > 0 && cfg.CRI.Timeout > cfg.CollectionInterval {
		errs = append(errs, fmt.Errorf("cri.timeout: %s is longer than collection_interval %s", cfg.CRI.Timeout, cfg.CollectionInterval))
	}
	errs = append(errs, cfg.validateProviders()...)
	return errors.Join(errs...)
}
