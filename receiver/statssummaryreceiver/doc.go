// Package statssummaryreceiver is the OpenTelemetry Collector receiver of type
// stats_summary. It owns the collector-facing side only: configuration, the factory,
// the scraper lifecycle and the conversion of an assembled kubelet Summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) into pdata metrics through the
// generated MetricsBuilder. Collecting and assembling the Summary is the job of
// the packages under internal/.
package statssummaryreceiver // import "github.com/statssummary/statssummary/receiver/statssummaryreceiver"
