package cri

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Kubelet labels that identify a sandbox's pod and a container's name when the
// metadata is missing.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// Provider builds pod and container stats from the runtime's answers.
type Provider struct {
	client *Client
}

// NewProvider returns a provider that asks the runtime through client.
func NewProvider(client *Client) *Provider {
	return &Provider{client: client}
}

// ContainerKey names a container within the Summary: its pod's UID and its name.
type ContainerKey struct {
	PodUID string
	Name   string
}

// ContainerInfo is what the runtime tells of a container beyond what the Summary
// can hold.
type ContainerInfo struct {
	// ID is the runtime's container ID.
	ID string
	// Attempt is the container's restart attempt as the kubelet numbered it.
	Attempt uint32
}

// PodStatsResult is the provider's answer: Summary pod stats, and the runtime's
// identity of each container in them.
type PodStatsResult struct {
	Pods       []statsapi.PodStats
	Containers map[ContainerKey]ContainerInfo
}

// PodStats lists the running pods with their containers' CPU and memory. Pod
// totals are the sums over their containers. Any CRI error fails the call: the
// inventory and the stats must come from the same moment to be consistent.
func (p *Provider) PodStats(ctx context.Context) (PodStatsResult, error) {
	sandboxes, err := p.client.ListPodSandbox(ctx)
	if err != nil {
		return PodStatsResult{}, err
	}
	containers, err := p.client.ListContainers(ctx)
	if err != nil {
		return PodStatsResult{}, err
	}
	stats, err := p.client.ListContainerStats(ctx)
	if err != nil {
		return PodStatsResult{}, err
	}
	return buildPodStats(sandboxes, containers, stats), nil
}

// buildPodStats joins sandboxes, containers and container stats. Only READY
// sandboxes and RUNNING containers count; a container whose sandbox is not
// listed, or that has no stats, is left out.
func buildPodStats(sandboxes []*runtimeapi.PodSandbox, containers []*runtimeapi.Container, stats []*runtimeapi.ContainerStats) PodStatsResult {
	statsByID := make(map[string]*runtimeapi.ContainerStats, len(stats))
	for _, s := range stats {
		if id := s.GetAttributes().GetId(); id != "" {
			statsByID[id] = s
		}
	}

	pods := make([]statsapi.PodStats, 0, len(sandboxes))
	podIndex := make(map[string]int, len(sandboxes))
	for _, sb := range sandboxes {
		if sb.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY || sb.GetId() == "" {
			continue
		}
		podIndex[sb.GetId()] = len(pods)
		pods = append(pods, statsapi.PodStats{
			PodRef:    podRef(sb),
			StartTime: timeFromNanos(sb.GetCreatedAt()),
		})
	}

	infos := make(map[ContainerKey]ContainerInfo, len(containers))
	for _, c := range containers {
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		i, ok := podIndex[c.GetPodSandboxId()]
		if !ok {
			continue
		}
		s, ok := statsByID[c.GetId()]
		if !ok {
			continue
		}
		name := containerName(c)
		infos[ContainerKey{PodUID: pods[i].PodRef.UID, Name: name}] = ContainerInfo{
			ID:      c.GetId(),
			Attempt: c.GetMetadata().GetAttempt(),
		}
		pods[i].Containers = append(pods[i].Containers, statsapi.ContainerStats{
			Name:      name,
			StartTime: timeFromNanos(c.GetCreatedAt()),
			CPU:       cpuStats(s.GetCpu()),
			Memory:    memoryStats(s.GetMemory()),
		})
	}

	for i := range pods {
		pods[i].CPU, pods[i].Memory = sumContainers(pods[i].Containers)
	}
	return PodStatsResult{Pods: pods, Containers: infos}
}

func podRef(sb *runtimeapi.PodSandbox) statsapi.PodReference {
	md := sb.GetMetadata()
	ref := statsapi.PodReference{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid()}
	labels := sb.GetLabels()
	if ref.Name == "" {
		ref.Name = labels[labelPodName]
	}
	if ref.Namespace == "" {
		ref.Namespace = labels[labelPodNamespace]
	}
	if ref.UID == "" {
		ref.UID = labels[labelPodUID]
	}
	return ref
}

func containerName(c *runtimeapi.Container) string {
	if n := c.GetMetadata().GetName(); n != "" {
		return n
	}
	return c.GetLabels()[labelContainerName]
}

// timeFromNanos converts a CRI timestamp; 0 (unknown) stays the zero time, which
// the Summary encodes as null.
func timeFromNanos(ns int64) metav1.Time {
	if ns <= 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns))
}

func uint64Ptr(v *runtimeapi.UInt64Value) *uint64 {
	if v == nil {
		return nil
	}
	x := v.GetValue()
	return &x
}

func cpuStats(c *runtimeapi.CpuUsage) *statsapi.CPUStats {
	if c == nil {
		return nil
	}
	return &statsapi.CPUStats{
		Time:                 timeFromNanos(c.GetTimestamp()),
		UsageCoreNanoSeconds: uint64Ptr(c.GetUsageCoreNanoSeconds()),
		UsageNanoCores:       uint64Ptr(c.GetUsageNanoCores()),
	}
}

func memoryStats(m *runtimeapi.MemoryUsage) *statsapi.MemoryStats {
	if m == nil {
		return nil
	}
	out := &statsapi.MemoryStats{
		Time:            timeFromNanos(m.GetTimestamp()),
		UsageBytes:      uint64Ptr(m.GetUsageBytes()),
		WorkingSetBytes: uint64Ptr(m.GetWorkingSetBytes()),
		RSSBytes:        uint64Ptr(m.GetRssBytes()),
		PageFaults:      uint64Ptr(m.GetPageFaults()),
		MajorPageFaults: uint64Ptr(m.GetMajorPageFaults()),
	}
	// Runtimes report 0 available bytes when the container has no memory limit:
	// that means "unbounded", not "nothing left", so it is omitted.
	if a := m.GetAvailableBytes(); a != nil && a.GetValue() > 0 {
		out.AvailableBytes = uint64Ptr(a)
	}
	return out
}
