// Package server owns the kubelet-compatible Summary JSON API: an http.Handler
// that serves /stats/summary (GET and POST, with only_cpu_and_memory) as
// exactly the kubelet's k8s.io/kubelet stats/v1alpha1 Summary JSON, and
// /healthz for probes. It reads snapshots from a summary.Store: the newest one
// while it is younger than the configured max age, else one fresh assembly
// shared by every concurrent request. Each snapshot is encoded (and gzipped)
// at most once, whatever the number of requests. Errors are JSON with the
// status that fits. Listening, TLS and authentication are the caller's
// business (the receiver wires the handler through confighttp).
package server
