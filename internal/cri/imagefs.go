package cri

import (
	"context"
	"errors"

	"go.uber.org/zap"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// ImageFsStats returns the runtime's filesystems: the image filesystem from
// ImageFsInfo's image_filesystems, and the container filesystem (where
// writable layers live) from container_filesystems, or the image filesystem
// again when the runtime lists none (containerd keeps both on one). Used bytes
// and inodes are the runtime's; capacity, available bytes and inode totals
// come from statfs of the mountpoint the runtime names. When a runtime lists
// several filesystems of a kind, the first that carries anything is reported,
// as the kubelet reports the first.
func (p *Provider) ImageFsStats(ctx context.Context) (*statsapi.RuntimeStats, error) {
	resp, err := p.client.ImageFsInfo(ctx)
	if err != nil {
		p.paths.noteError(err)
		return nil, err
	}
	now, sfs := p.opts.Now(), statfsCache{}
	convert := func(kind string, list []*runtimeapi.FilesystemUsage) *statsapi.FsStats {
		for _, u := range list {
			if u.GetUsedBytes() == nil && u.GetInodesUsed() == nil && u.GetFsId().GetMountpoint() == "" {
				continue // nil or empty: nothing to report
			}
			out, err := filesystemStats(u, now, sfs)
			if err != nil {
				p.opts.Logger.Debug("runtime filesystem capacity unknown", zap.String("filesystem", kind), zap.Error(err))
			}
			return out
		}
		return nil
	}
	out := &statsapi.RuntimeStats{ImageFs: convert("image", resp.GetImageFilesystems())}
	if out.ImageFs == nil {
		return nil, errors.New("cri ImageFsInfo: the runtime reported no image filesystem")
	}
	out.ContainerFs = convert("container", resp.GetContainerFilesystems())
	if out.ContainerFs == nil {
		cp := *out.ImageFs
		cp.AvailableBytes, cp.CapacityBytes = clonePtr(cp.AvailableBytes), clonePtr(cp.CapacityBytes)
		cp.UsedBytes, cp.InodesFree = clonePtr(cp.UsedBytes), clonePtr(cp.InodesFree)
		cp.Inodes, cp.InodesUsed = clonePtr(cp.Inodes), clonePtr(cp.InodesUsed)
		out.ContainerFs = &cp
	}
	return out, nil
}
