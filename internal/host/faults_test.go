package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// unreadableTree makes below dir a chain of directories whose full path is
// longer than PATH_MAX, so that walking it fails with ENAMETOOLONG even as
// root (who reads any directory regardless of its mode). It is built with
// *at calls relative to each level, the only way to make such a tree.
func unreadableTree(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 250)
	for range 20 { // 20 × 251 bytes > 4096
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		_ = unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	_ = unix.Close(fd)
}

// deepDir makes below base a chain of directories whose path is exactly n
// bytes long (n < PATH_MAX) and returns it.
func deepDir(t *testing.T, base string, n int) string {
	t.Helper()
	d := base
	for len(d) < n {
		d = filepath.Join(d, strings.Repeat("p", min(200, n-len(d)-1)))
	}
	if len(d) != n {
		t.Fatalf("deep directory is %d bytes, want %d", len(d), n)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// unlistableDir makes dir/name a directory whose full path is longer than
// PATH_MAX, so that listing it fails with ENAMETOOLONG even as root, while dir
// itself and shorter siblings stay usable.
func unlistableDir(t *testing.T, dir, name string) {
	t.Helper()
	if len(dir)+1+len(name) < unix.PathMax {
		t.Fatalf("%s/%s is short enough to list", dir, name)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Mkdirat(fd, name, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestWalkFaultsLeaveOnlyTheirEntriesOut: a volume directory and a container
// log directory that cannot be walked are left out of the pod's stats, named
// in the walk's error; the pod's other volume and container logs are
// measured, and the node facts are unaffected.
func TestWalkFaultsLeaveOnlyTheirEntriesOut(t *testing.T) {
	root := t.TempDir()
	uid := "99999999-0000-0000-0000-000000000001"
	vols := filepath.Join(root, "pods", uid, "volumes", "kubernetes.io~empty-dir")
	writeFile(t, filepath.Join(vols, "good", "f"), strings.Repeat("x", 10000))
	unreadableTree(t, filepath.Join(vols, "bad"))
	// A log root so deep that app/0.log is still reachable and the
	// sidecar's directory cannot be listed.
	podDirName := "shop_web_" + uid
	logs := deepDir(t, t.TempDir(), unix.PathMax-1-len("/"+podDirName+"/app/0.log")-8)
	logDir := filepath.Join(logs, podDirName)
	writeFile(t, filepath.Join(logDir, "app", "0.log"), "line\n")
	unlistableDir(t, logDir, "sidecar-with-a-name-that-is-long-enough")

	p := New(Options{KubeletRootDir: root, PodLogsDir: logs})
	err := p.Walk(t.Context())
	if err == nil {
		t.Fatal("walk reported no error for the unreadable volume and log directory")
	}
	for _, want := range []string{"volume usage " + filepath.Join(vols, "bad"), "log usage " + filepath.Join(logDir, "sidecar-with-a-name-that-is-long-enough"), "file name too long"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("walk error %q does not name %q", err, want)
		}
	}
	got, ok := p.Pod(uid)
	if !ok {
		t.Fatal("the walk's results were not kept")
	}
	if len(got.Volumes) != 1 || got.Volumes[0].Name != "good" || got.Volumes[0].UsedBytes == nil || *got.Volumes[0].UsedBytes == 0 {
		t.Errorf("volumes = %+v, want only good, measured", got.Volumes)
	}
	if got.EphemeralVolumeBytes == 0 {
		t.Error("the readable emptyDir is not counted as ephemeral storage")
	}
	if l := got.Logs["app"]; l == nil || *l.UsedBytes == 0 {
		t.Errorf("logs of app = %+v, want measured", l)
	}
	if _, ok := got.Logs["sidecar-with-a-name-that-is-long-enough"]; ok {
		t.Error("logs of sidecar present although unreadable")
	}
	if n, err := p.Node(); n.Fs == nil {
		t.Errorf("node fs lost with a volume unreadable: %v", err)
	}
}

// TestWalkPodsDirUnreadable: the kubelet's pods directory cannot be listed
// (here it is a file): the walk says so, and log usage is still measured.
func TestWalkPodsDirUnreadable(t *testing.T) {
	root, logs := t.TempDir(), t.TempDir()
	uid := "99999999-0000-0000-0000-000000000002"
	writeFile(t, filepath.Join(root, "pods"), "not a directory")
	writeFile(t, filepath.Join(logs, "shop_web_"+uid, "app", "0.log"), "line\n")

	p := New(Options{KubeletRootDir: root, PodLogsDir: logs})
	err := p.Walk(t.Context())
	if err == nil || !strings.Contains(err.Error(), "list "+filepath.Join(root, "pods")) {
		t.Fatalf("walk error = %v, want one naming the pods directory", err)
	}
	got, ok := p.Pod(uid)
	if !ok || got.Logs["app"] == nil {
		t.Errorf("logs lost with the pods directory unreadable: %+v", got)
	}
}
