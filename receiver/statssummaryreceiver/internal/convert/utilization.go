package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// utilizationRecorders names kubeletstats' utilization metrics of a pod or a
// container.
type utilizationRecorders struct {
	cpuNode, cpuLimit, cpuRequest, memoryNode, memoryLimit, memoryRequest recordDouble
}

var (
	containerUtilization = utilizationRecorders{
		cpuNode:       newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerCPUNodeUtilizationDataPoint),
		cpuLimit:      newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerCPULimitUtilizationDataPoint),
		cpuRequest:    newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerCPURequestUtilizationDataPoint),
		memoryNode:    newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerMemoryNodeUtilizationDataPoint),
		memoryLimit:   newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerMemoryLimitUtilizationDataPoint),
		memoryRequest: newRecordDouble((*metadata.MetricsBuilder).RecordK8sContainerMemoryRequestUtilizationDataPoint),
	}
	podUtilization = utilizationRecorders{
		cpuNode:       newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodCPUNodeUtilizationDataPoint),
		cpuLimit:      newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodCPULimitUtilizationDataPoint),
		cpuRequest:    newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodCPURequestUtilizationDataPoint),
		memoryNode:    newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodMemoryNodeUtilizationDataPoint),
		memoryLimit:   newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodMemoryLimitUtilizationDataPoint),
		memoryRequest: newRecordDouble((*metadata.MetricsBuilder).RecordK8sPodMemoryRequestUtilizationDataPoint),
	}
)

// recordUtilization computes the utilization metrics as kubeletstats v0.164.1
// does (internal/kubelet cpu.go addCPUUtilizationMetrics, mem.go
// addMemoryMetrics): the CPU usage in cores (usageNanoCores; none without
// it) and the memory usage in bytes (usageBytes, not the working set), each
// divided by the node's capacity, the limit and the request when each is
// above 0; an unset or zero limit or request records nothing.
func recordUtilization(out *sink, r utilizationRecorders, ts pcommon.Timestamp, cpu *statsapi.CPUStats, mem *statsapi.MemoryStats, res summary.Resources, capacity summary.NodeCapacity) {
	if cpu != nil && cpu.UsageNanoCores != nil {
		usage := float64(*cpu.UsageNanoCores) / 1e9
		if capacity.CPU > 0 {
			out.double(r.cpuNode, ts, usage/capacity.CPU)
		}
		if res.CPULimit > 0 {
			out.double(r.cpuLimit, ts, usage/res.CPULimit)
		}
		if res.CPURequest > 0 {
			out.double(r.cpuRequest, ts, usage/res.CPURequest)
		}
	}
	if mem != nil && mem.UsageBytes != nil {
		usage := float64(*mem.UsageBytes)
		if res.MemoryLimit > 0 {
			out.double(r.memoryLimit, ts, usage/float64(res.MemoryLimit))
		}
		if res.MemoryRequest > 0 {
			out.double(r.memoryRequest, ts, usage/float64(res.MemoryRequest))
		}
		if capacity.Memory > 0 {
			out.double(r.memoryNode, ts, usage/float64(capacity.Memory))
		}
	}
}
