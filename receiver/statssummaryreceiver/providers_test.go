package statssummaryreceiver

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

func TestValidateProviders(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"explicit modes", func(c *Config) { c.Mode = "cri+cadvisor"; c.Cgroups.PodsCgroup = "/kubepods.slice" }, ""},
		{"unknown mode", func(c *Config) { c.Mode = "kubelet" }, "mode: unknown mode"},
		{"cadvisor mode without cgroups", func(c *Config) { c.Mode = "cadvisor"; c.Cgroups.Enabled = false }, "mode: cadvisor needs cgroups.enabled"},
		{"relative cgroup", func(c *Config) { c.Cgroups.RuntimeCgroup = "system.slice/containerd.service" }, "cgroups.runtime_cgroup"},
		{"unclean cgroup", func(c *Config) { c.Cgroups.PodsCgroup = "/kubepods/" }, "cgroups.pods_cgroup"},
		{"relative root dir", func(c *Config) { c.Host.KubeletRootDir = "var/lib/kubelet" }, "host.kubelet_root_dir"},
		{"no walk period", func(c *Config) { c.Host.VolumeWalkPeriod = 0 }, "host.volume_walk_period"},
		{"log walk period", func(c *Config) { c.Host.LogWalkPeriod = 5 * time.Second }, ""},
		{"negative log walk period", func(c *Config) { c.Host.LogWalkPeriod = -time.Second }, "host.log_walk_period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.edit(cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestStartProvidersOnThisHost starts the real providers: the mode resolves
// and is logged with its reason, the node has a root cgroup sample, and stop
// leaves no goroutine behind.
func TestStartProvidersOnThisHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		mode     string
		cgroups  bool
		wantMode summary.Mode
	}{
		{"cri", true, summary.ModeCRI},
		{"cadvisor", true, summary.ModeCAdvisor},
		{"auto", false, summary.ModeCRI},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Mode, cfg.Cgroups.Enabled = tt.mode, tt.cgroups
			cfg.CollectionInterval = time.Hour
			cfg.Host.KubeletRootDir = t.TempDir()
			core, logs := observer.New(zapcore.InfoLevel)
			p, err := startProviders(cfg, "", zap.New(core))
			if err != nil {
				t.Fatalf("startProviders: %v", err)
			}
			defer p.stop()
			if p.mode != tt.wantMode {
				t.Errorf("mode = %s, want %s", p.mode, tt.wantMode)
			}
			entries := logs.FilterMessage("stats provider mode").All()
			if len(entries) != 1 || entries[0].ContextMap()["mode"] != string(tt.wantMode) || entries[0].ContextMap()["reason"] == "" {
				t.Errorf("mode log = %+v, want one entry with mode %s and a reason", entries, tt.wantMode)
			}
			if tt.cgroups {
				if n := p.cgroups.Snapshot().Node; n == nil || n.CPU == nil || *n.CPU.UsageCoreNanoSeconds == 0 {
					t.Errorf("no root cgroup CPU after start: %+v", n)
				}
			} else if p.cgroups != nil {
				t.Error("cgroup provider running although disabled")
			}
		})
	}
}

// TestUnreportedSystemContainersAreLogged (issue 14, defect 10): a system
// container that is not reported used to say nothing (`make run` here has
// no runtime system container: its containerd runs in the root cgroup).
// Starting the providers logs once which system containers are reported and
// why each other is not, naming the setting that chooses its cgroup.
func TestUnreportedSystemContainersAreLogged(t *testing.T) {
	missing := "/statssummary-no-such-cgroup"
	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = time.Hour
	cfg.Host.KubeletRootDir = t.TempDir()
	cfg.Cgroups.RuntimeCgroup = missing
	cfg.Cgroups.MiscCgroup = "/" // the node's own cgroup
	core, logs := observer.New(zapcore.InfoLevel)
	p, err := startProviders(cfg, "", zap.New(core))
	if err != nil {
		t.Fatalf("startProviders: %v", err)
	}
	defer p.stop()

	entries := logs.FilterMessage("system containers").All()
	if len(entries) != 1 {
		t.Fatalf("system containers logged %d times, want once: %+v", len(entries), logs.All())
	}
	var notReported []string
	list, _ := entries[0].ContextMap()["not_reported"].([]any)
	for _, v := range list {
		notReported = append(notReported, v.(string))
	}
	for _, want := range []string{
		"kubelet: no cgroup configured (cgroups.kubelet_cgroup)",
		"runtime: cgroup " + missing + ": not found (cgroups.runtime_cgroup)",
		"misc: its cgroup is /, the node itself (cgroups.misc_cgroup)",
	} {
		if !slices.Contains(notReported, want) {
			t.Errorf("not_reported = %q, want it to hold %q", notReported, want)
		}
	}

	noCgroups := createDefaultConfig().(*Config)
	noCgroups.Mode, noCgroups.Cgroups.Enabled = "cri", false
	noCgroups.Host.KubeletRootDir = t.TempDir()
	core, logs = observer.New(zapcore.InfoLevel)
	p2, err := startProviders(noCgroups, "", zap.New(core))
	if err != nil {
		t.Fatalf("startProviders: %v", err)
	}
	defer p2.stop()
	if e := logs.FilterMessage("no system containers reported").All(); len(e) != 1 || e[0].ContextMap()["reason"] != "cgroups.enabled is false" {
		t.Errorf("without cgroups: %+v, want one entry saying cgroups.enabled is false", logs.All())
	}
}

func TestLoadProvidersConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "providers_config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	full := createDefaultConfig().(*Config)
	full.Mode = "cri+cadvisor"
	full.Cgroups.PodsCgroup = "/kubepods.slice"
	full.Cgroups.KubeletCgroup = "/system.slice/kubelet.service"
	full.Cgroups.RuntimeCgroup = "/system.slice/containerd.service"
	full.Cgroups.MiscCgroup = "/system.slice"
	full.Host.KubeletRootDir = "/data/kubelet"
	full.Host.VolumeWalkPeriod = 2 * time.Minute
	full.Host.LogWalkPeriod = 5 * time.Second
	noCgroups := createDefaultConfig().(*Config)
	noCgroups.Mode = "cri"
	noCgroups.Cgroups.Enabled = false

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{"providers", full, ""},
		{"no_cgroups", noCgroups, ""},
		{"bad_mode", nil, `mode: unknown mode "kubelet"`},
		{"bad_cgroup", nil, "cgroups.runtime_cgroup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			if err != nil {
				t.Fatal(err)
			}
			cfg := createDefaultConfig()
			if err := sub.Unmarshal(cfg); err != nil {
				t.Fatal(err)
			}
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			assert.Equal(t, tt.want, cfg)
			got := cfg.(*Config).Cgroups.systemCgroups()
			if tt.name == "providers" && (got["kubelet"] != full.Cgroups.KubeletCgroup || got["runtime"] != full.Cgroups.RuntimeCgroup || got["misc"] != full.Cgroups.MiscCgroup) {
				t.Errorf("system cgroups = %v", got)
			}
		})
	}
}

func TestLogWalkPeriodDefaultsToCollectionInterval(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	if got := cfg.logWalkPeriod(); got != cfg.CollectionInterval {
		t.Errorf("log walk period = %s, want the collection interval %s", got, cfg.CollectionInterval)
	}
	cfg.Host.LogWalkPeriod = 3 * time.Second
	if got := cfg.logWalkPeriod(); got != 3*time.Second {
		t.Errorf("log walk period = %s, want 3s as configured", got)
	}
}
