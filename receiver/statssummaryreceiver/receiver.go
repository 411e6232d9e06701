package statssummaryreceiver

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/receiver"
)

// statsReceiver is the scraper controller plus one thing it lacks: Shutdown
// cancels a scrape in flight. The controller waits for its scrape goroutine
// before it stops the scrapers, so a runtime that hangs would otherwise hold
// Shutdown for up to a whole scrape timeout.
type statsReceiver struct {
	receiver.Metrics
	scraper *statsScraper
}

// Shutdown cancels in-flight CRI calls, then stops the controller, returning by
// ctx's deadline at the latest.
func (r *statsReceiver) Shutdown(ctx context.Context) error {
	r.scraper.cancelScrapes()
	done := make(chan error, 1)
	go func() { done <- r.Metrics.Shutdown(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // finished as the deadline passed
			return err
		default:
			return fmt.Errorf("stats_summary shutdown: %w", ctx.Err())
		}
	}
}
