// Command image builds the otelcol-statssummary container image without a
// container daemon (go-containerregistry): the ocb-built static collector on
// an empty base with Debian's CA bundle, OCI labels and a non-root default
// user, written as a docker-archive tar (`docker save` format) that
// `ctr images import`, `docker load`, `podman load` and `kind load
// image-archive` accept. `make image` runs it. It lives in a module of its own
// so that go-containerregistry never enters the product's go.mod.
//
//	go run . -binary BIN -config FILE -license FILE -ref NAME:TAG -version V -out FILE.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	fs.StringVar(&o.Binary, "binary", "", "the collector binary (make build)")
	fs.StringVar(&o.Config, "config", "", "the default collector configuration, installed at "+ConfigPath)
	fs.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle (Debian's ca-certificates package)")
	fs.StringVar(&o.License, "license", "", "the licence, installed at "+LicensePath)
	fs.StringVar(&o.Version, "version", "", "the image's version label")
	fs.StringVar(&o.Revision, "revision", "", "the source revision label (a commit)")
	fs.StringVar(&o.Source, "source", "", "the source repository label (optional)")
	created := fs.String("created", "", "creation time, RFC 3339 or Unix seconds; default $SOURCE_DATE_EPOCH, else now")
	ref := fs.String("ref", "", "the image reference the archive names (repository:tag)")
	out := fs.String("out", "", "the docker-archive tar to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *ref == "" {
		return fmt.Errorf("-out and -ref are required")
	}
	t, err := parseCreated(*created)
	if err != nil {
		return err
	}
	o.Created = t
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-ref %q: %w", *ref, err)
	}
	img, err := Build(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(*out), err)
	}
	// Written beside the target and renamed, so that an interrupted build
	// never leaves a truncated archive under the final name.
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("image: %s (%s) → %s, %.1f MiB\n", tag, digest, *out, float64(st.Size())/(1<<20))
	return nil
}

// parseCreated reads -created, else $SOURCE_DATE_EPOCH, else takes the
// current time (to the second).
func parseCreated(s string) (time.Time, error) {
	if s == "" {
		s = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-created %q: want RFC 3339 or Unix seconds: %w", s, err)
	}
	return t.UTC(), nil
}
