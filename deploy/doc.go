// Package deploy holds the manifests that run the statssummary collector on a
// real cluster — a DaemonSet, its ServiceAccount and the ConfigMap with the
// collector's configuration — rendered by `make manifests` from the Helm chart
// in helm/statssummary (hack/helm checks that they are what the chart
// renders), and the test that decodes them strictly into the Kubernetes API
// types and loads the collector configuration with the real component
// factories.
package deploy
