package summary

import (
	"context"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/internal/cri"
)

// Beyond the Summary, an assembly can gather what kubeletstats reads from the
// API server and cAdvisor keeps but the Summary does not carry: each
// container's and pod's CPU and memory requests and limits and the node's
// capacity (for the utilization metrics), and the cgroup counters of CFS
// throttling, memory events and block IO. Only what ExtrasOptions asks for is
// read: the receiver asks for what its enabled metrics need.
//
// A container's CPU limit, CPU request and memory limit come, in order, from
// the runtime's ContainerStatus (the values the kubelet set, exact), else from
// its cgroup files (the values enforced: the memory limit rounded down to a
// page by the kernel, a CPU limit under 10m read as 10m as the kubelet's
// minimum quota makes it, the request inverted from cpu.shares or cpu.weight
// as cpushares.go says), else from PodMetadata's pod spec. The memory request
// is only ever PodMetadata's: the node has none. A pod's are kubeletstats'
// (internal/kubelet/metadata.go in v0.164.1): the sum over its containers of
// each, when every container has it set, else unset; pod-level resources
// (spec.resources) are left out, as kubeletstats leaves them.

// ExtrasOptions say what an assembly gathers beyond the Summary.
type ExtrasOptions struct {
	// Resources: each container's and pod's requests and limits, and the
	// node's capacity.
	Resources bool
	// Counters: the cgroup counters of each container and pod.
	Counters bool
}

// ContainerResourcesProvider reports containers' resources as the runtime
// has them (the CRI provider).
type ContainerResourcesProvider interface {
	ContainerResources(ctx context.Context, queries []cri.ResourceQuery) []cri.ResourceAnswer
}

// CgroupFilesReader reads container and pod cgroup files (cadvisor.Files).
type CgroupFilesReader interface {
	Read(pods []cadvisor.PodRef, what cadvisor.What) []cadvisor.PodFiles
	V2() bool
}

// Extras is what an assembly gathered beyond the Summary.
type Extras struct {
	// Capacity is the node's, as the kubelet reports it in its node status.
	Capacity NodeCapacity
	// Pods parallels Summary.Pods.
	Pods []PodExtras
}

// NodeCapacity is the node's CPU (cores) and memory (bytes); 0 is unknown.
type NodeCapacity struct {
	CPU    float64
	Memory uint64
}

// PodExtras is what an assembly gathered of one pod.
type PodExtras struct {
	Resources Resources
	Counters  cadvisor.CgroupCounters
	// Containers parallels the pod's containers in the Summary.
	Containers []ContainerExtras
}

// ContainerExtras is what an assembly gathered of one container.
type ContainerExtras struct {
	Resources Resources
	// ResourcesFrom says where its CPU limit, CPU request and memory limit
	// came from.
	ResourcesFrom ResourceSource
	Counters      cadvisor.CgroupCounters
}

// ResourceSource names where a container's resources came from.
type ResourceSource uint8

// Sources of a container's resources.
const (
	ResourcesUnknown ResourceSource = iota
	// ResourcesFromRuntime: the runtime's ContainerStatus.
	ResourcesFromRuntime
	// ResourcesFromCgroup: the container cgroup's files.
	ResourcesFromCgroup
	// ResourcesFromMetadata: PodMetadata's pod spec.
	ResourcesFromMetadata
)

func (s ResourceSource) String() string {
	switch s {
	case ResourcesFromRuntime:
		return "runtime"
	case ResourcesFromCgroup:
		return "cgroup"
	case ResourcesFromMetadata:
		return "metadata"
	default:
		return "unknown"
	}
}

// gatherExtras reads what a.opts.Extras asks for, for pods (the runtime's
// identities ids parallel them).
func (a *Assembler) gatherExtras(ctx context.Context, pods []statsapi.PodStats, ids cri.ContainerInfos, capacity NodeCapacity) *Extras {
	want := a.opts.Extras
	out := &Extras{Pods: make([]PodExtras, len(pods))}
	if want.Resources {
		out.Capacity = capacity
	}
	n := 0
	for i := range pods {
		n += len(pods[i].Containers)
	}
	all := make([]ContainerExtras, n)
	refs := make([]cadvisor.PodRef, len(pods))
	idsAll := make([]string, n)
	for i := range pods {
		k := len(pods[i].Containers)
		out.Pods[i].Containers, all = all[:k:k], all[k:]
		refs[i] = cadvisor.PodRef{UID: pods[i].PodRef.UID, ContainerIDs: idsAll[:k:k]}
		idsAll = idsAll[k:]
		for j := range pods[i].Containers {
			if info, ok := ids.Of(i, j); ok {
				refs[i].ContainerIDs[j] = info.ID
			}
		}
	}

	var files []cadvisor.PodFiles
	v2 := false
	if a.opts.Files != nil {
		files = a.opts.Files.Read(refs, cadvisor.What{Limits: want.Resources, Counters: want.Counters})
		v2 = a.opts.Files.V2()
	}
	fileOf := func(i, j int) cadvisor.ContainerFiles {
		if i < len(files) && j < len(files[i].Containers) {
			return files[i].Containers[j]
		}
		return cadvisor.ContainerFiles{}
	}
	if want.Counters {
		for i := range out.Pods {
			if i < len(files) {
				out.Pods[i].Counters = files[i].Counters
			}
			for j := range out.Pods[i].Containers {
				out.Pods[i].Containers[j].Counters = fileOf(i, j).Counters
			}
		}
	}
	if !want.Resources {
		return out
	}

	// The runtime's resources, asked again for a container whose cgroup
	// limits changed since (the token).
	var answers []cri.ResourceAnswer
	if a.opts.Resources != nil {
		queries := make([]cri.ResourceQuery, 0, n)
		for i := range refs {
			for j, id := range refs[i].ContainerIDs {
				if id != "" {
					queries = append(queries, cri.ResourceQuery{ID: id, Token: limitsToken(fileOf(i, j).Limits)})
				}
			}
		}
		answers = a.opts.Resources.ContainerResources(ctx, queries)
	}
	k := 0
	for i := range pods {
		var spec PodInfo
		known := false
		if a.opts.PodMetadata != nil {
			spec, known = a.opts.PodMetadata.Pod(pods[i].PodRef.UID)
		}
		pe := &out.Pods[i]
		for j := range pods[i].Containers {
			var rt cri.ResourceAnswer
			if refs[i].ContainerIDs[j] != "" && k < len(answers) {
				rt = answers[k]
				k++
			}
			ce := &pe.Containers[j]
			ce.Resources, ce.ResourcesFrom = containerResources(rt, fileOf(i, j).Limits, v2)
			if known {
				if s, ok := specOf(spec, pods[i].Containers[j].Name); ok {
					if ce.ResourcesFrom == ResourcesUnknown {
						ce.Resources, ce.ResourcesFrom = s, ResourcesFromMetadata
					}
					ce.Resources.MemoryRequest = s.MemoryRequest
				}
			}
		}
		pe.Resources = podResources(pods[i].Containers, pe.Containers, spec, known)
	}
	return out
}

// limitsToken is what, of a container's cgroup limits, a resize changes.
func limitsToken(l cadvisor.CgroupLimits) cri.ResourceToken {
	if !l.Known {
		return cri.ResourceToken{}
	}
	return cri.ResourceToken{l.CPUQuota, l.CPUPeriod, l.CPUShares, l.CPUWeight, l.MemoryLimit}
}

// containerResources resolves a container's CPU limit, CPU request and
// memory limit: the runtime's when it told them, else its cgroup's.
func containerResources(rt cri.ResourceAnswer, cg cadvisor.CgroupLimits, v2 bool) (Resources, ResourceSource) {
	switch {
	case rt.Known:
		r := rt.Resources
		out := Resources{MemoryLimit: max(r.MemoryLimit, 0)}
		if r.CPUQuota > 0 && r.CPUPeriod > 0 {
			out.CPULimit = float64(r.CPUQuota) / float64(r.CPUPeriod)
		}
		if r.CPUShares > 0 {
			out.CPURequest = float64(sharesToMillicores(uint64(r.CPUShares))) / 1000
		}
		return out, ResourcesFromRuntime
	case cg.Known:
		out := Resources{MemoryLimit: int64(min(cg.MemoryLimit, 1<<62))}
		if cg.CPUQuota > 0 && cg.CPUPeriod > 0 {
			out.CPULimit = float64(cg.CPUQuota) / float64(cg.CPUPeriod)
		}
		m := sharesToMillicores(cg.CPUShares)
		if v2 {
			m = weightToMillicores(cg.CPUWeight)
		}
		out.CPURequest = float64(m) / 1000
		return out, ResourcesFromCgroup
	default:
		return Resources{}, ResourcesUnknown
	}
}

// specOf is the resources of container name in a pod spec.
func specOf(spec PodInfo, name string) (Resources, bool) {
	for _, c := range spec.Containers {
		if c.Name == name {
			return c.Resources, true
		}
	}
	return Resources{}, false
}

// podResources sums a pod's containers' requests and limits as kubeletstats
// does: each of the four is the sum over the containers when every one of
// them has it set, else unset. The containers are the pod spec's when
// PodMetadata knows the pod (one not running counts with its spec's values),
// else those the Summary lists (the running ones).
func podResources(cs []statsapi.ContainerStats, ex []ContainerExtras, spec PodInfo, known bool) Resources {
	var list []Resources
	if known && len(spec.Containers) > 0 {
		list = make([]Resources, len(spec.Containers))
		for k, s := range spec.Containers {
			list[k] = s.Resources
			for j := range cs {
				if cs[j].Name == s.Name {
					list[k] = ex[j].Resources
				}
			}
		}
	} else {
		list = make([]Resources, len(ex))
		for j := range ex {
			list[j] = ex[j].Resources
		}
	}
	var p Resources
	cpuLimit, cpuRequest, memLimit, memRequest := true, true, true, true
	for _, r := range list {
		cpuLimit = cpuLimit && r.CPULimit > 0
		cpuRequest = cpuRequest && r.CPURequest > 0
		memLimit = memLimit && r.MemoryLimit > 0
		memRequest = memRequest && r.MemoryRequest > 0
		p.CPULimit += r.CPULimit
		p.CPURequest += r.CPURequest
		p.MemoryLimit += r.MemoryLimit
		p.MemoryRequest += r.MemoryRequest
	}
	if !cpuLimit {
		p.CPULimit = 0
	}
	if !cpuRequest {
		p.CPURequest = 0
	}
	if !memLimit {
		p.MemoryLimit = 0
	}
	if !memRequest {
		p.MemoryRequest = 0
	}
	return p
}
