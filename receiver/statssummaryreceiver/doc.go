// Package statssummaryreceiver is the OpenTelemetry Collector receiver of type
// stats_summary. It owns the collector-facing side only: configuration, the factory,
// the scraper lifecycle, the receiver's own telemetry and the conversion of an
// assembled kubelet Summary (k8s.io/kubelet/pkg/apis/stats/v1alpha1) into pdata
// metrics through the generated MetricsBuilder. Collecting and assembling the
// Summary is the job of the packages under internal/.
//
// The conversion is split per area (cpu.go, memory.go, psi.go, fs.go,
// network.go, volume.go, process.go) into tables of Record methods, so the node,
// its system containers, pods and containers share one path (convert.go). Every
// numeric field of the Summary becomes a metric (documentation.md lists them)
// except the deprecated accelerator stats and the user-defined metrics, which the
// runtime path never fills; the per-block sample times are not metrics: every
// point of a scrape carries the assembly time. Every metric and resource
// attribute kubeletstats also declares has its shape and default
// (peer_shapes_test.go reads its metadata.yaml); docs/kubeletstats-differences.md
// lists what intentionally differs.
package statssummaryreceiver // import "github.com/statssummary/statssummary/receiver/statssummaryreceiver"
