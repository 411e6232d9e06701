package convert

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// volumeTypePVC is k8s.volume.type for a volume backed by a claim, as the pod
// spec's volume source names it.
const volumeTypePVC = "persistentVolumeClaim"

var volumeFs = fsRecorders{
	available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sVolumeAvailableDataPoint),
	capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sVolumeCapacityDataPoint),
	usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sPodVolumeUsageDataPoint),
	inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sVolumeInodesDataPoint),
	inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sVolumeInodesFreeDataPoint),
	inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sVolumeInodesUsedDataPoint),
}

// recordVolume records one volume's filesystem stats.
func recordVolume(out *sink, ts pcommon.Timestamp, v *statsapi.VolumeStats) {
	recordFs(out, volumeFs, ts, &v.FsStats)
}

// setVolumeAttributes names the volume on its resource: the Summary gives its
// name and, when a claim backs it, the claim; the volume source is not in it,
// so its type comes from the host provider (volumeType, "" when unknown).
func setVolumeAttributes(rb *metadata.ResourceBuilder, v *statsapi.VolumeStats, volumeType string) {
	rb.SetK8sVolumeName(v.Name)
	switch {
	case v.PVCRef != nil:
		rb.SetK8sVolumeType(volumeTypePVC)
		rb.SetK8sPersistentvolumeclaimName(v.PVCRef.Name)
	case volumeType != "":
		rb.SetK8sVolumeType(volumeType)
	}
}
