package parity

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/kubeletenv"
	"github.com/statssummary/statssummary/test/internal/receiverrun"
)

// walkPeriod is how often both sides measure volumes: the kubelet's
// volumeStatsAggPeriod and our volume walker.
const walkPeriod = 10 * time.Second

// ours is the real receiver, configured as a collector on that node would
// be: the kubelet's node name, runtime socket, root and pod logs directories,
// and its pods cgroup; its JSON endpoint assembles a fresh Summary per request.
type ours struct {
	url string
}

func startReceiver(t *testing.T, k *kubeletenv.Env) *ours {
	t.Helper()
	addr := freeLoopbackAddr(t)
	receiverrun.Start(t, map[string]any{
		"node_name":           k.NodeName,
		"collection_interval": walkPeriod.String(),
		"initial_delay":       "0s",
		"cri": map[string]any{
			"endpoint":     k.Containerd.Endpoint,
			"timeout":      walkPeriod.String(), // a shared 2-core machine can be slow
			"pod_logs_dir": k.PodLogsDir,
		},
		"cgroups": cgroupsConfig(k),
		"host": map[string]any{
			"kubelet_root_dir":   k.RootDir,
			"volume_walk_period": walkPeriod.String(),
		},
		"server": map[string]any{"endpoint": addr, "max_age": "0s"},
	})
	return &ours{url: "http://" + addr + "/stats/summary"}
}

// cgroupsConfig names the kubelet's pods cgroup and the system containers it
// reports.
func cgroupsConfig(k *kubeletenv.Env) map[string]any {
	out := map[string]any{"pods_cgroup": k.PodsCgroup}
	if k.RuntimeCgroup != "" {
		out["runtime_cgroup"] = k.RuntimeCgroup
	}
	if k.KubeletCgroup != "" {
		out["kubelet_cgroup"] = k.KubeletCgroup
	}
	return out
}

// summary fetches a Summary assembled for this request. Until the receiver's
// first assembly has finished, it answers 503: that is waited out, for at
// most a minute.
func (o *ours) summary(t *testing.T) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := o.get(t)
		if code == http.StatusOK {
			return body
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d: %s", o.url, code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (o *ours) get(t *testing.T) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
