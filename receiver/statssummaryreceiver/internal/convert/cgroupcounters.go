package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// counterRecorders names the cgroup counter metrics of a pod or a container:
// CFS throttling (dockerstats' names), memory events, block IO (the semantic
// conventions' container.disk.io).
type counterRecorders struct {
	periods, throttledPeriods, throttledTime recordInt
	memoryEvents                             recordMemoryEvent
	diskIO, diskOperations                   recordDiskIO
}

var (
	containerCounters = counterRecorders{
		periods:          newRecordInt((*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataPeriodsDataPoint),
		throttledPeriods: newRecordInt((*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataThrottledPeriodsDataPoint),
		throttledTime:    newRecordInt((*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataThrottledTimeDataPoint),
		memoryEvents:     newRecordMemoryEvent((*metadata.MetricsBuilder).RecordContainerMemoryEventsDataPoint),
		diskIO:           newRecordDiskIO((*metadata.MetricsBuilder).RecordContainerDiskIoDataPoint),
		diskOperations:   newRecordDiskIO((*metadata.MetricsBuilder).RecordContainerDiskOperationsDataPoint),
	}
	podCounters = counterRecorders{
		periods:          newRecordInt((*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataPeriodsDataPoint),
		throttledPeriods: newRecordInt((*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataThrottledPeriodsDataPoint),
		throttledTime:    newRecordInt((*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataThrottledTimeDataPoint),
		memoryEvents:     newRecordMemoryEvent((*metadata.MetricsBuilder).RecordK8sPodMemoryEventsDataPoint),
		diskIO:           newRecordDiskIO((*metadata.MetricsBuilder).RecordK8sPodDiskIoDataPoint),
		diskOperations:   newRecordDiskIO((*metadata.MetricsBuilder).RecordK8sPodDiskOperationsDataPoint),
	}
)

// recordCounters records each counter the cgroup has (c.Has); one it does
// not keep records nothing, never a 0. The points start at the container's
// or pod's start time, as every point of its resource (emit).
func recordCounters(out *sink, r counterRecorders, ts pcommon.Timestamp, c *cadvisor.CgroupCounters) {
	if c.Has&cadvisor.HasThrottling != 0 {
		out.int(r.periods, ts, clampInt64(c.CPUPeriods))
		out.int(r.throttledPeriods, ts, clampInt64(c.CPUThrottledPeriods))
		out.int(r.throttledTime, ts, clampInt64(c.CPUThrottledTime))
	}
	for _, e := range [...]struct {
		has   cadvisor.Counters
		v     uint64
		event metadata.AttributeMemoryEvent
	}{
		{cadvisor.HasMemoryMax, c.MemoryMax, metadata.AttributeMemoryEventMax},
		{cadvisor.HasMemoryHigh, c.MemoryHigh, metadata.AttributeMemoryEventHigh},
		{cadvisor.HasMemoryOOM, c.MemoryOOM, metadata.AttributeMemoryEventOom},
		{cadvisor.HasMemoryOOMKill, c.MemoryOOMKill, metadata.AttributeMemoryEventOomKill},
	} {
		if c.Has&e.has != 0 {
			out.memoryEvent(r.memoryEvents, ts, clampInt64(e.v), e.event)
		}
	}
	if c.Has&cadvisor.HasDiskBytes != 0 {
		out.diskIO(r.diskIO, ts, clampInt64(c.DiskReadBytes), metadata.AttributeDiskIoDirectionRead)
		out.diskIO(r.diskIO, ts, clampInt64(c.DiskWriteBytes), metadata.AttributeDiskIoDirectionWrite)
	}
	if c.Has&cadvisor.HasDiskOps != 0 {
		out.diskIO(r.diskOperations, ts, clampInt64(c.DiskReadOps), metadata.AttributeDiskIoDirectionRead)
		out.diskIO(r.diskOperations, ts, clampInt64(c.DiskWriteOps), metadata.AttributeDiskIoDirectionWrite)
	}
}
