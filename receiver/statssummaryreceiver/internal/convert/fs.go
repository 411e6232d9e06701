package convert

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
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodesUsedDataPoint),
	}
	nodeImageFs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeImageFsInodesUsedDataPoint),
	}
	nodeContainerFs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeContainerFsInodesUsedDataPoint),
	}
	systemContainerRootfs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerFilesystemInodesUsedDataPoint),
	}
	systemContainerLogs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeSystemContainerLogsInodesUsedDataPoint),
	}
	podEphemeralStorage = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordK8sPodFilesystemInodesUsedDataPoint),
	}
	containerRootfs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordContainerFilesystemInodesUsedDataPoint),
	}
	containerLogs = fsRecorders{
		available:  newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsAvailableDataPoint),
		capacity:   newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsCapacityDataPoint),
		usage:      newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsUsageDataPoint),
		inodes:     newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsInodesDataPoint),
		inodesFree: newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsInodesFreeDataPoint),
		inodesUsed: newRecordInt((*metadata.MetricsBuilder).RecordContainerLogsInodesUsedDataPoint),
	}
)

var (
	nodeFsInodeCount          = newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodeCountDataPoint)
	nodeFsInodeFree           = newRecordInt((*metadata.MetricsBuilder).RecordK8sNodeFilesystemInodeFreeDataPoint)
	containerEphemeralStorage = newRecordFsType((*metadata.MetricsBuilder).RecordK8sContainerEphemeralStorageUsageDataPoint)
)

// recordFs records each FsStats field that is set.
func recordFs(out *sink, r fsRecorders, ts pcommon.Timestamp, s *statsapi.FsStats) {
	if s == nil {
		return
	}
	recordUint(out, r.available, ts, s.AvailableBytes)
	recordUint(out, r.capacity, ts, s.CapacityBytes)
	recordUint(out, r.usage, ts, s.UsedBytes)
	recordUint(out, r.inodes, ts, s.Inodes)
	recordUint(out, r.inodesFree, ts, s.InodesFree)
	recordUint(out, r.inodesUsed, ts, s.InodesUsed)
}

// recordNodeFsInodes records the node filesystem's inodes under kubeletstats'
// names, k8s.node.filesystem.inode.count and .inode.free (non-monotonic sums,
// where the k8s.node.filesystem.inodes family of nodeFs is gauges).
func recordNodeFsInodes(out *sink, ts pcommon.Timestamp, s *statsapi.FsStats) {
	if s == nil {
		return
	}
	recordUint(out, nodeFsInodeCount, ts, s.Inodes)
	recordUint(out, nodeFsInodeFree, ts, s.InodesFree)
}

// recordContainerEphemeralStorage records the used bytes of a container's
// rootfs and logs as the two parts of its ephemeral storage (fs.type).
func recordContainerEphemeralStorage(out *sink, ts pcommon.Timestamp, rootfs, logs *statsapi.FsStats) {
	for _, part := range [...]struct {
		fs  *statsapi.FsStats
		typ metadata.AttributeFsType
	}{
		{rootfs, metadata.AttributeFsTypeRootfs},
		{logs, metadata.AttributeFsTypeLogs},
	} {
		if part.fs != nil && part.fs.UsedBytes != nil {
			out.fsType(containerEphemeralStorage, ts, clampInt64(*part.fs.UsedBytes), part.typ)
		}
	}
}
