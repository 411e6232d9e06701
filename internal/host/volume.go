package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// ephemeralPlugins are the volume plugins whose data is a local directory on
// the node for the pod's lifetime: they are measured by walking (du), as the
// kubelet's MetricsDu does, and count in ephemeral storage unless memory
// backed.
var ephemeralPlugins = map[string]bool{
	"kubernetes.io~empty-dir":    true,
	"kubernetes.io~configmap":    true,
	"kubernetes.io~secret":       true,
	"kubernetes.io~projected":    true,
	"kubernetes.io~downward-api": true,
	"kubernetes.io~git-repo":     true,
}

// csiPlugin is the CSI plugin's directory: volumes/kubernetes.io~csi/<name>
// holds vol_data.json and mount/, where the driver publishes the volume.
const csiPlugin = "kubernetes.io~csi"

// csiVolumeData is what the walker reads of the vol_data.json that the
// kubelet's CSI plugin writes next to mount/ (keys from its volDataKey).
// specVolID is the volume spec's name: the PersistentVolume's name for a
// persistent volume (lifecycle mode "Persistent"), the pod-spec volume name
// for an inline ephemeral one ("Ephemeral"). The pod-spec name of a
// persistent volume and its claim are not in it.
type csiVolumeData struct {
	SpecVolID     string `json:"specVolID"`
	VolumeHandle  string `json:"volumeHandle"`
	DriverName    string `json:"driverName"`
	LifecycleMode string `json:"volumeLifecycleMode"`
}

// walkVolumes measures volumes/<plugin>/<name> as the kubelet's volume
// plugins do:
//   - local directories (emptyDir, configMap, secret, projected,
//     downwardAPI, gitRepo): used bytes and inodes by walking, capacity,
//     availability and inode totals by statfs; disk-backed ones add to
//     ephemeral storage, memory-backed (tmpfs) ones do not;
//   - CSI: statfs of <name>/mount, the driver's filesystem (capacity,
//     available, used = (blocks − free) × block size, inodes, free and
//     used inodes, as the kubelet's statfs metrics provider and most
//     drivers' NodeGetVolumeStats); a volume not mounted there yet is
//     left out, named in the error;
//   - any other plugin (nfs, iscsi, rbd, local, …): statfs of <name> when
//     it is a mount point, else a walk.
func (p *Provider) walkVolumes(ctx context.Context, dir string, ps *PodStats, now time.Time) []error {
	var errs []error
	plugins, err := os.ReadDir(dir)
	if err != nil {
		return nil // no volumes
	}
	for _, pl := range plugins {
		vols, err := os.ReadDir(filepath.Join(dir, pl.Name()))
		if err != nil {
			continue
		}
		for _, v := range vols {
			path := filepath.Join(dir, pl.Name(), v.Name())
			var vs statsapi.VolumeStats
			var err error
			switch {
			case ephemeralPlugins[pl.Name()]:
				vs, err = localVolume(ctx, path, now, ps)
			case pl.Name() == csiPlugin:
				vs, err = csiVolume(path, now)
			default:
				vs, err = otherVolume(ctx, path, now)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("volume usage %s: %w", path, err))
				continue
			}
			if vs.Name == "" {
				vs.Name = v.Name()
			}
			ps.Volumes = append(ps.Volumes, vs)
			if ps.VolumeTypes == nil {
				ps.VolumeTypes = map[string]string{}
			}
			ps.VolumeTypes[vs.Name] = VolumeType(pl.Name())
		}
	}
	return errs
}

// localVolume walks a local-directory volume and adds it to ps's ephemeral
// storage unless it is memory backed.
func localVolume(ctx context.Context, path string, now time.Time, ps *PodStats) (statsapi.VolumeStats, error) {
	vs, tmpfs, err := walkedVolume(ctx, path, now)
	if err == nil && !tmpfs {
		ps.EphemeralVolumeBytes += *vs.UsedBytes
		ps.EphemeralVolumeInodes += *vs.InodesUsed
	}
	return vs, err
}

// walkedVolume is du of path for used bytes and inodes, statfs for the rest
// (left unset when statfs fails); tmpfs tells whether it is memory backed.
func walkedVolume(ctx context.Context, path string, now time.Time) (vs statsapi.VolumeStats, tmpfs bool, err error) {
	u, err := diskUsage(ctx, path)
	if err != nil {
		return vs, false, err
	}
	vs.FsStats = statsapi.FsStats{Time: metav1.NewTime(now), UsedBytes: ptr(u.bytes), InodesUsed: ptr(u.inodes)}
	if st, err := statfs(path); err == nil {
		bs := uint64(st.Bsize)
		vs.CapacityBytes, vs.AvailableBytes = ptr(st.Blocks*bs), ptr(st.Bavail*bs)
		vs.Inodes, vs.InodesFree = ptr(st.Files), ptr(st.Ffree)
		tmpfs = st.Type == unix.TMPFS_MAGIC
	}
	return vs, tmpfs, nil
}

// csiVolume is statfs of a CSI volume's mount, named by vol_data.json's
// specVolID when it has one (the directory's name otherwise).
func csiVolume(path string, now time.Time) (statsapi.VolumeStats, error) {
	var vs statsapi.VolumeStats
	if data, err := readCSIVolumeData(path); err == nil {
		vs.Name = data.SpecVolID
	}
	mount := filepath.Join(path, "mount")
	mounted, err := isMountPoint(mount)
	if err != nil {
		return vs, err
	}
	if !mounted {
		return vs, fmt.Errorf("nothing mounted at %s: not yet published by the driver, or mounted after this process started and not propagated into its mount namespace (the pods directory needs mountPropagation: HostToContainer)", mount)
	}
	fs, err := FsStats(mount, now)
	if err != nil {
		return vs, err
	}
	vs.FsStats = *fs
	return vs, nil
}

// readCSIVolumeData reads dir/vol_data.json.
func readCSIVolumeData(dir string) (csiVolumeData, error) {
	var d csiVolumeData
	file := filepath.Join(dir, "vol_data.json")
	b, err := os.ReadFile(file)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("parse %s: %w", file, err)
	}
	return d, nil
}

// otherVolume is statfs of a volume that is a mount point (a network or
// block-backed filesystem, a bind-mounted local volume), else a walk of the
// directory that is there.
func otherVolume(ctx context.Context, path string, now time.Time) (statsapi.VolumeStats, error) {
	mounted, err := isMountPoint(path)
	if err != nil {
		return statsapi.VolumeStats{}, err
	}
	if !mounted {
		vs, _, err := walkedVolume(ctx, path, now)
		return vs, err
	}
	fs, err := FsStats(path, now)
	if err != nil {
		return statsapi.VolumeStats{}, err
	}
	return statsapi.VolumeStats{FsStats: *fs}, nil
}

// isMountPoint tells whether path is the root of a mount, bind mounts of a
// directory of the same filesystem included (statx's STATX_ATTR_MOUNT_ROOT,
// Linux 5.8); where the kernel does not say, whether path is on another
// device than its parent. A path that does not exist is not one.
func isMountPoint(path string) (bool, error) {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statx %s: %w", path, err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	var parent unix.Stat_t
	if err := unix.Stat(filepath.Dir(path), &parent); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(path), err)
	}
	return unix.Mkdev(stx.Dev_major, stx.Dev_minor) != parent.Dev, nil
}
