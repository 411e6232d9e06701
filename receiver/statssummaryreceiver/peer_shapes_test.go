package statssummaryreceiver

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// The contrib kubeletstats receiver whose names this receiver keeps, at the
// release whose own metadata.yaml TestMetricShapesEqualKubeletstats reads. The
// module is fetched into the module cache by the test itself; it is never a
// dependency of this module.
const (
	peerModule  = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver"
	peerVersion = "v0.164.1"
)

// peerMetricsNotYetDeclared are the kubeletstats metrics this receiver does
// not declare yet: the utilization metrics, which need container limits and
// requests and the node's capacity, none of which the Summary carries. Issue 15
// adds them and empties this list. No other kubeletstats metric may be missing.
var peerMetricsNotYetDeclared = []string{
	"k8s.container.cpu.node.utilization",
	"k8s.container.cpu_limit_utilization",
	"k8s.container.cpu_request_utilization",
	"k8s.container.memory.node.utilization",
	"k8s.container.memory_limit_utilization",
	"k8s.container.memory_request_utilization",
	"k8s.pod.cpu.node.utilization",
	"k8s.pod.cpu_limit_utilization",
	"k8s.pod.cpu_request_utilization",
	"k8s.pod.memory.node.utilization",
	"k8s.pod.memory_limit_utilization",
	"k8s.pod.memory_request_utilization",
}

// peerResourceAttributesOnRequest are resource attributes kubeletstats'
// metadata.yaml declares enabled but that it sets only when
// extra_metadata_labels asks for them (internal/kubelet/metadata.go,
// setExtraResources; the list is empty by default, config.go): what a
// kubeletstats user gets by default is no such attribute. The test takes the
// peer's default for these as off.
var peerResourceAttributesOnRequest = map[string]string{
	"container.id":                   "extra_metadata_labels: [container.id], read from the kubelet's /pods",
	"k8s.volume.type":                "extra_metadata_labels: [k8s.volume.type], read from the kubelet's /pods",
	"k8s.persistentvolumeclaim.name": "set with k8s.volume.type, for a volume a claim backs",
}

// resourceAttributeDefaultsDiffer are the resource attributes whose default
// here intentionally differs from kubeletstats' (docs/kubeletstats-differences.md).
var resourceAttributeDefaultsDiffer = map[string]string{
	"k8s.volume.type":                "known on the node without /pods and constant over the volume's life: on, as it splits no series",
	"k8s.persistentvolumeclaim.name": "in the Summary's pvcRef and constant over the volume's life: on, as it splits no series",
}

// mdFile is the part of an mdatagen metadata.yaml the shape test compares.
type mdFile struct {
	ResourceAttributes map[string]mdAttribute `json:"resource_attributes"`
	Attributes         map[string]mdAttribute `json:"attributes"`
	Metrics            map[string]mdMetric    `json:"metrics"`
}

type mdAttribute struct {
	Type         string   `json:"type"`
	Enabled      *bool    `json:"enabled"`
	NameOverride string   `json:"name_override"`
	Enum         []string `json:"enum"`
}

type mdMetric struct {
	Enabled bool   `json:"enabled"`
	Unit    string `json:"unit"`
	Gauge   *struct {
		ValueType string `json:"value_type"`
	} `json:"gauge"`
	Sum *struct {
		ValueType              string `json:"value_type"`
		Monotonic              bool   `json:"monotonic"`
		AggregationTemporality string `json:"aggregation_temporality"`
	} `json:"sum"`
	Attributes []string `json:"attributes"`
}

// metricShape is what a dashboard built on a metric depends on, besides its
// name.
type metricShape struct {
	Unit        string
	Instrument  string // gauge or sum
	ValueType   string // int or double
	Monotonic   bool   // sums only
	Temporality string // sums only: cumulative or delta
	// Attributes are the data point attributes by their emitted names, sorted.
	Attributes []string
	Enabled    bool // by default
}

func readMetadata(t *testing.T, path string) mdFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f mdFile
	require.NoError(t, yaml.Unmarshal(raw, &f), "%s", path)
	require.NotEmpty(t, f.Metrics, "%s declares no metrics", path)
	return f
}

// peerMetadata reads kubeletstats' own metadata.yaml at peerVersion from the
// module cache, downloading the module through the module proxy when the cache
// lacks it. It fails (never skips) when neither has it.
func peerMetadata(t *testing.T) mdFile {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "mod", "download", "-json", peerModule+"@"+peerVersion)
	cmd.Dir = t.TempDir() // outside this module: its go.mod never learns of the peer
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var dl struct{ Dir, Error string }
	jsonErr := json.Unmarshal(out, &dl)
	if runErr != nil || jsonErr != nil || dl.Error != "" || dl.Dir == "" {
		t.Fatalf("this test compares against kubeletstats %s's own metadata.yaml and could not get it: "+
			"`go mod download -json %s@%s` (GOFLAGS=-mod=mod, run outside this module) failed: %v; %s %s "+
			"(the module proxy in GOPROXY must serve the module, or GOMODCACHE already hold it)",
			peerVersion, peerModule, peerVersion, runErr, strings.TrimSpace(dl.Error), strings.TrimSpace(stderr.String()))
	}
	return readMetadata(t, filepath.Join(dl.Dir, "metadata.yaml"))
}

// shape is the declared shape of metric name.
func (f mdFile) shape(t *testing.T, name string) metricShape {
	t.Helper()
	m := f.Metrics[name]
	s := metricShape{Unit: m.Unit, Enabled: m.Enabled}
	switch {
	case m.Gauge != nil && m.Sum == nil:
		s.Instrument, s.ValueType = "gauge", m.Gauge.ValueType
	case m.Sum != nil && m.Gauge == nil:
		s.Instrument, s.ValueType = "sum", m.Sum.ValueType
		s.Monotonic, s.Temporality = m.Sum.Monotonic, m.Sum.AggregationTemporality
	default:
		t.Fatalf("%s: neither a gauge nor a sum", name)
	}
	for _, a := range m.Attributes {
		s.Attributes = append(s.Attributes, f.emittedName(a))
	}
	slices.Sort(s.Attributes)
	return s
}

// emittedName is the name an attribute key of the file is emitted under.
func (f mdFile) emittedName(key string) string {
	if o := f.Attributes[key].NameOverride; o != "" {
		return o
	}
	return key
}

// enum is the declared values of the attribute emitted as name, nil if none.
func (f mdFile) enum(name string) []string {
	for key, a := range f.Attributes {
		if f.emittedName(key) == name {
			return a.Enum
		}
	}
	return nil
}

// emittedShape is the shape of the points converted for one metric name
// (across every resource), with its default enablement.
func emittedShape(ms []pmetric.Metric, enabled bool) metricShape {
	s := metricShape{Unit: ms[0].Unit(), Enabled: enabled}
	attrs := map[string]bool{}
	valueTypes := map[string]bool{}
	for _, m := range ms {
		var dps pmetric.NumberDataPointSlice
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			s.Instrument, dps = "gauge", m.Gauge().DataPoints()
		case pmetric.MetricTypeSum:
			s.Instrument, dps = "sum", m.Sum().DataPoints()
			s.Monotonic = m.Sum().IsMonotonic()
			s.Temporality = strings.ToLower(m.Sum().AggregationTemporality().String())
		default:
			s.Instrument = m.Type().String()
			continue
		}
		for i := 0; i < dps.Len(); i++ {
			valueTypes[strings.ToLower(dps.At(i).ValueType().String())] = true
			for k := range dps.At(i).Attributes().All() {
				attrs[k] = true
			}
		}
	}
	s.ValueType = strings.Join(slices.Sorted(maps.Keys(valueTypes)), "+")
	if len(attrs) > 0 {
		s.Attributes = slices.Sorted(maps.Keys(attrs))
	}
	return s
}

// TestMetricShapesEqualKubeletstats reads kubeletstats' own metadata.yaml and
// requires, for every metric name both receivers declare, the same unit,
// instrument, value type, monotonicity, temporality, data point attribute names
// (and their values) and default enablement — as this receiver declares it
// (metadata.yaml) and as it emits it from the full Summary. Every kubeletstats
// metric must be declared, but for the explicit peerMetricsNotYetDeclared. The
// resource attributes both declare must have the same type and default.
func TestMetricShapesEqualKubeletstats(t *testing.T) {
	peer := peerMetadata(t)
	ours := readMetadata(t, "metadata.yaml")
	require.Len(t, peer.Metrics, 67, "kubeletstats %s declares 67 metrics: was its metadata.yaml read whole?", peerVersion)

	enabled := defaultEnablement(t)
	produced := producedMetrics(t)
	for _, name := range slices.Sorted(maps.Keys(peer.Metrics)) {
		t.Run(name, func(t *testing.T) {
			_, declared := ours.Metrics[name]
			if slices.Contains(peerMetricsNotYetDeclared, name) {
				require.False(t, declared, "declared now: take it off peerMetricsNotYetDeclared")
				return
			}
			require.True(t, declared, "kubeletstats declares it and metadata.yaml does not")
			want := peer.shape(t, name)
			assert.Equal(t, want, ours.shape(t, name), "as metadata.yaml declares it")
			for _, a := range want.Attributes {
				assert.Equal(t, peer.enum(a), ours.enum(a), "values of attribute %s", a)
			}
			ms, ok := produced[name]
			require.True(t, ok, "not produced from the full Summary (scenario all_metrics_enabled)")
			assert.Equal(t, want, emittedShape(ms, enabled[name]), "as emitted, with the generated default")
		})
	}
	for _, name := range peerMetricsNotYetDeclared {
		assert.Contains(t, peer.Metrics, name, "peerMetricsNotYetDeclared lists a name kubeletstats does not declare")
	}

	t.Run("resource attributes", func(t *testing.T) {
		ourDefaults := defaultResourceAttributes(t)
		for name, want := range peer.ResourceAttributes {
			got, declared := ours.ResourceAttributes[name]
			if !assert.True(t, declared, "resource attribute %s: kubeletstats declares it and metadata.yaml does not", name) {
				continue
			}
			assert.Equal(t, want.Type, got.Type, "type of %s", name)
			require.NotNil(t, want.Enabled, "kubeletstats gives no default for %s", name)
			require.NotNil(t, got.Enabled, "metadata.yaml gives no default for %s", name)
			assert.Equal(t, *got.Enabled, ourDefaults[name], "%s: generated default differs from metadata.yaml", name)
			peerDefault := *want.Enabled
			if _, onRequest := peerResourceAttributesOnRequest[name]; onRequest {
				require.True(t, peerDefault, "%s: kubeletstats now declares it off; peerResourceAttributesOnRequest is stale", name)
				peerDefault = false
			}
			if reason, differs := resourceAttributeDefaultsDiffer[name]; differs {
				assert.NotEqual(t, peerDefault, *got.Enabled, "%s is listed as differing (%s) but has kubeletstats' default", name, reason)
				continue
			}
			assert.Equal(t, peerDefault, *got.Enabled, "default of %s", name)
		}
		for _, table := range []map[string]string{peerResourceAttributesOnRequest, resourceAttributeDefaultsDiffer} {
			for name := range table {
				assert.Contains(t, peer.ResourceAttributes, name, "a table lists %s, which kubeletstats does not declare", name)
			}
		}
	})
	t.Run("differences documented", func(t *testing.T) { assertDifferencesDocumented(t, peer, ours) })
}

// differencesDoc lists every intended difference from kubeletstats.
const differencesDoc = "../../docs/kubeletstats-differences.md"

// codeSpan is a `name` in Markdown.
var codeSpan = regexp.MustCompile("`([^`]+)`")

// assertDifferencesDocumented checks that differencesDoc names, as code, every
// metric and resource attribute only this receiver declares, every kubeletstats
// metric not declared yet and every resource attribute whose default differs.
func assertDifferencesDocumented(t *testing.T, peer, ours mdFile) {
	t.Helper()
	raw, err := os.ReadFile(differencesDoc)
	require.NoError(t, err)
	named := map[string]bool{}
	for _, m := range codeSpan.FindAllStringSubmatch(string(raw), -1) {
		named[m[1]] = true
	}
	var want []string
	for name := range ours.Metrics {
		if _, shared := peer.Metrics[name]; !shared {
			want = append(want, name)
		}
	}
	for name := range ours.ResourceAttributes {
		if _, shared := peer.ResourceAttributes[name]; !shared {
			want = append(want, name)
		}
	}
	want = append(want, peerMetricsNotYetDeclared...)
	want = append(want, slices.Collect(maps.Keys(resourceAttributeDefaultsDiffer))...)
	for _, name := range want {
		assert.True(t, named[name], "%s does not name `%s`", differencesDoc, name)
	}
}

// defaultEnablement maps each declared metric to its generated default.
func defaultEnablement(t *testing.T) map[string]bool {
	t.Helper()
	return enabledByTag(metadata.DefaultMetricsConfig())
}

// defaultResourceAttributes maps each declared resource attribute to its
// generated default.
func defaultResourceAttributes(t *testing.T) map[string]bool {
	t.Helper()
	return enabledByTag(metadata.DefaultResourceAttributesConfig())
}

// enabledByTag reads the Enabled field of each mapstructure-tagged field of a
// generated configuration struct.
func enabledByTag(v any) map[string]bool {
	cfg := reflect.ValueOf(v)
	out := make(map[string]bool, cfg.NumField())
	for i := range cfg.NumField() {
		name := cfg.Type().Field(i).Tag.Get("mapstructure")
		if name == "" {
			continue
		}
		out[name] = cfg.Field(i).FieldByName("Enabled").Bool()
	}
	return out
}

// producedMetrics converts the full Summary with every metric enabled and
// returns, per name, the metric of every resource that has it.
func producedMetrics(t *testing.T) map[string][]pmetric.Metric {
	t.Helper()
	dir := filepath.Join(scenariosDir, "all_metrics_enabled")
	sc := readScenario(t, dir)
	md := convertSummaryScenario(t, dir, sc, scenarioConfig(t, sc.Config))
	out := map[string][]pmetric.Metric{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				out[ms.At(k).Name()] = append(out[ms.At(k).Name()], ms.At(k))
			}
		}
	}
	return out
}
