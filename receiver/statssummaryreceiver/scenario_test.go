package statssummaryreceiver

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// updateGolden rewrites the expected_metrics.yaml files from the current output.
// Review every diff it makes before committing it.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/scenarios/*/expected_metrics.yaml")

const scenariosDir = "testdata/scenarios"

// scenario is testdata/scenarios/<name>/scenario.yaml: what is fed to the
// receiver, next to expected_metrics.yaml, what it must emit. Paths are
// relative to the scenario's folder.
type scenario struct {
	// Summary is a kubelet /stats/summary JSON document, converted directly.
	Summary string `json:"summary"`
	// Time is the assembly (scrape) time of a Summary scenario, and the
	// receiver's clock in a CRI scenario (the real clock when unset).
	Time time.Time `json:"time"`
	// Containers gives the runtime identity of a Summary scenario's containers.
	Containers []struct {
		PodUID  string `json:"pod_uid"`
		Name    string `json:"name"`
		ID      string `json:"id"`
		Attempt uint32 `json:"attempt"`
	} `json:"containers"`

	// CRI is the state crifake serves (cri.json), scraped through the receiver.
	CRI string `json:"cri"`
	// CRIErrors makes CRI RPCs fail with a gRPC code, by RPC name.
	CRIErrors map[string]string `json:"cri_errors"`
	// PartialError: the scrape must return a partial scrape error.
	PartialError bool `json:"partial_error"`
	// CRINext is a second state (cri.json's shape) the runtime serves after
	// a first scrape; the receiver scrapes again at NextTime, and the
	// expected files are of that second scrape.
	CRINext  string    `json:"cri_next"`
	NextTime time.Time `json:"next_time"`
	// ExpectCalls are CRI RPCs and how many times the receiver must have
	// called each, over the whole scenario.
	ExpectCalls map[string]int `json:"expect_calls"`
	// ExpectedSummary names a golden file (expected_summary.json) with the
	// last scrape's Summary: its pods and node.runtime, in the kubelet's
	// JSON. The node's other fields, pod ephemeral storage, volumes and
	// container logs are this machine's measurements and left out.
	ExpectedSummary string `json:"expected_summary"`

	// Config is laid over the receiver's default configuration.
	Config map[string]any `json:"config"`
}

// TestScenarios runs every folder of testdata/scenarios and compares the
// output with its expected_metrics.yaml (timestamps aside).
func TestScenarios(t *testing.T) {
	dirs, err := os.ReadDir(scenariosDir)
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join(scenariosDir, d.Name())
			sc := readScenario(t, dir)
			switch {
			case sc.Summary != "" && sc.CRI == "":
				compareScenario(t, dir, sc, convertSummaryScenario(t, dir, sc, scenarioConfig(t, sc.Config)), nil)
			case sc.CRI != "" && sc.Summary == "":
				// Every CRI scenario runs against both sockets: gRPC alone
				// (containerd) and CRI-O's cmux front. The expected
				// output is the same; the golden files are written from
				// the first.
				for i, mode := range []crifake.Mode{crifake.ModePlain, crifake.ModeCRIO} {
					t.Run(string(mode), func(t *testing.T) {
						md, s := scrapeCRIScenario(t, dir, sc, scenarioConfig(t, sc.Config), mode)
						compareScenario(t, dir, sc, md, s, i == 0)
					})
				}
			default:
				t.Fatalf("%s: scenario.yaml needs exactly one of summary and cri", dir)
			}
		})
	}
}

// compareScenario compares md with expected_metrics.yaml and, when the
// scenario names one, s with its expected Summary; update says the golden
// files may be rewritten from this output (-update-golden).
func compareScenario(t *testing.T, dir string, sc scenario, md pmetric.Metrics, s *statsapi.Summary, update ...bool) {
	t.Helper()
	mayUpdate := *updateGolden && (len(update) == 0 || update[0])
	expectedFile := filepath.Join(dir, "expected_metrics.yaml")
	if mayUpdate {
		require.NoError(t, golden.WriteMetrics(t, expectedFile, md))
	}
	expected, err := golden.ReadMetrics(expectedFile)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(expected, md,
		pmetrictest.IgnoreTimestamp(),
		pmetrictest.IgnoreStartTimestamp(),
		pmetrictest.IgnoreResourceMetricsOrder(),
		pmetrictest.IgnoreMetricsOrder(),
		pmetrictest.IgnoreMetricDataPointsOrder()))
	requireTimestamps(t, md)

	if sc.ExpectedSummary == "" {
		return
	}
	require.NotNil(t, s, "%s: expected_summary needs a CRI scenario", dir)
	// What this machine measures (pod ephemeral storage and volumes: statfs
	// and walks of the host's directories) is left out; the rest is the
	// runtime's answer as the receiver turned it into a Summary. The
	// kubelet's encoding (internal/server): indented by one space.
	pods := slices.Clone(s.Pods)
	for i := range pods {
		pods[i].EphemeralStorage, pods[i].VolumeStats = nil, nil
		pods[i].Containers = slices.Clone(pods[i].Containers)
		for j := range pods[i].Containers {
			pods[i].Containers[j].Logs = nil
		}
	}
	got, err := json.MarshalIndent(struct {
		Runtime *statsapi.RuntimeStats `json:"runtime,omitempty"`
		Pods    []statsapi.PodStats    `json:"pods"`
	}{s.Node.Runtime, pods}, "", " ")
	require.NoError(t, err)
	summaryFile := filepath.Join(dir, sc.ExpectedSummary)
	if mayUpdate {
		require.NoError(t, os.WriteFile(summaryFile, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(summaryFile)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "%s", summaryFile)
}

func readScenario(t *testing.T, dir string) scenario {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
	require.NoError(t, err)
	var sc scenario
	require.NoError(t, yaml.UnmarshalStrict(raw, &sc), "%s/scenario.yaml", dir)
	return sc
}

// scenarioConfig lays overlay over the default configuration, as the collector
// would, and validates the result.
func scenarioConfig(t *testing.T, overlay map[string]any) *Config {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NodeName = "node-a"
	require.NoError(t, confmap.NewFromStringMap(overlay).Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	return cfg
}

func convertSummaryScenario(t *testing.T, dir string, sc scenario, cfg *Config) pmetric.Metrics {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, sc.Summary))
	require.NoError(t, err)
	var s statsapi.Summary
	require.NoError(t, json.Unmarshal(raw, &s))
	require.False(t, sc.Time.IsZero(), "a Summary scenario needs its scrape time")
	a := &summary.Assembly{Summary: &s, Time: sc.Time, Containers: make(cri.ContainerInfos, len(s.Pods))}
	for _, c := range sc.Containers {
		i, j := containerIndex(s.Pods, c.PodUID, c.Name)
		require.True(t, i >= 0, "scenario container %s/%s is not in the Summary", c.PodUID, c.Name)
		if len(a.Containers[i]) == 0 {
			a.Containers[i] = make([]cri.ContainerInfo, len(s.Pods[i].Containers))
		}
		a.Containers[i][j] = cri.ContainerInfo{ID: c.ID, Attempt: c.Attempt}
	}
	conv := newConverter(cfg.MetricsBuilderConfig, cfg.GroupsConfig, receivertest.NewNopSettings(metadata.Type))
	return conv.convert(a, time.Time{})
}

// containerIndex finds container name of the pod with uid: its pod's index
// and its own; -1, -1 when absent.
func containerIndex(pods []statsapi.PodStats, uid, name string) (int, int) {
	for i := range pods {
		for j := range pods[i].Containers {
			if pods[i].PodRef.UID == uid && pods[i].Containers[j].Name == name {
				return i, j
			}
		}
	}
	return -1, -1
}

func scrapeCRIScenario(t *testing.T, dir string, sc scenario, cfg *Config, mode crifake.Mode) (pmetric.Metrics, *statsapi.Summary) {
	t.Helper()
	srv := crifake.New(t, crifake.WithMode(mode))
	srv.SetState(readCRIState(t, filepath.Join(dir, sc.CRI)))
	for rpc, code := range sc.CRIErrors {
		var c codes.Code
		require.NoError(t, c.UnmarshalJSON([]byte(`"`+code+`"`)), "cri_errors %s", rpc)
		srv.SetError(rpc, status.Error(c, "injected by the scenario"))
	}
	cfg.CRI.Endpoint = srv.Endpoint
	// Only the runtime feeds a CRI scenario: this machine's cgroups are not
	// read, and the host's directories are empty ones. The node group and the
	// filesystem metrics, measured on this machine, are left out below.
	cfg.Mode = "cri"
	cfg.Cgroups.Enabled = false
	cfg.Host.KubeletRootDir = t.TempDir()
	cfg.CRI.PodLogsDir = t.TempDir()
	if _, set := sc.Config["metric_groups"]; !set {
		cfg.MetricGroups = []MetricGroup{PodMetricGroup, ContainerMetricGroup}
	}
	disableHostFilesystemMetrics(&cfg.Metrics)
	s := newStatsScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	var clock *fakeclock.Clock
	if !sc.Time.IsZero() {
		clock = fakeclock.New(sc.Time)
		s.now = clock.Now
	}
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(t.Context())) })

	md, err := s.scrape(t.Context())
	if sc.CRINext != "" {
		require.NoError(t, err, "the first scrape of a two-scrape scenario")
		srv.SetState(readCRIState(t, filepath.Join(dir, sc.CRINext)))
		require.NotNil(t, clock, "%s: cri_next needs time and next_time", dir)
		require.True(t, sc.NextTime.After(sc.Time), "%s: next_time must follow time", dir)
		clock.Set(sc.NextTime)
		md, err = s.scrape(t.Context())
	}
	if sc.PartialError {
		require.Error(t, err)
		require.True(t, scrapererror.IsPartialScrapeError(err), "%v", err)
	} else {
		require.NoError(t, err)
	}
	for rpc, n := range sc.ExpectCalls {
		assert.Equal(t, n, srv.Calls(rpc), "calls of %s", rpc)
	}
	assert.Zero(t, srv.RefusedConnections(), "connections the runtime's socket refused")
	return md, s.store.Latest().Assembly.Summary
}

// criState is cri.json: the CRI messages in their protobuf JSON form.
type criState struct {
	Sandboxes       []json.RawMessage `json:"sandboxes"`
	Containers      []json.RawMessage `json:"containers"`
	ContainerStats  []json.RawMessage `json:"containerStats"`
	PodSandboxStats []json.RawMessage `json:"podSandboxStats"`
	ImageFs         json.RawMessage   `json:"imageFs"`
	// SandboxStatuses answer PodSandboxStatus (a sandbox without one is in
	// its own network namespace).
	SandboxStatuses []json.RawMessage `json:"sandboxStatuses"`
	// PodSandboxMetrics and MetricDescriptors answer CRI-O's metrics RPCs;
	// absent, they are Unimplemented.
	PodSandboxMetrics []json.RawMessage `json:"podSandboxMetrics"`
	MetricDescriptors []json.RawMessage `json:"metricDescriptors"`
}

func readCRIState(t *testing.T, path string) crifake.State {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var in criState
	require.NoError(t, json.Unmarshal(raw, &in), path)
	var st crifake.State
	st.Sandboxes = decodeAll[runtimeapi.PodSandbox](t, in.Sandboxes)
	st.Containers = decodeAll[runtimeapi.Container](t, in.Containers)
	st.ContainerStats = decodeAll[runtimeapi.ContainerStats](t, in.ContainerStats)
	st.PodSandboxStats = decodeAll[runtimeapi.PodSandboxStats](t, in.PodSandboxStats)
	st.SandboxStatuses = decodeAll[runtimeapi.PodSandboxStatus](t, in.SandboxStatuses)
	st.PodSandboxMetrics = decodeAll[runtimeapi.PodSandboxMetrics](t, in.PodSandboxMetrics)
	st.MetricDescriptors = decodeAll[runtimeapi.MetricDescriptor](t, in.MetricDescriptors)
	if len(in.ImageFs) > 0 {
		st.ImageFs = &runtimeapi.ImageFsInfoResponse{}
		require.NoError(t, protojson.Unmarshal(in.ImageFs, st.ImageFs))
	}
	return st
}

func decodeAll[T any, P interface {
	*T
	proto.Message
}](t *testing.T, raws []json.RawMessage) []P {
	t.Helper()
	if raws == nil {
		return nil // absent: for podSandboxStats, a runtime without ListPodSandboxStats
	}
	out := make([]P, 0, len(raws))
	for _, raw := range raws {
		m := P(new(T))
		require.NoError(t, protojson.Unmarshal(raw, m), "%s", raw)
		out = append(out, m)
	}
	return out
}

// requireTimestamps checks what the golden comparison ignores: one timestamp
// for every data point of a scrape, and no zero start timestamp.
func requireTimestamps(t *testing.T, md pmetric.Metrics) {
	t.Helper()
	var scrapeTS uint64
	forEachNumberPoint(md, func(name string, dp pmetric.NumberDataPoint) {
		if scrapeTS == 0 {
			scrapeTS = uint64(dp.Timestamp())
		}
		require.Equal(t, scrapeTS, uint64(dp.Timestamp()), "%s: timestamp", name)
		require.NotZero(t, dp.StartTimestamp(), "%s: start timestamp", name)
		require.LessOrEqual(t, dp.StartTimestamp(), dp.Timestamp(), "%s: start after the scrape", name)
	})
}

// TestEveryMetricIsProduced converts the full Summary of all_groups with every
// metric enabled: each metric of the catalogue must appear, so none is declared
// without a Summary field feeding it.
func TestEveryMetricIsProduced(t *testing.T) {
	sc := readScenario(t, filepath.Join(scenariosDir, "all_metrics_enabled"))
	cfg := scenarioConfig(t, sc.Config)
	md := convertSummaryScenario(t, filepath.Join(scenariosDir, "all_metrics_enabled"), sc, cfg)

	produced := map[string]bool{}
	forEachNumberPoint(md, func(name string, _ pmetric.NumberDataPoint) { produced[name] = true })
	declared := declaredMetrics(t)
	require.Len(t, declared, 131, "the catalogue changed: update this count and the scenarios")
	for _, name := range declared {
		assert.True(t, produced[name], "%s is declared but never produced", name)
	}
	assert.Len(t, produced, len(declared))
}

// declaredMetrics lists the metric names of the generated configuration.
func declaredMetrics(t *testing.T) []string {
	t.Helper()
	typ := reflect.TypeOf(metadata.MetricsConfig{})
	names := make([]string, 0, typ.NumField())
	for i := range typ.NumField() {
		if tag := typ.Field(i).Tag.Get("mapstructure"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}
