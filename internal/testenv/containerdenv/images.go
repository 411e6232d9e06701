package containerdenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// busyboxPath is busybox-static's binary: statically linked, so a layer holding
// it alone runs.
const busyboxPath = "/bin/busybox"

// importImages builds the two images as one docker-archive tar and imports it
// into the CRI's namespace.
func (e *Env) importImages(ctx context.Context) error {
	archive, err := buildImageArchive()
	if err != nil {
		return err
	}
	tarPath := filepath.Join(e.Dir, "images.tar")
	if err := os.WriteFile(tarPath, archive, 0o600); err != nil {
		return fmt.Errorf("write image archive: %w", err)
	}
	defer os.Remove(tarPath)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(e.Binaries, "ctr"), "--address", e.Socket, "-n", "k8s.io",
		"images", "import", "--snapshotter", e.Snapshotter, tarPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import: %w: %s", err, bytes.TrimSpace(out))
	}
	// containerd 2.x's CRI learns of an image imported through the
	// containerd API from an event, a moment later: until then a sandbox
	// asks for the pause image and the CRI tries to pull it (from
	// https://localhost, which fails). Wait until the CRI sees both.
	for _, ref := range []string{ShellImage, PauseImage} {
		if err := e.waitImage(ctx, ref); err != nil {
			return err
		}
	}
	e.logf("containerdenv: imported %s and %s", ShellImage, PauseImage)
	return nil
}

// waitImage polls the CRI's ImageStatus until it knows ref.
func (e *Env) waitImage(ctx context.Context, ref string) error {
	for {
		st, err := e.Image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err == nil && st.GetImage() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the CRI does not know the imported image %s (last answer: %v): %w", ref, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// buildImageArchive returns a docker-archive (docker save format) with one
// layer — busybox, its applets, /etc/passwd — shared by ShellImage (cmd sh) and
// PauseImage (sleeps forever).
func buildImageArchive() ([]byte, error) {
	layer, err := buildLayer()
	if err != nil {
		return nil, err
	}
	layerSum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(layerSum[:])

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("layer.tar", layer); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	for _, img := range []struct {
		ref string
		cmd []string
	}{
		{ShellImage, []string{"sh"}},
		{PauseImage, []string{"sleep", "2147483647"}},
	} {
		cfg, err := json.Marshal(map[string]any{
			"architecture": runtime.GOARCH,
			"os":           "linux",
			"created":      "2026-01-01T00:00:00Z",
			"config": map[string]any{
				"Cmd":        img.cmd,
				"Env":        []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin"},
				"WorkingDir": "/",
			},
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		})
		if err != nil {
			return nil, fmt.Errorf("image config: %w", err)
		}
		sum := sha256.Sum256(cfg)
		name := hex.EncodeToString(sum[:]) + ".json"
		if err := add(name, cfg); err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		manifest = append(manifest, entry{Config: name, RepoTags: []string{img.ref}, Layers: []string{"layer.tar"}})
	}
	m, err := json.Marshal(manifest)
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	if err := add("manifest.json", m); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	return buf.Bytes(), nil
}

func buildLayer() ([]byte, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("read busybox (package busybox-static): %w", err)
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	hdrs := []*tar.Header{}
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"dev/", 0o755}, {"etc/", 0o755}, {"proc/", 0o555}, {"root/", 0o700}, {"sys/", 0o555}, {"tmp/", 0o1777}, {"var/", 0o755}} {
		hdrs = append(hdrs, &tar.Header{Name: d.name, Mode: d.mode, Typeflag: tar.TypeDir, ModTime: epoch})
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.ContainsRune(applet, '/') {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, Typeflag: tar.TypeSymlink, ModTime: epoch}); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	return buf.Bytes(), nil
}
