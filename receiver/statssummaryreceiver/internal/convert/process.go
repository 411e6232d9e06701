package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

var (
	nodePidLimit    = newRecordInt((*metadata.MetricsBuilder).RecordK8sNodePidLimitDataPoint)
	nodePidUsage    = newRecordInt((*metadata.MetricsBuilder).RecordK8sNodePidUsageDataPoint)
	podProcessCount = newRecordInt((*metadata.MetricsBuilder).RecordK8sPodProcessCountDataPoint)
)

// recordRlimit records the node's task limit and the number of tasks that
// exist (processes and threads) from RlimitStats, as kubeletstats does.
func recordRlimit(out *sink, ts pcommon.Timestamp, s *statsapi.RlimitStats) {
	if s == nil {
		return
	}
	recordInt64(out, nodePidLimit, ts, s.MaxPID)
	recordInt64(out, nodePidUsage, ts, s.NumOfRunningProcesses)
}

// recordProcesses records the number of processes in a pod.
func recordProcesses(out *sink, ts pcommon.Timestamp, s *statsapi.ProcessStats) {
	if s == nil {
		return
	}
	recordUint(out, podProcessCount, ts, s.ProcessCount)
}
