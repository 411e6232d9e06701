package statssummaryreceiver

import (
	"math"
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

type (
	recordDouble func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
	recordInt    func(*metadata.MetricsBuilder, pcommon.Timestamp, int64)
)

// cpuRecorders and memoryRecorders let pods and containers (and later the node)
// share one conversion path: each names the generated Record method per field.
type cpuRecorders struct {
	time, usage recordDouble
}

type memoryRecorders struct {
	available, usage, rss, workingSet, pageFaults, majorPageFaults recordInt
}

var (
	podCPU = cpuRecorders{
		time:  (*metadata.MetricsBuilder).RecordK8sPodCPUTimeDataPoint,
		usage: (*metadata.MetricsBuilder).RecordK8sPodCPUUsageDataPoint,
	}
	podMemory = memoryRecorders{
		available:       (*metadata.MetricsBuilder).RecordK8sPodMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordK8sPodMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordK8sPodMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordK8sPodMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordK8sPodMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordK8sPodMemoryMajorPageFaultsDataPoint,
	}
	containerCPU = cpuRecorders{
		time:  (*metadata.MetricsBuilder).RecordContainerCPUTimeDataPoint,
		usage: (*metadata.MetricsBuilder).RecordContainerCPUUsageDataPoint,
	}
	containerMemory = memoryRecorders{
		available:       (*metadata.MetricsBuilder).RecordContainerMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordContainerMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordContainerMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordContainerMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordContainerMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordContainerMemoryMajorPageFaultsDataPoint,
	}
)

// converter turns an Assembly into pdata through the generated MetricsBuilder.
// It is used by one scraper goroutine at a time.
type converter struct {
	mb *metadata.MetricsBuilder
}

func newConverter(cfg metadata.MetricsBuilderConfig, set receiver.Settings) *converter {
	return &converter{mb: metadata.NewMetricsBuilder(cfg, set)}
}

// convert emits one resource per pod and per container. Every data point carries
// the scrape time now; start timestamps are the object's start time when known.
func (c *converter) convert(a *summary.Assembly, now time.Time) pmetric.Metrics {
	ts := pcommon.NewTimestampFromTime(now)
	node := a.Summary.Node.NodeName
	for i := range a.Summary.Pods {
		pod := &a.Summary.Pods[i]
		for j := range pod.Containers {
			ctr := &pod.Containers[j]
			recordCPU(c.mb, containerCPU, ts, ctr.CPU)
			recordMemory(c.mb, containerMemory, ts, ctr.Memory)
			rb := c.mb.NewResourceBuilder()
			setPodAttributes(rb, node, pod.PodRef)
			rb.SetK8sContainerName(ctr.Name)
			if info, ok := a.Containers[cri.ContainerKey{PodUID: pod.PodRef.UID, Name: ctr.Name}]; ok {
				rb.SetContainerID(info.ID)
			}
			c.emit(rb, ctr.StartTime)
		}
		recordCPU(c.mb, podCPU, ts, pod.CPU)
		recordMemory(c.mb, podMemory, ts, pod.Memory)
		rb := c.mb.NewResourceBuilder()
		setPodAttributes(rb, node, pod.PodRef)
		c.emit(rb, pod.StartTime)
	}
	return c.mb.Emit()
}

func (c *converter) emit(rb *metadata.ResourceBuilder, start metav1.Time) {
	opts := []metadata.ResourceMetricsOption{metadata.WithResource(rb.Emit())}
	if !start.IsZero() {
		opts = append(opts, metadata.WithStartTimeOverride(pcommon.NewTimestampFromTime(start.Time)))
	}
	c.mb.EmitForResource(opts...)
}

func setPodAttributes(rb *metadata.ResourceBuilder, node string, ref statsapi.PodReference) {
	rb.SetK8sNodeName(node)
	rb.SetK8sPodUID(ref.UID)
	rb.SetK8sPodName(ref.Name)
	rb.SetK8sNamespaceName(ref.Namespace)
}

func recordCPU(mb *metadata.MetricsBuilder, r cpuRecorders, ts pcommon.Timestamp, s *statsapi.CPUStats) {
	if s == nil {
		return
	}
	if s.UsageCoreNanoSeconds != nil {
		r.time(mb, ts, float64(*s.UsageCoreNanoSeconds)/1e9)
	}
	if s.UsageNanoCores != nil {
		r.usage(mb, ts, float64(*s.UsageNanoCores)/1e9)
	}
}

func recordMemory(mb *metadata.MetricsBuilder, r memoryRecorders, ts pcommon.Timestamp, s *statsapi.MemoryStats) {
	if s == nil {
		return
	}
	recordUint(mb, r.available, ts, s.AvailableBytes)
	recordUint(mb, r.usage, ts, s.UsageBytes)
	recordUint(mb, r.rss, ts, s.RSSBytes)
	recordUint(mb, r.workingSet, ts, s.WorkingSetBytes)
	recordUint(mb, r.pageFaults, ts, s.PageFaults)
	recordUint(mb, r.majorPageFaults, ts, s.MajorPageFaults)
}

// recordUint records v when it is set, clamped to the int64 range of pdata.
func recordUint(mb *metadata.MetricsBuilder, rec recordInt, ts pcommon.Timestamp, v *uint64) {
	if v == nil {
		return
	}
	x := int64(math.MaxInt64)
	if *v < math.MaxInt64 {
		x = int64(*v)
	}
	rec(mb, ts, x)
}
