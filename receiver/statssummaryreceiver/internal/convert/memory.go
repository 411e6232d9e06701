package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// memoryRecorders names the metrics of MemoryStats for one kind of object. The
// PSI block of MemoryStats is converted in psi.go.
type memoryRecorders struct {
	available, usage, rss, workingSet, pageFaults, majorPageFaults recordInt
}

// swapRecorders names the metrics of SwapStats for one kind of object.
type swapRecorders struct {
	usage, available recordInt
}

var (
	nodeMemory = memoryRecorders{
		available:       newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryAvailableDataPoint),
		usage:           newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryUsageDataPoint),
		rss:             newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryRssDataPoint),
		workingSet:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryWorkingSetDataPoint),
		pageFaults:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryPageFaultsDataPoint),
		majorPageFaults: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeMemoryMajorPageFaultsDataPoint),
	}
	systemContainerMemory = memoryRecorders{
		available:       newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryAvailableDataPoint),
		usage:           newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryUsageDataPoint),
		rss:             newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryRssDataPoint),
		workingSet:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryWorkingSetDataPoint),
		pageFaults:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPageFaultsDataPoint),
		majorPageFaults: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryMajorPageFaultsDataPoint),
	}
	podMemory = memoryRecorders{
		available:       newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryAvailableDataPoint),
		usage:           newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryUsageDataPoint),
		rss:             newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryRssDataPoint),
		workingSet:      newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryWorkingSetDataPoint),
		pageFaults:      newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryPageFaultsDataPoint),
		majorPageFaults: newRecordInt((*metadata.MetricsBuilder).RecordK8sPodMemoryMajorPageFaultsDataPoint),
	}
	containerMemory = memoryRecorders{
		available:       newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryAvailableDataPoint),
		usage:           newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryUsageDataPoint),
		rss:             newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryRssDataPoint),
		workingSet:      newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryWorkingSetDataPoint),
		pageFaults:      newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryPageFaultsDataPoint),
		majorPageFaults: newRecordInt((*metadata.MetricsBuilder).RecordContainerMemoryMajorPageFaultsDataPoint),
	}

	nodeSwap = swapRecorders{
		usage:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSwapUsageDataPoint),
		available: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSwapAvailableDataPoint),
	}
	systemContainerSwap = swapRecorders{
		usage:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerSwapUsageDataPoint),
		available: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerSwapAvailableDataPoint),
	}
	podSwap = swapRecorders{
		usage:     newRecordInt((*metadata.MetricsBuilder).RecordK8sPodSwapUsageDataPoint),
		available: newRecordInt((*metadata.MetricsBuilder).RecordK8sPodSwapAvailableDataPoint),
	}
	containerSwap = swapRecorders{
		usage:     newRecordInt((*metadata.MetricsBuilder).RecordContainerSwapUsageDataPoint),
		available: newRecordInt((*metadata.MetricsBuilder).RecordContainerSwapAvailableDataPoint),
	}
)

// recordMemory records each MemoryStats field that is set; an unset field (no
// limit for available, a runtime that does not report it) records nothing.
func recordMemory(out *sink, r memoryRecorders, ts pcommon.Timestamp, s *statsapi.MemoryStats) {
	if s == nil {
		return
	}
	recordUint(out, r.available, ts, s.AvailableBytes)
	recordUint(out, r.usage, ts, s.UsageBytes)
	recordUint(out, r.rss, ts, s.RSSBytes)
	recordUint(out, r.workingSet, ts, s.WorkingSetBytes)
	recordUint(out, r.pageFaults, ts, s.PageFaults)
	recordUint(out, r.majorPageFaults, ts, s.MajorPageFaults)
}

// recordSwap records the swap usage and, when a swap limit exists, what is left.
func recordSwap(out *sink, r swapRecorders, ts pcommon.Timestamp, s *statsapi.SwapStats) {
	if s == nil {
		return
	}
	recordUint(out, r.usage, ts, s.SwapUsageBytes)
	recordUint(out, r.available, ts, s.SwapAvailableBytes)
}
