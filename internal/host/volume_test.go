package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// mountForTest mounts with args onto dir and unmounts it on cleanup (lazily
// when it is busy), before the temporary directories are removed.
func mountForTest(t *testing.T, dir string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", append(args, dir)...)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v (%s); unmounting lazily", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
}

// loopExt4 makes a sizeMiB ext4 filesystem in an image file and loop-mounts
// it on dir (the loop device is released when it is unmounted).
func loopExt4(t *testing.T, dir string, sizeMiB int) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	run(t, "truncate", "-s", strconv.Itoa(sizeMiB)+"M", img)
	// No lazy initialisation: nothing changes the free counts after mkfs.
	run(t, "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img)
	mountForTest(t, dir, "-o", "loop", img)
}

// statFilesystem is what stat -f tells of the filesystem holding path, as
// the kubelet computes a statfs volume: capacity, available, used = (blocks −
// free) × block size, inodes, free and used inodes.
func statFilesystem(t *testing.T, path string) fsValues {
	t.Helper()
	out, err := exec.Command("stat", "-f", "-c", "%b %f %a %s %c %d", path).Output()
	if err != nil {
		t.Fatalf("stat -f %s: %v", path, err)
	}
	var v [6]uint64
	for i, f := range strings.Fields(string(out)) {
		if v[i], err = strconv.ParseUint(f, 10, 64); err != nil {
			t.Fatalf("stat -f %s: %q: %v", path, out, err)
		}
	}
	blocks, free, avail, bsize, files, ffree := v[0], v[1], v[2], v[3], v[4], v[5]
	return fsValues{blocks * bsize, avail * bsize, (blocks - free) * bsize, files, ffree, files - ffree}
}

// TestPVCAndCSIVolumesMeasuredByStatfsOfTheirMount (issue 14, defect 3): a
// CSI volume is published at volumes/kubernetes.io~csi/<pv>/mount, a mount of
// another filesystem. The walker used to walk <pv> without crossing into
// mount/, so its used bytes were vol_data.json's and its capacity the node
// disk's. Here a real loop-mounted ext4 (a persistent volume), a tmpfs (an
// inline ephemeral CSI volume) and a bind-mounted local volume are measured
// by statfs of their own mount, as the kubelet does; an emptyDir stays on du;
// a CSI volume not mounted yet is left out and named.
func TestPVCAndCSIVolumesMeasuredByStatfsOfTheirMount(t *testing.T) {
	root := t.TempDir()
	uid := "0c5a7e2e-1d7b-4b8e-9a3f-5e6f7a8b9c0d"
	vols := filepath.Join(root, "pods", uid, "volumes")

	// A persistent volume: the directory is the PV's name, as in vol_data.json.
	pv := filepath.Join(vols, "kubernetes.io~csi", "pvc-5a1f0b7c")
	writeFile(t, filepath.Join(pv, "vol_data.json"), `{"attachmentID":"csi-4f1d","driverName":"ebs.csi.aws.com","nodeName":"node-1","specVolID":"pvc-5a1f0b7c","volumeHandle":"vol-0123456789","volumeLifecycleMode":"Persistent"}`)
	loopExt4(t, filepath.Join(pv, "mount"), 64)
	writeFile(t, filepath.Join(pv, "mount", "data", "table"), strings.Repeat("d", 3<<20))
	for i := range 10 {
		writeFile(t, filepath.Join(pv, "mount", "data", "row"+strconv.Itoa(i)), "r")
	}
	// An inline ephemeral CSI volume: specVolID is the pod-spec name.
	inline := filepath.Join(vols, "kubernetes.io~csi", "scratch")
	writeFile(t, filepath.Join(inline, "vol_data.json"), `{"driverName":"inline.csi.example.com","nodeName":"node-1","specVolID":"scratch","volumeHandle":"csi-9e8d","volumeLifecycleMode":"Ephemeral"}`)
	mountForTest(t, filepath.Join(inline, "mount"), "-t", "tmpfs", "-o", "size=8m", "tmpfs")
	writeFile(t, filepath.Join(inline, "mount", "f"), strings.Repeat("s", 1<<20))
	// A CSI volume the driver has not published: mount/ is an empty directory.
	pending := filepath.Join(vols, "kubernetes.io~csi", "pvc-pending")
	writeFile(t, filepath.Join(pending, "vol_data.json"), `{"driverName":"ebs.csi.aws.com","specVolID":"pvc-pending","volumeHandle":"vol-9","volumeLifecycleMode":"Persistent"}`)
	if err := os.MkdirAll(filepath.Join(pending, "mount"), 0o750); err != nil {
		t.Fatal(err)
	}
	// A local volume bind-mounted from a directory of the node's disk.
	src := filepath.Join(root, "disks", "local-1")
	writeFile(t, filepath.Join(src, "f"), strings.Repeat("l", 20000))
	local := filepath.Join(vols, "kubernetes.io~local-volume", "pv-local")
	mountForTest(t, local, "--bind", src)
	// An emptyDir: du.
	emptyDir := filepath.Join(vols, "kubernetes.io~empty-dir", "cache")
	writeFile(t, filepath.Join(emptyDir, "f"), strings.Repeat("e", 50000))
	run(t, "sync")

	p := New(Options{KubeletRootDir: root, PodLogsDir: t.TempDir()})
	err := p.Walk(t.Context())
	if err == nil || !strings.Contains(err.Error(), "volume usage "+pending+": nothing mounted at "+filepath.Join(pending, "mount")) {
		t.Errorf("walk error = %v, want one naming the unpublished CSI volume's mount", err)
	}
	got, ok := p.Pod(uid)
	if !ok {
		t.Fatal("pod unknown after a walk")
	}
	byName := map[string]fsValues{}
	for _, v := range got.Volumes {
		if v.PVCRef != nil {
			t.Errorf("volume %s has a pvcRef %+v: no claim is known without the API server", v.Name, v.PVCRef)
		}
		byName[v.Name] = values(v.FsStats)
	}
	if len(byName) != 4 {
		t.Errorf("volumes %v, want pvc-5a1f0b7c, scratch, pv-local and cache (pvc-pending left out)", byName)
	}

	want := statFilesystem(t, filepath.Join(pv, "mount"))
	if g := byName["pvc-5a1f0b7c"]; g != want {
		t.Errorf("persistent CSI volume = %+v; stat -f of its mount says %+v", g, want)
	}
	if g := byName["pvc-5a1f0b7c"]; g.used < 3<<20 || g.capacity > 64<<20 {
		t.Errorf("persistent CSI volume used %d B of %d: want the 3 MiB written, on the 64 MiB filesystem", g.used, g.capacity)
	}
	if g, want := byName["scratch"], statFilesystem(t, filepath.Join(inline, "mount")); g != want || g.capacity != 8<<20 {
		t.Errorf("inline CSI volume = %+v; stat -f of its 8 MiB tmpfs says %+v", g, want)
	}
	// The node disk: its totals are stable, its use moves with other writers.
	node := statFilesystem(t, root)
	if g := byName["pv-local"]; g.capacity != node.capacity || g.inodes != node.inodes {
		t.Errorf("bind-mounted local volume capacity, inodes = %d, %d; stat -f of the node disk says %d, %d", g.capacity, g.inodes, node.capacity, node.inodes)
	}
	if b, i := du(t, emptyDir); byName["cache"].used != b || byName["cache"].inodesUsed != i {
		t.Errorf("emptyDir used = %d B, %d inodes; du says %d, %d", byName["cache"].used, byName["cache"].inodesUsed, b, i)
	}
	if b, i := du(t, emptyDir); got.EphemeralVolumeBytes != b || got.EphemeralVolumeInodes != i {
		t.Errorf("ephemeral volumes = %d B, %d inodes; want the emptyDir's alone: %d, %d", got.EphemeralVolumeBytes, got.EphemeralVolumeInodes, b, i)
	}
	wantTypes := map[string]string{"pvc-5a1f0b7c": "csi", "scratch": "csi", "pv-local": "local", "cache": "emptyDir"}
	for name, typ := range wantTypes {
		if got.VolumeTypes[name] != typ {
			t.Errorf("type of %s = %q, want %q", name, got.VolumeTypes[name], typ)
		}
	}
}

// fsValues are an FsStats' six figures, zero where unset.
type fsValues struct{ capacity, available, used, inodes, inodesFree, inodesUsed uint64 }

func values(fs statsapi.FsStats) fsValues {
	v := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return fsValues{v(fs.CapacityBytes), v(fs.AvailableBytes), v(fs.UsedBytes), v(fs.Inodes), v(fs.InodesFree), v(fs.InodesUsed)}
}

// TestNodeFsIsThePodsDirectorysFilesystem: the DaemonSet mounts only
// <kubelet root>/pods into the collector's pod, so the node fs must be statfs
// of that directory, not of the root directory (which, inside the pod, is on
// the collector's own image filesystem: wrong on a node whose kubelet root is
// a disk of its own). Here pods/ is a 16 MiB tmpfs under a root on another
// filesystem; before the fix the node fs was the root's.
func TestNodeFsIsThePodsDirectorysFilesystem(t *testing.T) {
	root := t.TempDir()
	pods := filepath.Join(root, "pods")
	mountForTest(t, pods, "-t", "tmpfs", "-o", "size=16m", "tmpfs")
	got, err := New(Options{KubeletRootDir: root}).Node()
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	want, other := statFilesystem(t, pods), statFilesystem(t, root)
	if want.capacity == other.capacity {
		t.Fatalf("the tmpfs and the root's filesystem have one capacity (%d): the test cannot tell them apart", want.capacity)
	}
	if got.Fs == nil || *got.Fs.CapacityBytes != want.capacity || *got.Fs.Inodes != want.inodes {
		t.Fatalf("node fs = %+v; stat -f of the pods directory says capacity %d, inodes %d (the root's: %d)",
			got.Fs, want.capacity, want.inodes, other.capacity)
	}
}
