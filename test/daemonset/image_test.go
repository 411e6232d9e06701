package daemonset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// debugLine is the debug exporter's line for one batch of metrics.
var debugLine = regexp.MustCompile(`"resource metrics": (\d+), "metrics": (\d+), "data points": (\d+)`)

// TestImageOnContainerd: the archive of make image is what `ctr images
// import` accepts, its config is the one hack/image writes (non-root default
// user, OCI labels), and it runs as a pod through CRI with its own entrypoint
// and default configuration — the runtime's socket mounted where the receiver
// looks by default — and reports: the debug exporter logs scraped metrics.
func TestImageOnContainerd(t *testing.T) {
	require.NoError(t, containerdenv.CheckRoot())
	archive, ref := image(t)
	env, err := containerdenv.Start(t.Context(), containerdenv.Options{Name: "ds-image", Logf: t.Logf})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		require.NoError(t, env.Close(ctx))
	})
	t.Logf("runtime %s %s", env.RuntimeName, env.RuntimeVersion)
	require.NoError(t, env.ImportArchive(t.Context(), archive, ref))
	st, err := env.Image.ImageStatus(t.Context(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: true})
	require.NoError(t, err)
	require.NotNil(t, st.GetImage(), "image %s after the import", ref)
	assert.Equal(t, int64(65532), st.GetImage().GetUid().GetValue(), "the image's default user")
	var info struct {
		ImageSpec struct {
			Config struct {
				Entrypoint []string          `json:"Entrypoint"`
				Cmd        []string          `json:"Cmd"`
				Labels     map[string]string `json:"Labels"`
			} `json:"config"`
		} `json:"imageSpec"`
	}
	require.NoError(t, json.Unmarshal([]byte(st.GetInfo()["info"]), &info), "verbose ImageStatus info: %s", st.GetInfo()["info"])
	assert.Equal(t, []string{"/otelcol-statssummary"}, info.ImageSpec.Config.Entrypoint)
	assert.Equal(t, []string{"--config=/etc/statssummary/collector.yaml"}, info.ImageSpec.Config.Cmd)
	assert.Equal(t, "Apache-2.0", info.ImageSpec.Config.Labels["org.opencontainers.image.licenses"])
	assert.Equal(t, ref[strings.LastIndex(ref, ":")+1:], info.ImageSpec.Config.Labels["org.opencontainers.image.version"])
	t.Logf("image %s: %d bytes unpacked, labels %v", ref, st.GetImage().GetSize(), info.ImageSpec.Config.Labels)

	// The collector as the DaemonSet runs it (root: the socket is root's; a
	// read-only root filesystem; no capabilities), in a network namespace
	// of its own (its telemetry port is then its own).
	root := int64(0)
	pod, err := env.RunImagePod(t.Context(), containerdenv.ImagePodSpec{
		Name: "collector", Namespace: "ds-image", Container: "collector", Image: ref,
		RunAsUser: &root, ReadOnlyRootfs: true,
		Mounts: []*runtimeapi.Mount{{ContainerPath: "/run/containerd", HostPath: env.Dir, Readonly: true}},
	})
	require.NoError(t, err)
	logPath := env.LogPath(pod, "collector")
	var last string
	poll(t, 90*time.Second, "the collector in the pod to report a scrape", func() error {
		data, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		last = string(data)
		for _, m := range debugLine.FindAllStringSubmatch(last, -1) {
			rm, _ := strconv.Atoi(m[1])
			points, _ := strconv.Atoi(m[3])
			// The node and at least the collector's own pod and container.
			if rm >= 3 && points > 0 {
				t.Logf("debug exporter: %s", m[0])
				return nil
			}
		}
		return fmt.Errorf("no scrape with the node, a pod and a container in %s yet; log so far:\n%s", logPath, tail(last, 20))
	})
	for _, line := range strings.Split(last, "\n") {
		if strings.Contains(line, "\terror\t") || strings.Contains(line, "\twarn\t") {
			t.Logf("collector log: %s", line)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
