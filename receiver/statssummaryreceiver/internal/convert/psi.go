package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// psiRecorders names the metrics of one PSIStats block (CPU, memory or IO).
type psiRecorders struct {
	time recordPSITime
	avg  recordPSIAvg
}

// pressureRecorders names the PSI metrics of one kind of object, per resource.
type pressureRecorders struct {
	cpu, memory, io psiRecorders
}

var (
	nodePressure = pressureRecorders{
		cpu:    psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeCPUPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeCPUPressureAvgDataPoint)},
		memory: psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeMemoryPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeMemoryPressureAvgDataPoint)},
		io:     psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeIoPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeIoPressureAvgDataPoint)},
	}
	systemContainerPressure = pressureRecorders{
		cpu:    psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUPressureAvgDataPoint)},
		memory: psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPressureAvgDataPoint)},
		io:     psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerIoPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerIoPressureAvgDataPoint)},
	}
	podPressure = pressureRecorders{
		cpu:    psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sPodCPUPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sPodCPUPressureAvgDataPoint)},
		memory: psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sPodMemoryPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sPodMemoryPressureAvgDataPoint)},
		io:     psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordK8sPodIoPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordK8sPodIoPressureAvgDataPoint)},
	}
	containerPressure = pressureRecorders{
		cpu:    psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordContainerCPUPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordContainerCPUPressureAvgDataPoint)},
		memory: psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordContainerMemoryPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordContainerMemoryPressureAvgDataPoint)},
		io:     psiRecorders{newRecordPSITime((*metadata.MetricsBuilder).RecordContainerIoPressureTimeDataPoint), newRecordPSIAvg((*metadata.MetricsBuilder).RecordContainerIoPressureAvgDataPoint)},
	}
)

// recordPressure converts the PSI blocks of CPU, memory and IO stats. A block
// that is absent (cgroup v1, runtimes without PSI) records nothing.
func recordPressure(out *sink, r pressureRecorders, ts pcommon.Timestamp, cpu *statsapi.CPUStats, mem *statsapi.MemoryStats, io *statsapi.IOStats) {
	if cpu != nil {
		recordPSI(out, r.cpu, ts, cpu.PSI)
	}
	if mem != nil {
		recordPSI(out, r.memory, ts, mem.PSI)
	}
	if io != nil {
		recordPSI(out, r.io, ts, io.PSI)
	}
}

// recordPSI records, per stall type, the cumulative stalled time and the 10 s,
// 60 s and 300 s running averages (%). The Summary holds the total in
// nanoseconds at every level and from every source (the cgroup provider
// converts the kernel's microseconds; containerd 2.3+ sends nanoseconds);
// the metric is in seconds.
func recordPSI(out *sink, r psiRecorders, ts pcommon.Timestamp, s *statsapi.PSIStats) {
	if s == nil {
		return
	}
	for _, e := range [...]struct {
		data statsapi.PSIData
		typ  metadata.AttributePressureType
	}{
		{s.Some, metadata.AttributePressureTypeSome},
		{s.Full, metadata.AttributePressureTypeFull},
	} {
		out.psiTime(r.time, ts, float64(e.data.Total)/1e9, e.typ)
		out.psiAvg(r.avg, ts, e.data.Avg10, e.typ, metadata.AttributePressureWindow10s)
		out.psiAvg(r.avg, ts, e.data.Avg60, e.typ, metadata.AttributePressureWindow60s)
		out.psiAvg(r.avg, ts, e.data.Avg300, e.typ, metadata.AttributePressureWindow300s)
	}
}
