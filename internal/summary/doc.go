// Package summary owns the assembly of the kubelet Summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) from the stats providers: the
// runtime (CRI) for pods and containers, cgroups (cAdvisor) for the node,
// system containers and pod cgroups, the host for boot time, rlimit, node fs,
// volumes, ephemeral storage and container logs (the host provider's walker
// measures log directories in the background; the receiver's runtime provider
// leaves them to it, and fillPodFromHost fills the containers' Logs). The runtime and cgroups are merged field by
// field (merge.go): a value the runtime gave is never replaced, and the
// Assembly records which source fed each pod and container block. Under the
// identity plan (IdentityGate, the default) the runtime is asked for its stats
// only once per stats interval while the cgroups describe every pod and
// container, and for identity alone in between: those answers carry no CPU or
// memory of the runtime's, so the cgroups' fill them without replacing any;
// Assembly.StatsPath says which kind of answer an assembly got. One failing
// provider never loses what the others gave: the assembler returns the partial
// Summary together with an error that names each source that failed.
//
// Beyond the Summary, an assembly gathers what its Options.Extras asks for
// (extras.go): each container's and pod's requests and limits (from the
// runtime's ContainerStatus, else the container cgroups' files, else
// PodMetadata's pod spec; memory requests from PodMetadata only, as the node
// has none; pods summed as kubeletstats sums them), the node's capacity, and
// the cgroup counters of CFS throttling, memory events and block IO.
// PodMetadata (podmetadata.go) is the one interface through which what only
// the API server knows comes in.
package summary
