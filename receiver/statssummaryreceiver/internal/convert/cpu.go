package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// cpuRecorders names the metrics of CPUStats for one kind of object. The PSI
// block of CPUStats is converted in psi.go.
type cpuRecorders struct {
	time, usage recordDouble
}

var (
	nodeCPU = cpuRecorders{
		time:  newRecordDouble((*metadata.MetricsBuilder).RecordK8sNodeCPUTimeDataPoint),
		usage: newRecordDouble((*metadata.MetricsBuilder).RecordK8sNodeCPUUsageDataPoint),
	}
	systemContainerCPU = cpuRecorders{
		time:  newRecordDouble((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUTimeDataPoint),
		usage: newRecordDouble((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUUsageDataPoint),
	}
	podCPU = cpuRecorders{
		time:  newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodCPUTimeDataPoint),
		usage: newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodCPUUsageDataPoint),
	}
	containerCPU = cpuRecorders{
		time:  newRecordDouble((*metadata.MetricsBuilder).RecordContainerCPUTimeDataPoint),
		usage: newRecordDouble((*metadata.MetricsBuilder).RecordContainerCPUUsageDataPoint),
	}
)

// recordCPU converts cumulative core-nanoseconds to seconds and nanocores to
// cores. A nil usageNanoCores (first sample, counter reset) records no usage.
func recordCPU(out *sink, r cpuRecorders, ts pcommon.Timestamp, s *statsapi.CPUStats) {
	if s == nil {
		return
	}
	if s.UsageCoreNanoSeconds != nil {
		out.double(r.time, ts, float64(*s.UsageCoreNanoSeconds)/1e9)
	}
	if s.UsageNanoCores != nil {
		out.double(r.usage, ts, float64(*s.UsageNanoCores)/1e9)
	}
}
