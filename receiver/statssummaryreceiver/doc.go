// Package statssummaryreceiver is the OpenTelemetry Collector receiver of type
// stats_summary. Its root package holds the wiring only: configuration
// (config.go, providers_config.go, metric_groups.go), the factory, the scraper
// lifecycle (scraper.go, receiver.go: start the providers, assemble, convert,
// shut down), the providers it starts (providers.go), the optional pod watch
// of k8s_api and its labels on the resources (podmeta.go; the watch itself is
// internal/podmeta), the JSON endpoint's server wiring (server.go) and the
// receiver's own telemetry.
//
// What it wires lives elsewhere: collecting and assembling the kubelet Summary
// is the job of the domain packages under internal/ at the module root (cri,
// cadvisor, host, summary, server), which know nothing of OpenTelemetry; the
// conversion of an assembled Summary into pdata through the generated
// MetricsBuilder is internal/convert; internal/metadata is what mdatagen
// generates from metadata.yaml, and nothing else. Every metric and resource
// attribute kubeletstats also declares has its shape and default
// (peer_shapes_test.go reads its metadata.yaml); docs/kubeletstats-differences.md
// lists what intentionally differs.
package statssummaryreceiver // import "github.com/statssummary/statssummary/receiver/statssummaryreceiver"
