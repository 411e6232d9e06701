package statssummaryreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

type (
	recordPSITime func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType)
	recordPSIAvg  func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributePressureType, metadata.AttributePressureWindow)
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
		cpu:    psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeCPUPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeCPUPressureAvgDataPoint},
		memory: psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeMemoryPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeMemoryPressureAvgDataPoint},
		io:     psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeIoPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeIoPressureAvgDataPoint},
	}
	systemContainerPressure = pressureRecorders{
		cpu:    psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerCPUPressureAvgDataPoint},
		memory: psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerMemoryPressureAvgDataPoint},
		io:     psiRecorders{(*metadata.MetricsBuilder).RecordK8sNodeSystemContainerIoPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerIoPressureAvgDataPoint},
	}
	podPressure = pressureRecorders{
		cpu:    psiRecorders{(*metadata.MetricsBuilder).RecordK8sPodCPUPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sPodCPUPressureAvgDataPoint},
		memory: psiRecorders{(*metadata.MetricsBuilder).RecordK8sPodMemoryPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sPodMemoryPressureAvgDataPoint},
		io:     psiRecorders{(*metadata.MetricsBuilder).RecordK8sPodIoPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordK8sPodIoPressureAvgDataPoint},
	}
	containerPressure = pressureRecorders{
		cpu:    psiRecorders{(*metadata.MetricsBuilder).RecordContainerCPUPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordContainerCPUPressureAvgDataPoint},
		memory: psiRecorders{(*metadata.MetricsBuilder).RecordContainerMemoryPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordContainerMemoryPressureAvgDataPoint},
		io:     psiRecorders{(*metadata.MetricsBuilder).RecordContainerIoPressureTimeDataPoint, (*metadata.MetricsBuilder).RecordContainerIoPressureAvgDataPoint},
	}
)

// recordPressure converts the PSI blocks of CPU, memory and IO stats. A block
// that is absent (cgroup v1, runtimes without PSI) records nothing.
func recordPressure(mb *metadata.MetricsBuilder, r pressureRecorders, ts pcommon.Timestamp, cpu *statsapi.CPUStats, mem *statsapi.MemoryStats, io *statsapi.IOStats) {
	if cpu != nil {
		recordPSI(mb, r.cpu, ts, cpu.PSI)
	}
	if mem != nil {
		recordPSI(mb, r.memory, ts, mem.PSI)
	}
	if io != nil {
		recordPSI(mb, r.io, ts, io.PSI)
	}
}

// recordPSI records, per stall type, the cumulative stalled time and the 10 s,
// 60 s and 300 s running averages (%). The Summary holds the total in
// nanoseconds at every level and from every source (the cgroup provider
// converts the kernel's microseconds; containerd 2.3+ sends nanoseconds);
// the metric is in seconds.
func recordPSI(mb *metadata.MetricsBuilder, r psiRecorders, ts pcommon.Timestamp, s *statsapi.PSIStats) {
	if s == nil {
		return
	}
	for _, e := range []struct {
		data statsapi.PSIData
		typ  metadata.AttributePressureType
	}{
		{s.Some, metadata.AttributePressureTypeSome},
		{s.Full, metadata.AttributePressureTypeFull},
	} {
		r.time(mb, ts, float64(e.data.Total)/1e9, e.typ)
		r.avg(mb, ts, e.data.Avg10, e.typ, metadata.AttributePressureWindow10s)
		r.avg(mb, ts, e.data.Avg60, e.typ, metadata.AttributePressureWindow60s)
		r.avg(mb, ts, e.data.Avg300, e.typ, metadata.AttributePressureWindow300s)
	}
}
