package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/statssummary/statssummary/internal/cadvisor"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

type (
	recordMemoryEvent func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeMemoryEvent)
	recordDiskIO      func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeDiskIoDirection)
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
		periods:          (*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataPeriodsDataPoint,
		throttledPeriods: (*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataThrottledPeriodsDataPoint,
		throttledTime:    (*metadata.MetricsBuilder).RecordContainerCPUThrottlingDataThrottledTimeDataPoint,
		memoryEvents:     (*metadata.MetricsBuilder).RecordContainerMemoryEventsDataPoint,
		diskIO:           (*metadata.MetricsBuilder).RecordContainerDiskIoDataPoint,
		diskOperations:   (*metadata.MetricsBuilder).RecordContainerDiskOperationsDataPoint,
	}
	podCounters = counterRecorders{
		periods:          (*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataPeriodsDataPoint,
		throttledPeriods: (*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataThrottledPeriodsDataPoint,
		throttledTime:    (*metadata.MetricsBuilder).RecordK8sPodCPUThrottlingDataThrottledTimeDataPoint,
		memoryEvents:     (*metadata.MetricsBuilder).RecordK8sPodMemoryEventsDataPoint,
		diskIO:           (*metadata.MetricsBuilder).RecordK8sPodDiskIoDataPoint,
		diskOperations:   (*metadata.MetricsBuilder).RecordK8sPodDiskOperationsDataPoint,
	}
)

// recordCounters records each counter the cgroup has (c.Has); one it does
// not keep records nothing, never a 0. The points start at the container's
// or pod's start time, as every point of its resource (emit).
func recordCounters(mb *metadata.MetricsBuilder, r counterRecorders, ts pcommon.Timestamp, c *cadvisor.CgroupCounters) {
	if c.Has&cadvisor.HasThrottling != 0 {
		r.periods(mb, ts, clampInt64(c.CPUPeriods))
		r.throttledPeriods(mb, ts, clampInt64(c.CPUThrottledPeriods))
		r.throttledTime(mb, ts, clampInt64(c.CPUThrottledTime))
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
			r.memoryEvents(mb, ts, clampInt64(e.v), e.event)
		}
	}
	if c.Has&cadvisor.HasDiskBytes != 0 {
		r.diskIO(mb, ts, clampInt64(c.DiskReadBytes), metadata.AttributeDiskIoDirectionRead)
		r.diskIO(mb, ts, clampInt64(c.DiskWriteBytes), metadata.AttributeDiskIoDirectionWrite)
	}
	if c.Has&cadvisor.HasDiskOps != 0 {
		r.diskOperations(mb, ts, clampInt64(c.DiskReadOps), metadata.AttributeDiskIoDirectionRead)
		r.diskOperations(mb, ts, clampInt64(c.DiskWriteOps), metadata.AttributeDiskIoDirectionWrite)
	}
}
