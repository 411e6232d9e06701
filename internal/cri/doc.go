// Package cri owns the conversation with the container runtime over the CRI v1
// gRPC API: a small client that bounds every call with a timeout and names the RPC
// in its errors, and a stats provider that turns the runtime's sandboxes,
// containers and stats into kubelet Summary pod and container stats, plus the
// runtime's image and container filesystems. Which pods and containers are
// reported follows the kubelet (inventory.go); stats come from
// ListPodSandboxStats or, on runtimes without it, ListContainerStats
// (statspath.go); usageNanoCores is computed from counter samples when the
// runtime's value is missing or untrustworthy (nanocores.go). Container log
// usage is read from the pod log directories on each call unless
// Options.SkipLogs leaves it to the host provider's walker, as the receiver
// does. A hostNetwork pod gets no pod network: whether a sandbox shares the
// node's network namespace comes from one PodSandboxStatus per sandbox
// (hostnetwork.go). Every call sends content-type application/grpc, which
// CRI-O's socket requires of a connection's first request (trim.go). It
// knows nothing of OpenTelemetry.
package cri
