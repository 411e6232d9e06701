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
// and its pods cgroup; its JSON endpoint assembles a fresh Summary for a
// request that comes more than a second after the last assembly (max_age).
// path is the stats path (the endpoint's Stats-Summary-Stats-Path) a compared
// Summary must have come through: a Summary that came another way is asked
// for again.
type ours struct {
	url  string
	path string
}

// startReceiver starts ours; statsInterval, when not empty, sets
// cri.stats_interval (the default config's otherwise); path is what ours.path
// says.
func startReceiver(t *testing.T, k *kubeletenv.Env, statsInterval, path string) *ours {
	t.Helper()
	addr := freeLoopbackAddr(t)
	criCfg := map[string]any{
		"endpoint":     k.Containerd.Endpoint,
		"timeout":      walkPeriod.String(), // a shared 2-core machine can be slow
		"pod_logs_dir": k.PodLogsDir,
	}
	if statsInterval != "" {
		criCfg["stats_interval"] = statsInterval
	}
	receiverrun.Start(t, map[string]any{
		"node_name":           k.NodeName,
		"collection_interval": walkPeriod.String(),
		"initial_delay":       "0s",
		"cri":                 criCfg,
		"cgroups":             cgroupsConfig(k),
		"host": map[string]any{
			"kubelet_root_dir":   k.RootDir,
			"volume_walk_period": walkPeriod.String(),
		},
		"server": map[string]any{"endpoint": addr, "max_age": "1s"},
	})
	return &ours{url: "http://" + addr + "/stats/summary", path: path}
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
	b, _ := o.summaryVia(t)
	return b
}

// compared fetches a Summary that came through o.path: one that came another
// way (the scrape that refreshes the identity plan's writable layers, once a
// minute) is asked for again, a collection interval later (so that our CPU
// rates span about as long as the kubelet's), at most three times.
func (o *ours) compared(t *testing.T) []byte {
	t.Helper()
	var paths []string
	for range 3 {
		b, path := o.summaryVia(t)
		if path == o.path {
			return b
		}
		paths = append(paths, path)
		time.Sleep(walkPeriod)
	}
	t.Fatalf("no Summary through the %s path in 3 requests: %v", o.path, paths)
	return nil
}

// summaryVia is summary with the stats path the endpoint says it came
// through.
func (o *ours) summaryVia(t *testing.T) ([]byte, string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, hdr, body := o.get(t)
		if code == http.StatusOK {
			return body, hdr.Get("Stats-Summary-Stats-Path")
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d: %s", o.url, code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (o *ours) get(t *testing.T) (int, http.Header, []byte) {
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
	return resp.StatusCode, resp.Header, body
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
