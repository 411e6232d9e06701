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
		available:       (*metadata.MetricsBuilder).RecordK8sNodeMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordK8sNodeMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordK8sNodeMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordK8sNodeMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordK8sNodeMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordK8sNodeMemoryMajorPageFaultsDataPoint,
	}
	systemContainerMemory = memoryRecorders{
		available:       (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryMajorPageFaultsDataPoint,
	}
	podMemory = memoryRecorders{
		available:       (*metadata.MetricsBuilder).RecordK8sPodMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordK8sPodMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordK8sPodMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordK8sPodMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordK8sPodMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordK8sPodMemoryMajorPageFaultsDataPoint,
	}
	containerMemory = memoryRecorders{
		available:       (*metadata.MetricsBuilder).RecordContainerMemoryAvailableDataPoint,
		usage:           (*metadata.MetricsBuilder).RecordContainerMemoryUsageDataPoint,
		rss:             (*metadata.MetricsBuilder).RecordContainerMemoryRssDataPoint,
		workingSet:      (*metadata.MetricsBuilder).RecordContainerMemoryWorkingSetDataPoint,
		pageFaults:      (*metadata.MetricsBuilder).RecordContainerMemoryPageFaultsDataPoint,
		majorPageFaults: (*metadata.MetricsBuilder).RecordContainerMemoryMajorPageFaultsDataPoint,
	}

	nodeSwap = swapRecorders{
		usage:     (*metadata.MetricsBuilder).RecordK8sNodeSwapUsageDataPoint,
		available: (*metadata.MetricsBuilder).RecordK8sNodeSwapAvailableDataPoint,
	}
	systemContainerSwap = swapRecorders{
		usage:     (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerSwapUsageDataPoint,
		available: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerSwapAvailableDataPoint,
	}
	podSwap = swapRecorders{
		usage:     (*metadata.MetricsBuilder).RecordK8sPodSwapUsageDataPoint,
		available: (*metadata.MetricsBuilder).RecordK8sPodSwapAvailableDataPoint,
	}
	containerSwap = swapRecorders{
		usage:     (*metadata.MetricsBuilder).RecordContainerSwapUsageDataPoint,
		available: (*metadata.MetricsBuilder).RecordContainerSwapAvailableDataPoint,
	}
)

// recordMemory records each MemoryStats field that is set; an unset field (no
// limit for available, a runtime that does not report it) records nothing.
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

// recordSwap records the swap usage and, when a swap limit exists, what is left.
func recordSwap(mb *metadata.MetricsBuilder, r swapRecorders, ts pcommon.Timestamp, s *statsapi.SwapStats) {
	if s == nil {
		return
	}
	recordUint(mb, r.usage, ts, s.SwapUsageBytes)
	recordUint(mb, r.available, ts, s.SwapAvailableBytes)
}
