package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths inside the image.
const (
	// BinaryPath is the collector, the image's entrypoint.
	BinaryPath = "/otelcol-statssummary"
	// ConfigPath is the collector's default configuration, the path the
	// DaemonSet's ConfigMap is mounted over.
	ConfigPath = "/etc/statssummary/collector.yaml"
	// CACertsPath is where Go (crypto/x509 on Linux) looks first for the
	// system's CA bundle.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// LicensePath carries the project's licence.
	LicensePath = "/usr/share/doc/statssummary/LICENSE"
)

// NonRootUID is the image's default user and group ("nonroot", as in
// distroless images). The DaemonSet runs the collector as root, because the
// runtime's socket is root's; anything else runs it unprivileged by default.
const NonRootUID = 65532

// Options say what goes into the image.
type Options struct {
	// Binary, Config, CACerts and License are files of the build machine.
	Binary, Config, CACerts, License string
	// Version, Revision, Source and Title describe the image in its
	// org.opencontainers.image.* labels; Source may be empty.
	Version, Revision, Source string
	// Created is the image's creation time and every file's modification
	// time, so that the same inputs give the same image digest.
	Created time.Time
}

// file is one entry of the image's only layer.
type file struct {
	name     string // relative to /, no leading slash
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// Build assembles the image: one layer on an empty base holding the
// collector, its default configuration, the CA bundle, the licence and the
// few files a program expects of a system (/etc/passwd, /etc/group,
// /etc/nsswitch.conf, /tmp), every one owned by root and readable by anyone
// but the non-root user's home directory.
func Build(o Options) (v1.Image, error) {
	var errs []error
	read := func(what, p string) []byte {
		if p == "" {
			errs = append(errs, fmt.Errorf("%s: no file given", what))
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		return b
	}
	binary := read("collector binary", o.Binary)
	config := read("collector config", o.Config)
	certs := read("CA certificates (Debian's ca-certificates package)", o.CACerts)
	license := read("license", o.License)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(binary, []byte("\x7fELF")) {
		return nil, fmt.Errorf("collector binary %s: not an ELF executable", o.Binary)
	}
	if o.Version == "" {
		return nil, errors.New("version: empty")
	}
	if o.Created.IsZero() {
		return nil, errors.New("created: zero time")
	}

	files := []file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%[1]d:%[1]d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%[1]d:\n", NonRootUID))},
		// Go's resolver reads it; "files dns" is what it assumes without it
		// on glibc systems, written down so that no guess is made.
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: path.Clean(CACertsPath[1:]), mode: 0o644, data: certs},
		{name: "etc/statssummary", mode: 0o755, dir: true},
		{name: ConfigPath[1:], mode: 0o644, data: config},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, uid: NonRootUID, gid: NonRootUID, dir: true},
		{name: "root", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/share", mode: 0o755, dir: true},
		{name: "usr/share/doc", mode: 0o755, dir: true},
		{name: "usr/share/doc/statssummary", mode: 0o755, dir: true},
		{name: LicensePath[1:], mode: 0o644, data: license},
		{name: BinaryPath[1:], mode: 0o755, data: binary},
	}
	layerTar, err := tarFiles(files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: o.Created},
			CreatedBy: "hack/image: the ocb-built collector, its default config, CA certificates",
			Comment:   "statssummary " + o.Version,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = "statssummary"
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"--config=" + ConfigPath},
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootUID),
		WorkingDir: "/",
		Labels:     Labels(o),
		ExposedPorts: map[string]struct{}{
			"10265/tcp": {}, // the JSON endpoint, when configured
			"13133/tcp": {}, // health_check, when configured
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// Labels are the image's OCI annotation keys (org.opencontainers.image.*),
// set as config labels (what `ctr images import` and `docker inspect` keep).
func Labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "otelcol-statssummary",
		"org.opencontainers.image.description": "OpenTelemetry Collector with the stats_summary receiver: the kubelet Summary from the container runtime over CRI",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "statssummary",
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	if o.Source != "" {
		l["org.opencontainers.image.source"] = o.Source
	}
	return l
}

// tarFiles writes the files, sorted by name, as an uncompressed tar with
// modification time t and no user or group names (numeric owners only).
func tarFiles(files []file, t time.Time) ([]byte, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid,
			ModTime: t.UTC(), Format: tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer tar %s: %w", f.name, err)
		}
		if !f.dir {
			if _, err := tw.Write(f.data); err != nil {
				return nil, fmt.Errorf("layer tar %s: %w", f.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	return buf.Bytes(), nil
}
