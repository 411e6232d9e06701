package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// networkRecorders names the network metrics of the node or of a pod.
type networkRecorders struct {
	io, errors recordNetwork
}

var (
	nodeNetwork = networkRecorders{
		io:     newRecordNetwork((*metadata.MetricsBuilder).RecordK8sNodeNetworkIoDataPoint),
		errors: newRecordNetwork((*metadata.MetricsBuilder).RecordK8sNodeNetworkErrorsDataPoint),
	}
	podNetwork = networkRecorders{
		io:     newRecordNetwork((*metadata.MetricsBuilder).RecordK8sPodNetworkIoDataPoint),
		errors: newRecordNetwork((*metadata.MetricsBuilder).RecordK8sPodNetworkErrorsDataPoint),
	}
)

// recordNetworkStats records the default interface, as kubeletstats does, and
// with allInterfaces every other interface too, each once.
func recordNetworkStats(out *sink, r networkRecorders, ts pcommon.Timestamp, s *statsapi.NetworkStats, allInterfaces bool) {
	if s == nil {
		return
	}
	recordInterface(out, r, ts, s.InterfaceStats)
	if !allInterfaces {
		return
	}
	for _, iface := range s.Interfaces {
		if iface.Name == s.Name {
			continue // the default interface, already recorded
		}
		recordInterface(out, r, ts, iface)
	}
}

func recordInterface(out *sink, r networkRecorders, ts pcommon.Timestamp, s statsapi.InterfaceStats) {
	for _, p := range [...]struct {
		v   *uint64
		rec recordNetwork
		dir metadata.AttributeDirection
	}{
		{s.RxBytes, r.io, metadata.AttributeDirectionReceive},
		{s.TxBytes, r.io, metadata.AttributeDirectionTransmit},
		{s.RxErrors, r.errors, metadata.AttributeDirectionReceive},
		{s.TxErrors, r.errors, metadata.AttributeDirectionTransmit},
	} {
		if p.v != nil {
			out.network(p.rec, ts, clampInt64(*p.v), s.Name, p.dir)
		}
	}
}
