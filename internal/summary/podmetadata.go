package summary

// What the node cannot know of a pod comes through PodMetadata: the pod
// spec's memory requests above all. The kubelet writes a container's CPU
// request (as cpu.shares or cpu.weight), CPU limit (CFS quota) and memory
// limit into its cgroup and hands them to the runtime, so the node knows
// those (extras.go); it writes a memory request nowhere (only the alpha
// MemoryQoS feature turns it into memory.min), so without PodMetadata no
// memory request, and no k8s.*.memory_request_utilization, is known.
//
// The receiver's optional API-server metadata (internal/podmeta) implements
// PodMetadata; nil, the default, means none.

// PodMetadata gives, by pod UID, the pod as its spec describes it. It must be
// safe for concurrent use and cheap: it is asked once per pod and assembly,
// on the scrape path, and must answer from memory (never call out).
type PodMetadata interface {
	// Pod returns what is known of the pod with uid; false when nothing is
	// (a pod the source has not seen, or the source is not synced yet).
	Pod(uid string) (PodInfo, bool)
}

// PodInfo is a pod as its spec describes it.
type PodInfo struct {
	// Containers are the pod spec's app containers (spec.containers; init
	// containers are not, as kubeletstats leaves them out), each with the
	// requests and limits its spec sets. A pod's requests and limits are
	// summed over them (see podResources).
	Containers []ContainerSpec
}

// ContainerSpec is one container of a pod spec.
type ContainerSpec struct {
	// Name is the container's name in the pod spec, as the Summary names it.
	Name string
	// Resources are its spec's requests and limits.
	Resources Resources
}

// Resources are CPU and memory requests and limits as kubeletstats reads
// them from a pod spec: CPU in cores (resource.Quantity's
// AsApproximateFloat64), memory in bytes (Value()). Zero is unset: no
// utilization against it is reported.
type Resources struct {
	CPURequest, CPULimit       float64
	MemoryRequest, MemoryLimit int64
}
