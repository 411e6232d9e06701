package statssummaryreceiver

import (
	"time"

	"go.uber.org/zap"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/host"
	"github.com/statssummary/statssummary/internal/summary"
)

// providers are the cgroup and host providers a scraper starts and stops.
type providers struct {
	cgroups *cadvisor.Provider // nil when disabled or unavailable
	// files reads container and pod cgroup files for what the Summary lacks
	// (limits, throttling, memory events, disk IO); nil when cgroups are
	// disabled or unavailable, or when no enabled metric needs them.
	files *cadvisor.Files
	host  *host.Provider
	mode  summary.Mode
}

// startProviders builds and starts the cgroup (cAdvisor) and host providers
// and resolves the provider mode, logging which mode runs and why. A host
// without usable cgroups is not fatal: the Summary then lacks node cgroup
// stats and pods come from the runtime alone.
func startProviders(cfg *Config, runtimeSocket string, logger *zap.Logger) (*providers, error) {
	mode, err := summary.ParseMode(cfg.Mode)
	if err != nil {
		return nil, err
	}
	p := &providers{}
	if cfg.Cgroups.Enabled {
		cg, err := cadvisor.New(cadvisor.Options{
			PodsCgroup:      cfg.Cgroups.PodsCgroup,
			SystemCgroups:   cfg.Cgroups.systemCgroups(),
			TrackContainers: tracksContainers(mode, cfg.CRI.StatsInterval),
			RuntimeSocket:   runtimeSocket,
			Logger:          logger,
		})
		switch {
		case err != nil && mode == summary.ModeCAdvisor:
			return nil, err
		case err != nil:
			logger.Warn("cgroup provider unavailable: no node cgroup stats or system containers, pods from the runtime alone", zap.Error(err))
		default:
			p.cgroups = cg
		}
	}
	podCgroups := p.cgroups != nil && p.cgroups.PodsCgroup() != ""
	var why string
	p.mode, why = summary.ResolveMode(mode, podCgroups)
	if p.cgroups == nil && p.mode != summary.ModeCRI {
		p.mode, why = summary.ModeCRI, "cgroup provider disabled or unavailable"
	}
	if p.cgroups != nil {
		p.cgroups.Start()
		logSystemContainers(logger, p.cgroups.SystemContainers())
	} else {
		reason := "cgroups.enabled is false"
		if cfg.Cgroups.Enabled {
			reason = "the cgroup provider is unavailable"
		}
		logger.Info("no system containers reported", zap.String("reason", reason))
	}
	if extras := extrasFor(cfg); p.cgroups != nil && extras != (summary.ExtrasOptions{}) {
		files, err := cadvisor.NewFiles(cadvisor.FilesOptions{PodsCgroup: p.cgroups.PodsCgroup()})
		if err != nil {
			logger.Warn("container cgroup files unreadable: no cgroup limits, throttling, memory events or disk IO", zap.Error(err))
		} else {
			p.files = files
		}
	}
	p.host = host.New(host.Options{
		KubeletRootDir: cfg.Host.KubeletRootDir,
		PodLogsDir:     cfg.CRI.PodLogsDir, // empty: host.DefaultPodLogsDir
		WalkPeriod:     cfg.Host.VolumeWalkPeriod,
		LogWalkPeriod:  cfg.logWalkPeriod(),
		Logger:         logger,
	})
	p.host.Start()
	fields := []zap.Field{zap.String("mode", string(p.mode)), zap.String("reason", why)}
	if p.cgroups != nil {
		fields = append(fields, zap.String("pods_cgroup", p.cgroups.PodsCgroup()))
	}
	logger.Info("stats provider mode", fields...)
	return p, nil
}

// systemContainerSettings names the setting that chooses each system
// container's cgroup.
var systemContainerSettings = map[string]string{
	statsapi.SystemContainerKubelet: "cgroups.kubelet_cgroup",
	statsapi.SystemContainerRuntime: "cgroups.runtime_cgroup",
	statsapi.SystemContainerMisc:    "cgroups.misc_cgroup",
	statsapi.SystemContainerPods:    "cgroups.pods_cgroup",
}

// logSystemContainers says once, at start, which system containers the
// first housekeeping reported (with their cgroups) and why any other is not,
// naming the setting that would choose its cgroup.
func logSystemContainers(logger *zap.Logger, statuses []cadvisor.SystemContainerStatus) {
	reported, notReported := []string{}, []string{}
	for _, s := range statuses {
		if s.Reason == "" {
			reported = append(reported, s.Name+" "+s.Cgroup)
			continue
		}
		msg := s.Name + ": " + s.Reason
		if key, ok := systemContainerSettings[s.Name]; ok {
			msg += " (" + key + ")"
		}
		notReported = append(notReported, msg)
	}
	logger.Info("system containers", zap.Strings("reported", reported), zap.Strings("not_reported", notReported))
}

// options adds the providers to assembler options.
func (p *providers) options(o summary.Options) summary.Options {
	o.Mode = p.mode
	if p.cgroups != nil {
		o.Cgroups = p.cgroups
	}
	if p.files != nil {
		o.Files = p.files
	}
	o.Host = p.host
	return o
}

// stop stops both providers and waits for their goroutines.
func (p *providers) stop() {
	if p == nil {
		return
	}
	if p.cgroups != nil {
		p.cgroups.Stop()
	}
	if p.files != nil {
		p.files.Close()
	}
	p.host.Stop()
}

// logWalkPeriod is host.log_walk_period, or the collection interval when it
// is zero (host.DefaultLogWalkPeriod when that is unset too).
func (cfg *Config) logWalkPeriod() time.Duration {
	if cfg.Host.LogWalkPeriod > 0 {
		return cfg.Host.LogWalkPeriod
	}
	return cfg.CollectionInterval
}

// tracksContainers says whether the cgroup provider must read container
// cgroups: in mode cadvisor, and under the identity plan (a positive
// cri.stats_interval in mode auto or cri+cadvisor), whose identity answers
// leave every container's CPU and memory to its cgroup.
func tracksContainers(mode summary.Mode, statsInterval time.Duration) bool {
	return mode == summary.ModeCAdvisor || (mode != summary.ModeCRI && statsInterval > 0)
}
