package statssummaryreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// recordRlimit records the node's task limit and the number of tasks that
// exist (processes and threads) from RlimitStats, as kubeletstats does.
func recordRlimit(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, s *statsapi.RlimitStats) {
	if s == nil {
		return
	}
	recordInt64(mb, (*metadata.MetricsBuilder).RecordK8sNodePidLimitDataPoint, ts, s.MaxPID)
	recordInt64(mb, (*metadata.MetricsBuilder).RecordK8sNodePidUsageDataPoint, ts, s.NumOfRunningProcesses)
}

// recordProcesses records the number of processes in a pod.
func recordProcesses(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, s *statsapi.ProcessStats) {
	if s == nil {
		return
	}
	recordUint(mb, (*metadata.MetricsBuilder).RecordK8sPodProcessCountDataPoint, ts, s.ProcessCount)
}
