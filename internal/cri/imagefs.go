package cri

import (
	"context"
	"errors"
	"sync"
	"time"

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
//
// The runtime's answer is used again for ImageFsMaxAge (imageFsCache); the
// statfs figures are read at every call.
func (p *Provider) ImageFsStats(ctx context.Context) (*statsapi.RuntimeStats, error) {
	resp, ok := p.imageFs.get(p.opts.Now())
	if !ok {
		var err error
		if resp, err = p.client.ImageFsInfo(ctx); err != nil {
			p.paths.noteError(err)
			return nil, err
		}
		p.imageFs.put(p.opts.Now(), resp)
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

// ImageFsMaxAge is how long an ImageFsInfo answer is used again. The used
// bytes and inodes in it are the runtime's own periodic measurement, stamped
// with its time: containerd refreshes them every stats_collect_period (10 s
// by default), so asking more often returns the same figures.
const ImageFsMaxAge = 10 * time.Second

// imageFsCache keeps the last ImageFsInfo answer. A failed call keeps
// nothing: the next one asks again.
type imageFsCache struct {
	mu   sync.Mutex
	at   time.Time
	resp *runtimeapi.ImageFsInfoResponse
}

func (c *imageFsCache) get(now time.Time) (*runtimeapi.ImageFsInfoResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resp == nil || now.Before(c.at) || now.Sub(c.at) >= ImageFsMaxAge {
		return nil, false
	}
	return c.resp, true
}

func (c *imageFsCache) put(now time.Time, resp *runtimeapi.ImageFsInfoResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.resp = now, resp
}
