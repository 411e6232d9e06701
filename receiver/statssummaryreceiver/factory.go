package statssummaryreceiver

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

const (
	defaultCollectionInterval = 10 * time.Second
	defaultCRITimeout         = cri.DefaultTimeout
	// defaultCRIStatsInterval: under the identity plan the runtime's stats
	// (for the writable layers) are asked once a minute, as the kubelet's
	// own filesystem stats are refreshed.
	defaultCRIStatsInterval = time.Minute
)

// NewFactory returns the factory of the stats_summary receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetricsReceiver, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = defaultCollectionInterval
	return &Config{
		ControllerConfig:     cc,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		GroupsConfig:         defaultGroupsConfig(),
		CRI:                  CRIConfig{Timeout: defaultCRITimeout, StatsInterval: defaultCRIStatsInterval},
		Server:               defaultServer(),
		Mode:                 string(summary.ModeAuto),
		Cgroups:              defaultCgroupsConfig(),
		Host:                 defaultHostConfig(),
		K8sAPI:               podmeta.DefaultConfig(),
	}
}

func createMetricsReceiver(_ context.Context, set receiver.Settings, baseCfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	cfg, ok := baseCfg.(*Config)
	if !ok {
		return nil, errors.New("stats_summary: configuration is not a *statssummaryreceiver.Config")
	}
	return newMetricsReceiver(cfg, set, next)
}

// newMetricsReceiver builds the scraper controller; tests add options such as
// scraperhelper.WithTickerChannel.
func newMetricsReceiver(cfg *Config, set receiver.Settings, next consumer.Metrics, opts ...scraperhelper.ControllerOption) (receiver.Metrics, error) {
	s := newStatsScraper(cfg, set)
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	// A scrape never outlives its interval: an unset scrape timeout is the
	// collection interval.
	cc := cfg.ControllerConfig
	if cc.Timeout <= 0 {
		cc.Timeout = cc.CollectionInterval
	}
	opts = append(opts, scraperhelper.AddMetricsScraper(metadata.Type, sc))
	ctrl, err := scraperhelper.NewMetricsController(&cc, set, next, opts...)
	if err != nil {
		return nil, err
	}
	return &statsReceiver{Metrics: ctrl, scraper: s}, nil
}
