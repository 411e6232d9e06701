package containerdenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// ImportArchive imports an image archive (docker-archive or OCI tar, such as
// `make image` writes) into the CRI's namespace with the instance's own ctr,
// as a node's operator would: `ctr -n k8s.io images import`. It returns once
// the CRI knows each of refs (containerd 2.x learns of an import from an
// event).
func (e *Env) ImportArchive(ctx context.Context, archive string, refs ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(e.Binaries, "ctr"), "--address", e.Socket, "-n", "k8s.io",
		"images", "import", "--snapshotter", e.Snapshotter, archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s: %w: %s", archive, err, bytes.TrimSpace(out))
	}
	e.logf("containerdenv: imported %s: %s", archive, bytes.TrimSpace(out))
	for _, ref := range refs {
		if err := e.waitImage(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// SnapshotterDir is the directory of the instance's snapshotter, the
// mountpoint the CRI names for the image filesystem and the writable layers.
func (e *Env) SnapshotterDir() string {
	return filepath.Join(paths{e.Dir}.root(), "io.containerd.snapshotter.v1."+e.Snapshotter)
}
