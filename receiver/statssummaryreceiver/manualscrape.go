package statssummaryreceiver

import (
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
)

// NewManualMetricsReceiver builds the same receiver as the factory, except that
// after its first scrape at Start it scrapes once per value received on tick
// instead of on its collection interval. It exists for integration tests that
// read a container's cgroup files just before and just after a scrape.
func NewManualMetricsReceiver(cfg *Config, set receiver.Settings, next consumer.Metrics, tick <-chan time.Time) (receiver.Metrics, error) {
	return newMetricsReceiver(cfg, set, next, scraperhelper.WithTickerChannel(tick))
}
