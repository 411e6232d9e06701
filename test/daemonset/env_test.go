package daemonset

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Environment the make target sets.
const (
	imageEnv    = "STATSSUMMARY_IMAGE"     // the archive make image writes
	imageRefEnv = "STATSSUMMARY_IMAGE_REF" // the reference it names
)

// repoRoot is the repository's top directory (this package is test/daemonset).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Dir(filepath.Dir(wd))
}

// image returns the archive and its reference, or fails saying how to get them.
func image(t *testing.T) (archive, ref string) {
	t.Helper()
	archive, ref = os.Getenv(imageEnv), os.Getenv(imageRefEnv)
	if archive == "" || ref == "" {
		t.Fatalf("$%s and $%s name the image archive and its reference: run make test-daemonset (it runs make image first)", imageEnv, imageRefEnv)
	}
	_, err := os.Stat(archive)
	require.NoError(t, err, "image archive (make image)")
	return archive, ref
}

// render runs the chart through helm (hack/helm, a module of its own) with
// the given --set values and returns the rendered documents by template file.
func render(t *testing.T, set ...string) map[string]string {
	t.Helper()
	root := repoRoot(t)
	args := []string{"-C", filepath.Join(root, "hack", "helm"), "run", "."}
	for _, s := range set {
		args = append(args, "-set", s)
	}
	args = append(args, filepath.Join(root, "deploy", "helm", "statssummary"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "helm render: %s", stderr.String())
	docs := map[string]string{}
	for _, part := range strings.Split("\n"+string(out), "\n---\n") {
		first, rest, ok := strings.Cut(strings.TrimSpace(part), "\n")
		if !ok {
			continue
		}
		src, ok := strings.CutPrefix(first, "# Source: ")
		require.True(t, ok, "rendered document without a source line: %.80q", part)
		docs[filepath.Base(src)] += rest + "\n"
	}
	return docs
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// getSummary fetches /stats/summary once.
func getSummary(ctx context.Context, url string) (*statsapi.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var s statsapi.Summary
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", url, err)
	}
	return &s, nil
}

// poll calls f every half second until it returns nil, for at most d, and
// fails with f's last error.
func poll(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: %v", d, what, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
