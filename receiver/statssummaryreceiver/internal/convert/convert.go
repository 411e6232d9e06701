// Package convert turns an assembled kubelet Summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1, with what the assembly adds beside
// it) into pdata metrics. It is the receiver's only OpenTelemetry-facing
// conversion; the receiver's root package builds a Converter from its
// configuration and calls it once per scrape. The points go straight into
// their resources (emitter.go), each metric as the generated MetricsBuilder
// describes it, or, for a configuration with resource attribute filters or
// fewer data point attributes, through that builder.
//
// The conversion is split per area (cpu.go, memory.go, psi.go, fs.go,
// network.go, volume.go, process.go) into tables of Record methods, so the
// node, its system containers, pods and containers share one path
// (convert.go). Every numeric field of the Summary becomes a metric
// (documentation.md lists them) except the deprecated accelerator stats and
// the user-defined metrics, which the runtime path never fills; the per-block
// sample times are not metrics: every point of a scrape carries the assembly
// time.
package convert // import "github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/convert"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// Groups says which objects of the Summary become metrics, and for which the
// network metrics cover every interface rather than the default one only.
type Groups struct {
	Node, SystemContainer, Pod, Container, Volume bool
	AllNodeInterfaces, AllPodInterfaces           bool
}

// Converter turns an Assembly into pdata: one resource for the node, per
// system container, per pod, per container and per volume, each carrying
// k8s.node.name. The points go through the hand-built emitter (emitter.go)
// when the configuration allows, through the generated MetricsBuilder
// otherwise. It is used by one scraper goroutine at a time.
type Converter struct {
	out sink
	// rb builds every resource's attributes in turn: emit hands its
	// resource over (rb.Emit starts an empty one), so one builder serves a
	// scrape.
	rb *metadata.ResourceBuilder
	// opt hands each resource to the builder; reused, it allocates nothing
	// (internal/metadata/emit.go).
	opt    metadata.ResourceEmit
	groups Groups
}

// New returns a Converter with the metrics and resource attributes of mbc
// switched on and the groups g collected.
func New(mbc metadata.MetricsBuilderConfig, g Groups, set receiver.Settings) *Converter {
	return newConverter(mbc, g, set, builderStart())
}

// newConverter is New with the builder's start time given.
func newConverter(mbc metadata.MetricsBuilderConfig, g Groups, set receiver.Settings, start pcommon.Timestamp) *Converter {
	mb := metadata.NewMetricsBuilder(mbc, set, metadata.WithStartTime(start))
	return &Converter{out: sink{mb: mb, fast: newEmitter(mbc, set, start)}, rb: mb.NewResourceBuilder(), groups: g}
}

// Convert emits the Summary of a. Every data point carries one timestamp: the
// assembly time, or now when the assembly has none. Start timestamps are the
// object's start time; when it is unknown the builder's own start time (the
// receiver's start) is kept, never the zero time.
func (c *Converter) Convert(a *summary.Assembly, now time.Time) pmetric.Metrics {
	if !a.Time.IsZero() {
		now = a.Time
	}
	ts := pcommon.NewTimestampFromTime(now)
	s := a.Summary
	if s == nil {
		return c.take()
	}
	node := s.Node.NodeName

	if c.groups.Node {
		c.node(&s.Node, ts, now)
	}
	if c.groups.SystemContainer {
		for i := range s.Node.SystemContainers {
			c.systemContainer(node, &s.Node.SystemContainers[i], ts)
		}
	}
	var capacity summary.NodeCapacity
	if a.Extras != nil {
		capacity = a.Extras.Capacity
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		ex := podExtras(a.Extras, i)
		if c.groups.Container {
			for j := range pod.Containers {
				info, known := a.Containers.Of(i, j)
				c.container(node, pod, &pod.Containers[j], info, known, containerExtras(ex, j), capacity, ts, now)
			}
		}
		if c.groups.Volume {
			for j := range pod.VolumeStats {
				v := &pod.VolumeStats[j]
				c.volume(node, pod, v, a.VolumeTypes[summary.VolumeKey{PodUID: pod.PodRef.UID, Name: v.Name}], ts)
			}
		}
		if c.groups.Pod {
			c.pod(node, pod, ex, capacity, ts, now)
		}
	}
	return c.take()
}

// take returns what the scrape recorded.
func (c *Converter) take() pmetric.Metrics {
	if c.out.fast != nil {
		return c.out.fast.take()
	}
	return c.out.mb.Emit()
}

func (c *Converter) node(s *statsapi.NodeStats, ts pcommon.Timestamp, now time.Time) {
	c.begin(kindNode, s.StartTime)
	out := &c.out
	recordCPU(out, nodeCPU, ts, s.CPU)
	recordMemory(out, nodeMemory, ts, s.Memory)
	recordSwap(out, nodeSwap, ts, s.Swap)
	recordPressure(out, nodePressure, ts, s.CPU, s.Memory, s.IO)
	recordNetworkStats(out, nodeNetwork, ts, s.Network, c.groups.AllNodeInterfaces)
	recordFs(out, nodeFs, ts, s.Fs)
	recordNodeFsInodes(out, ts, s.Fs)
	if s.Runtime != nil {
		recordFs(out, nodeImageFs, ts, s.Runtime.ImageFs)
		recordFs(out, nodeContainerFs, ts, s.Runtime.ContainerFs)
	}
	recordRlimit(out, ts, s.Rlimit)
	recordUptime(out, nodeUptime, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(1)
	rb.SetK8sNodeName(s.NodeName)
	c.emit(rb)
}

func (c *Converter) systemContainer(node string, s *statsapi.ContainerStats, ts pcommon.Timestamp) {
	c.begin(kindSystemContainer, s.StartTime)
	out := &c.out
	recordCPU(out, systemContainerCPU, ts, s.CPU)
	recordMemory(out, systemContainerMemory, ts, s.Memory)
	recordSwap(out, systemContainerSwap, ts, s.Swap)
	recordPressure(out, systemContainerPressure, ts, s.CPU, s.Memory, s.IO)
	recordFs(out, systemContainerRootfs, ts, s.Rootfs)
	recordFs(out, systemContainerLogs, ts, s.Logs)
	rb := c.rb
	rb.Reserve(2)
	rb.SetK8sNodeName(node)
	rb.SetK8sNodeSystemContainerName(s.Name)
	c.emit(rb)
}

// pod emits a pod; ex is what the assembly gathered of it beyond the Summary,
// when anything.
func (c *Converter) pod(node string, s *statsapi.PodStats, ex *summary.PodExtras, capacity summary.NodeCapacity, ts pcommon.Timestamp, now time.Time) {
	c.begin(kindPod, s.StartTime)
	out := &c.out
	if ex != nil {
		recordUtilization(out, podUtilization, ts, s.CPU, s.Memory, ex.Resources, capacity)
		recordCounters(out, podCounters, ts, &ex.Counters)
	}
	recordCPU(out, podCPU, ts, s.CPU)
	recordMemory(out, podMemory, ts, s.Memory)
	recordSwap(out, podSwap, ts, s.Swap)
	recordPressure(out, podPressure, ts, s.CPU, s.Memory, s.IO)
	recordNetworkStats(out, podNetwork, ts, s.Network, c.groups.AllPodInterfaces)
	recordFs(out, podEphemeralStorage, ts, s.EphemeralStorage)
	recordProcesses(out, ts, s.ProcessStats)
	recordUptime(out, podUptime, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(podAttributes)
	setPodAttributes(rb, node, s.PodRef)
	c.emit(rb)
}

// container emits a container of a pod; info is the runtime's identity of it,
// when known, and ex what the assembly gathered of it beyond the Summary,
// when anything.
func (c *Converter) container(node string, pod *statsapi.PodStats, s *statsapi.ContainerStats, info cri.ContainerInfo, known bool, ex *summary.ContainerExtras, capacity summary.NodeCapacity, ts pcommon.Timestamp, now time.Time) {
	c.begin(kindContainer, s.StartTime)
	out := &c.out
	if ex != nil {
		recordUtilization(out, containerUtilization, ts, s.CPU, s.Memory, ex.Resources, capacity)
		recordCounters(out, containerCounters, ts, &ex.Counters)
	}
	recordCPU(out, containerCPU, ts, s.CPU)
	recordMemory(out, containerMemory, ts, s.Memory)
	recordSwap(out, containerSwap, ts, s.Swap)
	recordPressure(out, containerPressure, ts, s.CPU, s.Memory, s.IO)
	recordFs(out, containerRootfs, ts, s.Rootfs)
	recordFs(out, containerLogs, ts, s.Logs)
	recordContainerEphemeralStorage(out, ts, s.Rootfs, s.Logs)
	recordUptime(out, containerUptime, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(podAttributes + 3)
	setPodAttributes(rb, node, pod.PodRef)
	rb.SetK8sContainerName(s.Name)
	if known {
		rb.SetContainerID(info.ID)
		rb.SetK8sContainerRestartCount(int64(info.Attempt))
	}
	c.emit(rb)
}

// volume emits a volume of a pod; a volume has no start time of its own, so its
// points start with the pod.
func (c *Converter) volume(node string, pod *statsapi.PodStats, v *statsapi.VolumeStats, volumeType string, ts pcommon.Timestamp) {
	c.begin(kindVolume, pod.StartTime)
	recordVolume(&c.out, ts, v)
	rb := c.rb
	rb.Reserve(podAttributes + 3)
	setPodAttributes(rb, node, pod.PodRef)
	setVolumeAttributes(rb, v, volumeType)
	c.emit(rb)
}

// begin starts a resource whose points start at start; the builder's start
// time when it is unknown (zero).
func (c *Converter) begin(k resourceKind, start metav1.Time) {
	c.opt.Start = 0
	if !start.IsZero() {
		c.opt.Start = pcommon.NewTimestampFromTime(start.Time)
	}
	if c.out.fast != nil {
		c.out.fast.begin(k, c.opt.Start)
	}
}

// emit moves what was recorded since begin into a resource; nothing recorded,
// no resource. It always takes rb's resource, so attributes never carry over
// to the next.
func (c *Converter) emit(rb *metadata.ResourceBuilder) {
	if c.out.fast != nil {
		c.out.fast.end(rb.Emit())
		return
	}
	c.opt.Resource = rb.Emit()
	c.out.mb.EmitForResource(&c.opt)
}

// podExtras is what the assembly gathered of pod i, nil when nothing.
func podExtras(ex *summary.Extras, i int) *summary.PodExtras {
	if ex == nil || i >= len(ex.Pods) {
		return nil
	}
	return &ex.Pods[i]
}

// containerExtras is what the assembly gathered of container j of a pod.
func containerExtras(ex *summary.PodExtras, j int) *summary.ContainerExtras {
	if ex == nil || j >= len(ex.Containers) {
		return nil
	}
	return &ex.Containers[j]
}

// podAttributes is how many attributes setPodAttributes sets.
const podAttributes = 4

func setPodAttributes(rb *metadata.ResourceBuilder, node string, ref statsapi.PodReference) {
	rb.SetK8sNodeName(node)
	rb.SetK8sPodUID(ref.UID)
	rb.SetK8sPodName(ref.Name)
	rb.SetK8sNamespaceName(ref.Namespace)
}
