package cri

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// fsCapacity is what statfs tells of a filesystem.
type fsCapacity struct {
	capacity, available, inodes, inodesFree uint64
}

// statfsCache asks each path's filesystem once per assembly.
type statfsCache map[string]statfsResult

type statfsResult struct {
	c   fsCapacity
	err error
}

func (c statfsCache) get(path string) (fsCapacity, error) {
	if r, ok := c[path]; ok {
		return r.c, r.err
	}
	var st unix.Statfs_t
	var r statfsResult
	if err := unix.Statfs(path, &st); err != nil {
		r.err = fmt.Errorf("statfs %s: %w", path, err)
	} else {
		bsize := uint64(st.Frsize)
		if bsize == 0 {
			bsize = uint64(st.Bsize)
		}
		r.c = fsCapacity{
			capacity:   st.Blocks * bsize,
			available:  st.Bavail * bsize,
			inodes:     st.Files,
			inodesFree: st.Ffree,
		}
	}
	c[path] = r
	return r.c, r.err
}

// fill sets capacity, available bytes and inodes of out from cap.
func (c fsCapacity) fill(out *statsapi.FsStats) {
	out.CapacityBytes = ptr(c.capacity)
	out.AvailableBytes = ptr(c.available)
	out.Inodes = ptr(c.inodes)
	out.InodesFree = ptr(c.inodesFree)
}

func ptr(v uint64) *uint64 { return &v }

// filesystemStats converts a runtime filesystem usage (a writable layer, an
// image or container filesystem): used bytes and inodes from the runtime,
// capacity, available bytes and inode totals from statfs of its mountpoint
// when the runtime names one. A statfs failure leaves those fields unset and is
// returned for the caller to log; it is not fatal.
func filesystemStats(u *runtimeapi.FilesystemUsage, received time.Time, sfs statfsCache) (*statsapi.FsStats, error) {
	if u == nil {
		return nil, nil
	}
	b := new(struct {
		out          statsapi.FsStats
		used, inodes uint64
	})
	out := &b.out
	*out = statsapi.FsStats{
		Time:       sampleTime(u.GetTimestamp(), received),
		UsedBytes:  copyU64(&b.used, u.GetUsedBytes()),
		InodesUsed: copyU64(&b.inodes, u.GetInodesUsed()),
	}
	mp := u.GetFsId().GetMountpoint()
	if mp == "" {
		return out, nil
	}
	c, err := sfs.get(mp)
	if err != nil {
		return out, err
	}
	c.fill(out)
	return out, nil
}
