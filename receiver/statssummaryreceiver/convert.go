package statssummaryreceiver

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

// converter turns an Assembly into pdata through the generated MetricsBuilder:
// one resource for the node, per system container, per pod, per container and
// per volume, each carrying k8s.node.name. It is used by one scraper goroutine
// at a time.
type converter struct {
	mb *metadata.MetricsBuilder
	// rb builds every resource's attributes in turn: emit hands its resource
	// over (rb.Emit starts an empty one), so one builder serves a scrape.
	rb *metadata.ResourceBuilder
	// opt hands each resource to the builder; reused, it allocates nothing.
	opt     metadata.ResourceEmit
	groups  groupSet
	allNets NetworkInterfacesConfig
}

func newConverter(mbc metadata.MetricsBuilderConfig, gc GroupsConfig, set receiver.Settings) *converter {
	mb := metadata.NewMetricsBuilder(mbc, set)
	return &converter{
		mb:      mb,
		rb:      mb.NewResourceBuilder(),
		groups:  newGroupSet(gc.MetricGroups),
		allNets: gc.CollectAllNetworkInterfaces,
	}
}

// convert emits the Summary of a. Every data point carries one timestamp: the
// assembly time, or now when the assembly has none. Start timestamps are the
// object's start time; when it is unknown the builder's own start time (the
// receiver's start) is kept, never the zero time.
func (c *converter) convert(a *summary.Assembly, now time.Time) pmetric.Metrics {
	if !a.Time.IsZero() {
		now = a.Time
	}
	ts := pcommon.NewTimestampFromTime(now)
	s := a.Summary
	if s == nil {
		return c.mb.Emit()
	}
	node := s.Node.NodeName

	if c.groups[NodeMetricGroup] {
		c.node(&s.Node, ts, now)
	}
	if c.groups[SystemContainerMetricGroup] {
		for i := range s.Node.SystemContainers {
			c.systemContainer(node, &s.Node.SystemContainers[i], ts)
		}
	}
	for i := range s.Pods {
		pod := &s.Pods[i]
		if c.groups[ContainerMetricGroup] {
			for j := range pod.Containers {
				info, known := a.Containers.Of(i, j)
				c.container(node, pod, &pod.Containers[j], info, known, ts, now)
			}
		}
		if c.groups[VolumeMetricGroup] {
			for j := range pod.VolumeStats {
				v := &pod.VolumeStats[j]
				c.volume(node, pod, v, a.VolumeTypes[summary.VolumeKey{PodUID: pod.PodRef.UID, Name: v.Name}], ts)
			}
		}
		if c.groups[PodMetricGroup] {
			c.pod(node, pod, ts, now)
		}
	}
	return c.mb.Emit()
}

func (c *converter) node(s *statsapi.NodeStats, ts pcommon.Timestamp, now time.Time) {
	mb := c.mb
	recordCPU(mb, nodeCPU, ts, s.CPU)
	recordMemory(mb, nodeMemory, ts, s.Memory)
	recordSwap(mb, nodeSwap, ts, s.Swap)
	recordPressure(mb, nodePressure, ts, s.CPU, s.Memory, s.IO)
	recordNetworkStats(mb, nodeNetwork, ts, s.Network, c.allNets.Node)
	recordFs(mb, nodeFs, ts, s.Fs)
	recordNodeFsInodes(mb, ts, s.Fs)
	if s.Runtime != nil {
		recordFs(mb, nodeImageFs, ts, s.Runtime.ImageFs)
		recordFs(mb, nodeContainerFs, ts, s.Runtime.ContainerFs)
	}
	recordRlimit(mb, ts, s.Rlimit)
	recordUptime(mb, (*metadata.MetricsBuilder).RecordK8sNodeUptimeDataPoint, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(1)
	rb.SetK8sNodeName(s.NodeName)
	c.emit(rb, s.StartTime)
}

func (c *converter) systemContainer(node string, s *statsapi.ContainerStats, ts pcommon.Timestamp) {
	mb := c.mb
	recordCPU(mb, systemContainerCPU, ts, s.CPU)
	recordMemory(mb, systemContainerMemory, ts, s.Memory)
	recordSwap(mb, systemContainerSwap, ts, s.Swap)
	recordPressure(mb, systemContainerPressure, ts, s.CPU, s.Memory, s.IO)
	recordFs(mb, systemContainerRootfs, ts, s.Rootfs)
	recordFs(mb, systemContainerLogs, ts, s.Logs)
	rb := c.rb
	rb.Reserve(2)
	rb.SetK8sNodeName(node)
	rb.SetK8sNodeSystemContainerName(s.Name)
	c.emit(rb, s.StartTime)
}

func (c *converter) pod(node string, s *statsapi.PodStats, ts pcommon.Timestamp, now time.Time) {
	mb := c.mb
	recordCPU(mb, podCPU, ts, s.CPU)
	recordMemory(mb, podMemory, ts, s.Memory)
	recordSwap(mb, podSwap, ts, s.Swap)
	recordPressure(mb, podPressure, ts, s.CPU, s.Memory, s.IO)
	recordNetworkStats(mb, podNetwork, ts, s.Network, c.allNets.Pod)
	recordFs(mb, podEphemeralStorage, ts, s.EphemeralStorage)
	recordProcesses(mb, ts, s.ProcessStats)
	recordUptime(mb, (*metadata.MetricsBuilder).RecordK8sPodUptimeDataPoint, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(podAttributes)
	setPodAttributes(rb, node, s.PodRef)
	c.emit(rb, s.StartTime)
}

// container emits a container of a pod; info is the runtime's identity of it,
// when known.
func (c *converter) container(node string, pod *statsapi.PodStats, s *statsapi.ContainerStats, info cri.ContainerInfo, known bool, ts pcommon.Timestamp, now time.Time) {
	mb := c.mb
	recordCPU(mb, containerCPU, ts, s.CPU)
	recordMemory(mb, containerMemory, ts, s.Memory)
	recordSwap(mb, containerSwap, ts, s.Swap)
	recordPressure(mb, containerPressure, ts, s.CPU, s.Memory, s.IO)
	recordFs(mb, containerRootfs, ts, s.Rootfs)
	recordFs(mb, containerLogs, ts, s.Logs)
	recordContainerEphemeralStorage(mb, ts, s.Rootfs, s.Logs)
	recordUptime(mb, (*metadata.MetricsBuilder).RecordContainerUptimeDataPoint, ts, s.StartTime, now)
	rb := c.rb
	rb.Reserve(podAttributes + 3)
	setPodAttributes(rb, node, pod.PodRef)
	rb.SetK8sContainerName(s.Name)
	if known {
		rb.SetContainerID(info.ID)
		rb.SetK8sContainerRestartCount(int64(info.Attempt))
	}
	c.emit(rb, s.StartTime)
}

// volume emits a volume of a pod; a volume has no start time of its own, so its
// points start with the pod.
func (c *converter) volume(node string, pod *statsapi.PodStats, v *statsapi.VolumeStats, volumeType string, ts pcommon.Timestamp) {
	recordVolume(c.mb, ts, v)
	rb := c.rb
	rb.Reserve(podAttributes + 3)
	setPodAttributes(rb, node, pod.PodRef)
	setVolumeAttributes(rb, v, volumeType)
	c.emit(rb, pod.StartTime)
}

// emit moves what was recorded into a resource; nothing recorded, no resource.
// It always takes rb's resource, so attributes never carry over to the next.
func (c *converter) emit(rb *metadata.ResourceBuilder, start metav1.Time) {
	c.opt.Resource = rb.Emit()
	c.opt.Start = 0
	if !start.IsZero() {
		c.opt.Start = pcommon.NewTimestampFromTime(start.Time)
	}
	c.mb.EmitForResource(&c.opt)
}

// podAttributes is how many attributes setPodAttributes sets.
const podAttributes = 4

func setPodAttributes(rb *metadata.ResourceBuilder, node string, ref statsapi.PodReference) {
	rb.SetK8sNodeName(node)
	rb.SetK8sPodUID(ref.UID)
	rb.SetK8sPodName(ref.Name)
	rb.SetK8sNamespaceName(ref.Namespace)
}
