package statssummaryreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// fsRecorders names the metrics of one FsStats: the node's root filesystem, the
// runtime's image and container filesystems, a pod's ephemeral storage, a
// container's rootfs or logs, a volume.
type fsRecorders struct {
	available, capacity, usage, inodes, inodesFree, inodesUsed recordInt
}

var (
	nodeFs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sNodeFilesystemAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sNodeFilesystemCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sNodeFilesystemUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesUsedDataPoint,
	}
	nodeImageFs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sNodeImageFsAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sNodeImageFsCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sNodeImageFsUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesUsedDataPoint,
	}
	nodeContainerFs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sNodeContainerFsAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sNodeContainerFsCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sNodeContainerFsUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesUsedDataPoint,
	}
	systemContainerRootfs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesUsedDataPoint,
	}
	systemContainerLogs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesUsedDataPoint,
	}
	podEphemeralStorage = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordK8sPodFilesystemAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordK8sPodFilesystemCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordK8sPodFilesystemUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesUsedDataPoint,
	}
	containerRootfs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordContainerFilesystemAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordContainerFilesystemCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordContainerFilesystemUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordContainerFilesystemInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordContainerFilesystemInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordContainerFilesystemInodesUsedDataPoint,
	}
	containerLogs = fsRecorders{
		available:  (*metadata.MetricsBuilder).RecordContainerLogsAvailableDataPoint,
		capacity:   (*metadata.MetricsBuilder).RecordContainerLogsCapacityDataPoint,
		usage:      (*metadata.MetricsBuilder).RecordContainerLogsUsageDataPoint,
		inodes:     (*metadata.MetricsBuilder).RecordContainerLogsInodesDataPoint,
		inodesFree: (*metadata.MetricsBuilder).RecordContainerLogsInodesFreeDataPoint,
		inodesUsed: (*metadata.MetricsBuilder).RecordContainerLogsInodesUsedDataPoint,
	}
)

// recordFs records each FsStats field that is set.
func recordFs(mb *metadata.MetricsBuilder, r fsRecorders, ts pcommon.Timestamp, s *statsapi.FsStats) {
	if s == nil {
		return
	}
	recordUint(mb, r.available, ts, s.AvailableBytes)
	recordUint(mb, r.capacity, ts, s.CapacityBytes)
	recordUint(mb, r.usage, ts, s.UsedBytes)
	recordUint(mb, r.inodes, ts, s.Inodes)
	recordUint(mb, r.inodesFree, ts, s.InodesFree)
	recordUint(mb, r.inodesUsed, ts, s.InodesUsed)
}

// recordNodeFsInodes records the node filesystem's inodes under kubeletstats'
// names, k8s.node.filesystem.inode.count and .inode.free (non-monotonic sums,
// where the k8s.node.filesystem.inodes family of nodeFs is gauges).
func recordNodeFsInodes(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, s *statsapi.FsStats) {
	if s == nil {
		return
	}
	recordUint(mb, (*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodeCountDataPoint, ts, s.Inodes)
	recordUint(mb, (*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodeFreeDataPoint, ts, s.InodesFree)
}

// recordContainerEphemeralStorage records the used bytes of a container's
// rootfs and logs as the two parts of its ephemeral storage (fs.type).
func recordContainerEphemeralStorage(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, rootfs, logs *statsapi.FsStats) {
	for _, part := range []struct {
		fs  *statsapi.FsStats
		typ metadata.AttributeFsType
	}{
		{rootfs, metadata.AttributeFsTypeRootfs},
		{logs, metadata.AttributeFsTypeLogs},
	} {
		if part.fs != nil && part.fs.UsedBytes != nil {
			mb.RecordK8sContainerEphemeralStorageUsageDataPoint(ts, clampInt64(*part.fs.UsedBytes), part.typ)
		}
	}
}
