package cri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// DefaultPodLogsDir is where the kubelet keeps pod logs:
// <dir>/<namespace>_<name>_<uid>/<container>/<restart>.log.
const DefaultPodLogsDir = "/var/log/pods"

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
	out := &statsapi.FsStats{
		Time:       sampleTime(u.GetTimestamp(), received),
		UsedBytes:  uint64Ptr(u.GetUsedBytes()),
		InodesUsed: uint64Ptr(u.GetInodesUsed()),
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

// containerLogsDir is <root>/<namespace>_<name>_<uid>/<container>. It is ""
// when a part is empty or could step out of root. It is filepath.Join of those
// parts, made with one concatenation (the parts hold no separator).
func containerLogsDir(root string, pod statsapi.PodReference, container string) string {
	for _, part := range [...]string{pod.Namespace, pod.Name, pod.UID, container} {
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, '/') {
			return ""
		}
	}
	podDir := pod.Namespace + "_" + pod.Name + "_" + pod.UID
	if root == "" {
		return podDir + "/" + container
	}
	root = filepath.Clean(root) // allocates nothing when root is already clean
	if strings.HasSuffix(root, "/") {
		return root + podDir + "/" + container
	}
	return root + "/" + podDir + "/" + container
}

// readDirUnsorted is os.ReadDir without the sort (the entries are only
// summed), and a missing directory costs one failed open and no allocation:
// the error is the bare syscall.Errno, which errors.Is matches against
// fs.ErrNotExist.
func readDirUnsorted(dir string) ([]fs.DirEntry, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		if err == unix.ENOENT {
			return nil, err
		}
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer func() { _ = f.Close() }()
	return f.ReadDir(-1)
}

// logStats measures a container's log directory: the disk usage (allocated
// blocks, as du counts) and the number of the regular files directly in it —
// one readdir and an lstat per file, no recursive walk — with capacity from
// statfs of the directory. A missing directory gives nil and no error.
func logStats(dir string, received time.Time, sfs statfsCache) (*statsapi.FsStats, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := readDirUnsorted(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read log directory: %w", err)
	}
	var used, inodes uint64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away since the readdir
		}
		if err != nil {
			return nil, fmt.Errorf("stat log file: %w", err)
		}
		inodes++
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			used += uint64(st.Blocks) * 512
		} else {
			used += uint64(info.Size())
		}
	}
	out := &statsapi.FsStats{Time: metav1.NewTime(received), UsedBytes: &used, InodesUsed: &inodes}
	c, err := sfs.get(dir)
	if err != nil {
		return out, err
	}
	c.fill(out)
	return out, nil
}
