package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap/zaptest"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

const (
	nodeName           = "integration-node"
	collectionInterval = 5 * time.Second
)

// collector is the real receiver, scraping when the test says so.
type collector struct {
	sink *consumertest.MetricsSink
	tick chan time.Time
	last time.Time // when the last scrape was asked for
	url  string    // the JSON endpoint
}

// rateGap is the least time between two scrapes whose CPU rate the tests read:
// a rate measured over a shorter window is not one (the provider keeps the
// previous rate, or none, for samples closer than a second).
const rateGap = 2 * time.Second

// waitGap waits until at least gap has passed since the last scrape.
func (c *collector) waitGap(t *testing.T, gap time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s since the last scrape", gap), gap+time.Second, func() bool { return time.Since(c.last) >= gap })
}

// startCollector starts the receiver against env, configured the way the
// collector configures it (from a confmap), with its JSON endpoint on a free
// loopback port, and waits for the scrape it makes at Start.
func startCollector(t *testing.T, env *containerdenv.Env) *collector {
	t.Helper()
	return startCollectorWith(t, env, nil)
}

// startCollectorWith is startCollector with more top-level settings of the
// receiver (e.g. "mode": "cadvisor").
func startCollectorWith(t *testing.T, env *containerdenv.Env, extra map[string]any) *collector {
	t.Helper()
	f := statssummaryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*statssummaryreceiver.Config)
	addr := freeLoopbackAddr(t)
	settings := map[string]any{
		"node_name": nodeName,
		// Scrapes are driven by tick; the interval still paces what providers
		// refresh in the background (cgroup housekeeping, disk usage walks).
		"collection_interval": collectionInterval.String(),
		"initial_delay":       "0s",
		"cri": map[string]any{
			"endpoint": env.Endpoint,
			"timeout":  collectionInterval.String(), // a shared 2-core machine can be slow
		},
		"server": map[string]any{"endpoint": addr},
		// Off by default (they split a restarted container's series); on here so
		// that the suite checks each container's runtime identity.
		"resource_attributes": map[string]any{
			"container.id":                map[string]any{"enabled": true},
			"k8s.container.restart_count": map[string]any{"enabled": true},
		},
	}
	maps.Copy(settings, extra)
	require.NoError(t, confmap.NewFromStringMap(settings).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	set := receivertest.NewNopSettings(f.Type())
	set.Logger = zaptest.NewLogger(t)
	c := &collector{sink: new(consumertest.MetricsSink), tick: make(chan time.Time), url: "http://" + addr + "/stats/summary"}
	r, err := statssummaryreceiver.NewManualMetricsReceiver(cfg, set, c.sink, c.tick)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		// t.Context is done when cleanups run: shutdown gets its own bound.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, r.Shutdown(ctx))
	})
	c.last = time.Now()
	waitFor(t, "the scrape at start", 30*time.Second, func() bool { return len(c.sink.AllMetrics()) > 0 })
	return c
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// summary fetches the Summary the receiver serves on its JSON endpoint: right
// after a scrape, that scrape's own assembly.
func (c *collector) summary(t *testing.T) *statsapi.Summary {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", c.url, body)
	var s statsapi.Summary
	require.NoError(t, json.Unmarshal(body, &s), "decode the Summary")
	return &s
}

// podStats finds a pod of a Summary by name, failing the test when absent.
func podStats(t *testing.T, s *statsapi.Summary, name string) *statsapi.PodStats {
	t.Helper()
	for i := range s.Pods {
		if s.Pods[i].PodRef.Name == name {
			return &s.Pods[i]
		}
	}
	t.Fatalf("pod %s not in the Summary", name)
	return nil
}

// containerStats finds a container of a pod by name, failing the test when absent.
func containerStats(t *testing.T, p *statsapi.PodStats, name string) *statsapi.ContainerStats {
	t.Helper()
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	t.Fatalf("container %s not in pod %s", name, p.PodRef.Name)
	return nil
}

// scrape makes the receiver scrape once and returns what it emitted. Anything
// read before the call happened before the scrape; anything read after it,
// after.
func (c *collector) scrape(t *testing.T) scraped {
	t.Helper()
	n := len(c.sink.AllMetrics())
	c.last = time.Now()
	select {
	case c.tick <- c.last:
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver did not take the scrape tick within 30 s")
	}
	waitFor(t, "a scrape", 30*time.Second, func() bool { return len(c.sink.AllMetrics()) > n })
	return index(t, c.sink.AllMetrics()[n])
}

// key identifies a resource: pod name and container name ("" for the pod);
// the node is key{} and its system containers key{system: name}.
type key struct{ pod, container, system string }

type resource struct {
	attrs map[string]string
	// values maps a metric name to its value; a data point with attributes is
	// under name{k=v,…} (attributes sorted), e.g.
	// k8s.pod.network.io{direction=receive,interface=eth0}.
	values map[string]float64
}

type scraped map[key]resource

// value returns a metric of a resource, failing the test when it is absent.
func (s scraped) value(t *testing.T, k key, metric string) float64 {
	t.Helper()
	r, ok := s[k]
	require.True(t, ok, "no resource for %v in the scrape (resources: %v)", k, s.keys())
	v, ok := r.values[metric]
	require.True(t, ok, "%v has no %s (metrics: %v)", k, metric, r.values)
	return v
}

func (s scraped) keys() []key {
	out := make([]key, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	return out
}

func index(t *testing.T, md pmetric.Metrics) scraped {
	t.Helper()
	out := scraped{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		attrs := map[string]string{}
		for k, v := range rm.Resource().Attributes().All() {
			attrs[k] = v.AsString()
		}
		k := key{attrs["k8s.pod.name"], attrs["k8s.container.name"], attrs["k8s.node.system_container.name"]}
		r, ok := out[k]
		if !ok {
			r = resource{attrs: attrs, values: map[string]float64{}}
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for m := 0; m < ms.Len(); m++ {
				metric := ms.At(m)
				var dps pmetric.NumberDataPointSlice
				switch metric.Type() {
				case pmetric.MetricTypeGauge:
					dps = metric.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = metric.Sum().DataPoints()
				default:
					continue
				}
				for d := 0; d < dps.Len(); d++ {
					dp := dps.At(d)
					name := metric.Name()
					if dp.Attributes().Len() > 0 {
						var kv []string
						for k, v := range dp.Attributes().All() {
							kv = append(kv, k+"="+v.AsString())
						}
						sort.Strings(kv)
						name += "{" + strings.Join(kv, ",") + "}"
					}
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						r.values[name] = float64(dp.IntValue())
					} else {
						r.values[name] = dp.DoubleValue()
					}
				}
			}
		}
		out[k] = r
	}
	return out
}

// waitFor polls cond every 50 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cgroupUint reads a cgroup file holding one number.
func cgroupUint(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	require.NoError(t, err, "parse %s", path)
	return v
}

// cgroupStat reads one key of a flat keyed cgroup file ("key value" lines:
// memory.stat, cpu.stat).
func cgroupStat(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == name {
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err, "parse %s in %s", name, path)
			return n
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("%s has no %s", path, name)
	return 0
}

// cgroupV2 tells whether the node's cgroups are the unified hierarchy: the
// ground truth then reads v2 files (cpu.stat, memory.current, …).
var cgroupV2 = containerdenv.CgroupV2()

// cgroupCPUNanos is a cgroup's cumulative CPU time: cpuacct.usage on v1,
// cpu.stat usage_usec (microseconds, so ×1000) on v2. dir is the cgroup's
// directory in the cpuacct hierarchy on v1, its only directory on v2.
func cgroupCPUNanos(t *testing.T, dir string) uint64 {
	t.Helper()
	if cgroupV2 {
		return cgroupStat(t, filepath.Join(dir, "cpu.stat"), "usage_usec") * 1000
	}
	return cgroupUint(t, filepath.Join(dir, "cpuacct.usage"))
}

// cpuNanos is the container's cumulative CPU time from its cgroup.
func cpuNanos(t *testing.T, p *containerdenv.Pod, container string) uint64 {
	return cgroupCPUNanos(t, p.CgroupDir("cpuacct", container))
}

// cpuSample is a container's cumulative CPU time and when it was read.
type cpuSample struct {
	nanos uint64
	at    time.Time
}

// sampleCPU reads a container's CPU time and the time of the read. A read takes
// microseconds; the windows it bounds last seconds.
func sampleCPU(t *testing.T, p *containerdenv.Pod, container string) cpuSample {
	t.Helper()
	at := time.Now()
	return cpuSample{nanos: cpuNanos(t, p, container), at: at}
}

// memory is a memory cgroup's usage and working set (usage minus inactive
// file pages, as the kubelet and containerd compute it).
type memory struct{ usage, workingSet uint64 }

// memoryOf reads a memory cgroup: memory.usage_in_bytes and memory.stat's
// total_inactive_file on v1, memory.current and memory.stat's inactive_file
// on v2 (whose memory.stat is hierarchical already).
func memoryOf(t *testing.T, dir string) memory {
	usageFile, inactiveKey := "memory.usage_in_bytes", "total_inactive_file"
	if cgroupV2 {
		usageFile, inactiveKey = "memory.current", "inactive_file"
	}
	usage := cgroupUint(t, filepath.Join(dir, usageFile))
	inactive := cgroupStat(t, filepath.Join(dir, "memory.stat"), inactiveKey)
	ws := uint64(0)
	if usage > inactive {
		ws = usage - inactive
	}
	return memory{usage: usage, workingSet: ws}
}

// cgroupDirsOf lists the directories of a cgroup path (relative to a
// hierarchy's root) in every hierarchy: each v1 controller's and the unified one.
func cgroupDirsOf(t *testing.T, path string) []string {
	t.Helper()
	v1, err := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", path))
	require.NoError(t, err)
	v2, err := filepath.Glob(filepath.Join("/sys/fs/cgroup", path))
	require.NoError(t, err)
	return append(v1, v2...)
}

func (m memory) String() string {
	return fmt.Sprintf("usage %d, working set %d", m.usage, m.workingSet)
}

// podCgroupsLeft lists what is left of a pod's cgroups, found by its UID
// alone, in every hierarchy, QoS class and driver layout.
func podCgroupsLeft(t *testing.T, uid string) []string {
	t.Helper()
	escaped := strings.ReplaceAll(uid, "-", "_")
	var out []string
	for _, path := range []string{
		"/kubepods/pod" + uid, "/kubepods/*/pod" + uid,
		"/kubepods.slice/kubepods-pod" + escaped + ".slice", "/kubepods.slice/*/kubepods-*-pod" + escaped + ".slice",
	} {
		out = append(out, cgroupDirsOf(t, path)...)
	}
	return out
}
