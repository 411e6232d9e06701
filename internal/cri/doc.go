// Package cri owns the conversation with the container runtime over the CRI v1
// gRPC API: a small client that bounds every call with a timeout and names the RPC
// in its errors, and a stats provider that turns the runtime's sandboxes,
// containers and stats into kubelet Summary pod and container stats, plus the
// runtime's image and container filesystems. Which pods and containers are
// reported follows the kubelet (inventory.go); stats come from
// ListPodSandboxStats or, on runtimes without it, ListContainerStats
// (statspath.go), or, for a caller that takes CPU and memory from the
// cgroups (mode cadvisor), at most once per Options.StatsEvery with identity
// alone in between (identity.go). On the strict path the identity lists
// (ListPodSandbox, ListContainers) of an earlier scrape are used again while
// the stats answer agrees with them, for at most ListsMaxAge (listcache.go):
// a steady node costs one stats call a scrape. usageNanoCores is our own rate between two of our own
// samples of the cumulative counter whenever we have two, and the runtime's
// value only before that: containerd 1.x computes its value against one
// previous sample shared by every CRI client, so its window can be a few
// milliseconds (nanocores.go). Zeros that a runtime sends for fields it does
// not measure — CRI-O's page faults and swap on cgroup v1, containerd's rate
// before 2.3 — are made nil, per a table of runtimes and versions read from
// their stats code (runtimes.go), so that the summary's merge can fill them
// from the pod cgroups; the runtime is named by its CRI Version answer. Container log
// usage is not read here: the host provider's walker measures the pod log
// directories in the background (internal/host). A hostNetwork pod gets no pod network: whether a sandbox shares the
// node's network namespace comes from one PodSandboxStatus per sandbox
// (hostnetwork.go). A container's resources (CPU quota, period and shares,
// memory limit, as the kubelet set them) come from one ContainerStatus per
// container, kept until the caller's token for it changes: an in-place resize
// (resources.go). Every call sends content-type application/grpc, which
// CRI-O's socket requires of a connection's first request (trim.go). It
// knows nothing of OpenTelemetry.
package cri
