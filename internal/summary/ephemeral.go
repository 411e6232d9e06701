package summary

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/host"
)

// HostStatsProvider gives node facts (boot time, rlimit, node fs) and each
// pod's filesystem usage from a background walk (the host provider). Pod
// must not touch the filesystem: the scrape path only reads it.
type HostStatsProvider interface {
	Node() (host.NodeStats, error)
	Pod(uid string) (host.PodStats, bool)
}

// fillNodeFromHost writes the node's start time, fs and rlimit.
func fillNodeFromHost(n *statsapi.NodeStats, h host.NodeStats) {
	if !h.StartTime.IsZero() {
		n.StartTime = metav1.NewTime(h.StartTime)
	}
	n.Fs = h.Fs
	n.Rlimit = h.Rlimit
}

// fillPodFromHost adds a pod's volumes, its containers' logs (where the
// runtime gave none) and ephemeral storage = containers' rootfs + logs +
// disk-backed ephemeral volumes + etc-hosts + the pod log directory's own
// files (as the kubelet's calcEphemeralStorage), on the node fs. Until the host
// provider has walked once (known false) ephemeral storage is left out rather
// than understated.
func fillPodFromHost(p *statsapi.PodStats, h host.PodStats, known bool, nodeFs *statsapi.FsStats) {
	if !known {
		return
	}
	if p.VolumeStats == nil && len(h.Volumes) > 0 {
		p.VolumeStats = append([]statsapi.VolumeStats(nil), h.Volumes...)
	}
	for i := range p.Containers {
		c := &p.Containers[i]
		if c.Logs == nil && h.Logs[c.Name] != nil {
			l := *h.Logs[c.Name]
			if l.CapacityBytes == nil {
				// The walker could not statfs the log filesystem.
				l = withFsCapacity(l, nodeFs)
			}
			c.Logs = &l
		}
	}
	if p.EphemeralStorage != nil {
		return
	}
	used := h.EphemeralVolumeBytes + h.EtcHostsBytes + h.PodLogBytes
	inodes := h.EphemeralVolumeInodes + h.EtcHostsInodes + h.PodLogInodes
	add := func(fs *statsapi.FsStats) {
		if fs == nil {
			return
		}
		if fs.UsedBytes != nil {
			used += *fs.UsedBytes
		}
		if fs.InodesUsed != nil {
			inodes += *fs.InodesUsed
		}
	}
	for i := range p.Containers {
		add(p.Containers[i].Rootfs)
		add(p.Containers[i].Logs)
	}
	t := h.Time
	es := withFsCapacity(statsapi.FsStats{Time: metav1.NewTime(t), UsedBytes: &used, InodesUsed: &inodes}, nodeFs)
	p.EphemeralStorage = &es
}

// withFsCapacity adds the node filesystem's capacity, availability and inodes
// to a usage-only FsStats.
func withFsCapacity(fs statsapi.FsStats, nodeFs *statsapi.FsStats) statsapi.FsStats {
	if nodeFs != nil {
		fs.CapacityBytes, fs.AvailableBytes = nodeFs.CapacityBytes, nodeFs.AvailableBytes
		fs.Inodes, fs.InodesFree = nodeFs.Inodes, nodeFs.InodesFree
	}
	return fs
}
