package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func writeInputs(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	write := func(n, data string) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return Options{
		Binary:   write("otelcol", "\x7fELF fake collector"),
		Config:   write("collector.yaml", "receivers: {}\n"),
		CACerts:  write("ca.crt", "-----BEGIN CERTIFICATE-----\n"),
		License:  write("LICENSE", "Apache License\n"),
		Version:  "1.2.3",
		Revision: "abc123",
		Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

type entry struct {
	mode     int64
	uid, gid int
	typ      byte
	data     string
	mtime    time.Time
}

func layerEntries(t *testing.T, o Options) map[string]entry {
	t.Helper()
	img, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 (an empty base and one layer)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{mode: h.Mode, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, data: string(b), mtime: h.ModTime}
	}
	return out
}

func TestLayerLayout(t *testing.T) {
	o := writeInputs(t)
	files := layerEntries(t, o)

	want := map[string]struct {
		mode     int64
		uid      int
		typ      byte
		contains string
	}{
		"otelcol-statssummary":               {0o755, 0, tar.TypeReg, "\x7fELF fake collector"},
		"etc/statssummary/collector.yaml":    {0o644, 0, tar.TypeReg, "receivers: {}"},
		"etc/ssl/certs/ca-certificates.crt":  {0o644, 0, tar.TypeReg, "BEGIN CERTIFICATE"},
		"usr/share/doc/statssummary/LICENSE": {0o644, 0, tar.TypeReg, "Apache License"},
		"etc/passwd":                         {0o644, 0, tar.TypeReg, "nonroot:x:65532:65532:"},
		"etc/group":                          {0o644, 0, tar.TypeReg, "nonroot:x:65532:"},
		"etc/nsswitch.conf":                  {0o644, 0, tar.TypeReg, "hosts: files dns"},
		"tmp/":                               {0o1777, 0, tar.TypeDir, ""},
		"home/nonroot/":                      {0o700, 65532, tar.TypeDir, ""},
		"etc/statssummary/":                  {0o755, 0, tar.TypeDir, ""},
		"usr/share/doc/statssummary/":        {0o755, 0, tar.TypeDir, ""},
	}
	for n, w := range want {
		got, ok := files[n]
		if !ok {
			t.Errorf("%s missing from the layer", n)
			continue
		}
		if got.mode != w.mode || got.uid != w.uid || got.typ != w.typ {
			t.Errorf("%s: mode %o uid %d type %c, want %o %d %c", n, got.mode, got.uid, got.typ, w.mode, w.uid, w.typ)
		}
		if !strings.Contains(got.data, w.contains) {
			t.Errorf("%s holds %q, want it to contain %q", n, got.data, w.contains)
		}
	}
	for n, e := range files {
		if !e.mtime.Equal(o.Created) {
			t.Errorf("%s: mtime %s, want the creation time %s", n, e.mtime, o.Created)
		}
		if e.typ == tar.TypeReg && e.mode&0o004 == 0 {
			t.Errorf("%s is not readable by other users (mode %o): a non-root user could not read it", n, e.mode)
		}
		if e.uid != 0 && n != "home/nonroot/" {
			t.Errorf("%s owned by uid %d, want root", n, e.uid)
		}
	}
}

func TestConfig(t *testing.T) {
	o := writeInputs(t)
	o.Source = "https://example.com/statssummary"
	img, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s (%v), want %s", mt, err, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/otelcol-statssummary"}) {
		t.Errorf("entrypoint %q", cf.Config.Entrypoint)
	}
	if !reflect.DeepEqual(cf.Config.Cmd, []string{"--config=/etc/statssummary/collector.yaml"}) {
		t.Errorf("cmd %q", cf.Config.Cmd)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "otelcol-statssummary",
		"org.opencontainers.image.version":  "1.2.3",
		"org.opencontainers.image.revision": "abc123",
		"org.opencontainers.image.source":   "https://example.com/statssummary",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	}
	for k, v := range wantLabels {
		if got := cf.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	if !cf.Created.Time.Equal(o.Created) {
		t.Errorf("created %s, want %s", cf.Created.Time, o.Created)
	}
}

// The same inputs give the same digest; the archive reads back as the image
// written, under its tag.
func TestReproducibleArchive(t *testing.T) {
	o := writeInputs(t)
	a, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of the same inputs: digests %s and %s", da, db)
	}
	o.Version = "1.2.4"
	c, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := c.Digest(); dc == da {
		t.Errorf("another version label, same digest %s", dc)
	}

	out := filepath.Join(t.TempDir(), "image.tar")
	ref := "registry.example.com/statssummary/otelcol-statssummary:1.2.3"
	o.Version = "1.2.3"
	if err := run([]string{"-binary", o.Binary, "-config", o.Config, "-ca-certs", o.CACerts, "-license", o.License,
		"-version", o.Version, "-revision", o.Revision, "-created", "2026-01-02T03:04:05Z", "-ref", ref, "-out", out}); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfgA, _ := a.ConfigName()
	cfgBack, err := back.ConfigName()
	if err != nil || cfgBack != cfgA {
		t.Errorf("archive's config %s (%v), want the built image's %s", cfgBack, err, cfgA)
	}
	if _, err := os.Stat(out + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary archive left behind: %v", err)
	}
}

func TestMissingInputsNamed(t *testing.T) {
	o := writeInputs(t)
	o.CACerts = filepath.Join(t.TempDir(), "absent.crt")
	o.License = ""
	_, err := Build(o)
	if err == nil {
		t.Fatal("no error for a missing CA bundle and licence")
	}
	for _, want := range []string{"CA certificates", "absent.crt", "license: no file given"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	o = writeInputs(t)
	if err := os.WriteFile(o.Binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "not an ELF executable") {
		t.Errorf("a script as the collector: error %v, want it refused", err)
	}
}
