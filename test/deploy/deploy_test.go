// Package deploy tests the manifests in the repository's deploy/ — a
// DaemonSet, its ServiceAccount and the ConfigMap with the collector's
// configuration, rendered by `make manifests` from the Helm chart in
// deploy/helm/statssummary (hack/helm checks that they are what the chart
// renders): it decodes them strictly into the Kubernetes API types and loads
// the collector configuration with the real component factories. It lives in
// the test module so that the collector and Kubernetes API modules it needs
// stay out of the product's go.mod.
package deploy

import (
	"context"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/internal/cri"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

// deployDir is the repository's deploy/ folder, seen from this package.
const deployDir = "../../deploy"

// manifests are the objects of every *.yaml file in deploy/, each decoded strictly
// (an unknown or duplicated field fails) into its API type.
type manifests struct {
	daemonSets      []*appsv1.DaemonSet
	configMaps      []*corev1.ConfigMap
	serviceAccounts []*corev1.ServiceAccount
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var m manifests
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), "%s document %d", f, i)
			var obj any
			switch tm.APIVersion + "/" + tm.Kind {
			case "apps/v1/DaemonSet":
				ds := &appsv1.DaemonSet{}
				m.daemonSets, obj = append(m.daemonSets, ds), ds
			case "v1/ConfigMap":
				cm := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, cm), cm
			case "v1/ServiceAccount":
				sa := &corev1.ServiceAccount{}
				m.serviceAccounts, obj = append(m.serviceAccounts, sa), sa
			default:
				t.Fatalf("%s document %d: unexpected kind %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s document %d (%s)", f, i, tm.Kind)
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestManifests(t *testing.T) {
	m := load(t)
	require.Len(t, m.daemonSets, 1)
	require.Len(t, m.configMaps, 1)
	require.Len(t, m.serviceAccounts, 1)
	ds, cm, sa := m.daemonSets[0], m.configMaps[0], m.serviceAccounts[0]

	t.Run("one namespace", func(t *testing.T) {
		assert.NotEmpty(t, ds.Namespace)
		assert.Equal(t, ds.Namespace, cm.Namespace)
		assert.Equal(t, ds.Namespace, sa.Namespace)
	})

	spec := ds.Spec.Template.Spec
	require.Len(t, spec.Containers, 1)
	ctr := spec.Containers[0]

	t.Run("selector matches the pod template", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		require.NoError(t, err)
		assert.False(t, sel.Empty())
		assert.True(t, sel.Matches(labels.Set(ds.Spec.Template.Labels)))
	})

	t.Run("no API access", func(t *testing.T) {
		assert.Equal(t, sa.Name, spec.ServiceAccountName)
		require.NotNil(t, spec.AutomountServiceAccountToken)
		assert.False(t, *spec.AutomountServiceAccountToken)
	})

	t.Run("the node's network namespace", func(t *testing.T) {
		assert.True(t, spec.HostNetwork, "node network stats must be the node's")
		assert.Equal(t, corev1.DNSClusterFirstWithHostNet, spec.DNSPolicy, "the gateway's service name resolves with host networking")
	})

	t.Run("node name from the downward API", func(t *testing.T) {
		env := envByName(ctr.Env)
		nodeName, ok := env["K8S_NODE_NAME"]
		require.True(t, ok)
		require.NotNil(t, nodeName.ValueFrom)
		require.NotNil(t, nodeName.ValueFrom.FieldRef)
		assert.Equal(t, "spec.nodeName", nodeName.ValueFrom.FieldRef.FieldPath)
	})

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}

	t.Run("host paths read-only", func(t *testing.T) {
		// The CRI socket's directory, containerd's snapshotter directory
		// (image and container fs capacity), the cgroup tree, the kubelet's
		// pods directory (volumes, etc-hosts, the node fs) and the pod logs.
		want := map[string]bool{
			"/run/containerd": false, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs": false,
			"/sys/fs/cgroup": false, "/var/lib/kubelet/pods": false, "/var/log/pods": false,
		}
		for _, vm := range ctr.VolumeMounts {
			assert.True(t, vm.ReadOnly, "volume mount %s must be read-only", vm.Name)
			v, ok := volumes[vm.Name]
			require.True(t, ok, "volume mount %s has no volume", vm.Name)
			if v.HostPath == nil {
				continue
			}
			_, expected := want[v.HostPath.Path]
			assert.True(t, expected, "unexpected host path %s", v.HostPath.Path)
			assert.Equal(t, v.HostPath.Path, vm.MountPath, "host path %s mounted where the receiver expects it", v.HostPath.Path)
			want[v.HostPath.Path] = true
		}
		for p, mounted := range want {
			assert.True(t, mounted, "host path %s not mounted", p)
		}
		require.NotNil(t, ctr.SecurityContext)
		require.NotNil(t, ctr.SecurityContext.ReadOnlyRootFilesystem)
		assert.True(t, *ctr.SecurityContext.ReadOnlyRootFilesystem)
		require.NotNil(t, ctr.SecurityContext.AllowPrivilegeEscalation)
		assert.False(t, *ctr.SecurityContext.AllowPrivilegeEscalation)
	})

	t.Run("least privilege", func(t *testing.T) {
		assert.False(t, spec.HostPID, "hostPID would let a root process signal the host's root processes")
		require.NotNil(t, spec.SecurityContext)
		require.NotNil(t, spec.SecurityContext.SeccompProfile)
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type)
		caps := ctr.SecurityContext.Capabilities
		require.NotNil(t, caps)
		assert.Equal(t, []corev1.Capability{"ALL"}, caps.Drop)
		assert.Equal(t, []corev1.Capability{"DAC_READ_SEARCH"}, caps.Add, "only reading and searching other users' volume directories")
		assert.True(t, ctr.SecurityContext.Privileged == nil || !*ctr.SecurityContext.Privileged, "not privileged")
	})

	t.Run("requests and a memory limit", func(t *testing.T) {
		assert.False(t, ctr.Resources.Requests.Cpu().IsZero())
		assert.False(t, ctr.Resources.Requests.Memory().IsZero())
		assert.False(t, ctr.Resources.Limits.Memory().IsZero())
		assert.True(t, ctr.Resources.Limits.Cpu().IsZero(), "no CPU limit: a throttled scrape is a late one")
	})

	t.Run("collector config from the ConfigMap", func(t *testing.T) {
		configPath := flagValue(ctr.Args, "--config")
		require.NotEmpty(t, configPath, "container args %v have no --config", ctr.Args)
		var mountPath string
		for _, vm := range ctr.VolumeMounts {
			if v := volumes[vm.Name]; v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
				mountPath = vm.MountPath
			}
		}
		require.NotEmpty(t, mountPath, "ConfigMap %s is not mounted", cm.Name)
		require.Equal(t, mountPath, path.Dir(configPath))
		data, ok := cm.Data[path.Base(configPath)]
		require.True(t, ok, "ConfigMap %s has no key %s", cm.Name, path.Base(configPath))

		// The environment the DaemonSet gives, as the collector would see it.
		for name, e := range envByName(ctr.Env) {
			if e.ValueFrom != nil {
				t.Setenv(name, "node-from-downward-api")
			} else {
				t.Setenv(name, e.Value)
			}
		}
		cfg := loadCollectorConfig(t, data)
		rcfg, ok := cfg.Receivers[component.MustNewID("stats_summary")].(*statssummaryreceiver.Config)
		require.True(t, ok, "stats_summary receiver configured")
		assert.Equal(t, "node-from-downward-api", rcfg.NodeName)
		endpoint, err := cri.NormalizeEndpoint(rcfg.CRI.Endpoint)
		require.NoError(t, err)
		socketDir := path.Dir(cri.SocketPath(endpoint))
		assert.True(t, mountedReadOnly(ctr, socketDir), "CRI socket directory %s is mounted into the container", socketDir)
		podsDir := path.Join(rcfg.Host.KubeletRootDir, "pods")
		assert.True(t, mountedReadOnly(ctr, podsDir), "the kubelet's pods directory %s is mounted into the container", podsDir)
		assert.True(t, mountedReadOnly(ctr, rcfg.CRI.PodLogsDir), "pod logs %s are mounted into the container", rcfg.CRI.PodLogsDir)
		require.True(t, rcfg.Server.HasValue(), "the JSON endpoint is on")
		host, _, err := net.SplitHostPort(rcfg.Server.Get().NetAddr.Endpoint)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host, "the JSON endpoint listens on the node's loopback only")

		require.Contains(t, cfg.Exporters, component.MustNewID("otlp"))
		p, ok := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalMetrics)]
		require.True(t, ok)
		require.NotEmpty(t, p.Processors)
		assert.Equal(t, component.MustNewID("memory_limiter"), p.Processors[0], "memory_limiter comes first")

		// The probes ask the health_check extension where it listens.
		require.Contains(t, cfg.Service.Extensions, component.MustNewID("health_check"))
		hc, ok := cfg.Extensions[component.MustNewID("health_check")].(*anyConfig)
		require.True(t, ok)
		hcHost, hcPort, err := net.SplitHostPort((*hc)["endpoint"].(string))
		require.NoError(t, err)
		for name, probe := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
			require.NotNil(t, probe, "%s probe", name)
			require.NotNil(t, probe.HTTPGet, "%s probe", name)
			assert.Equal(t, hcHost, probe.HTTPGet.Host, "%s probe host", name)
			assert.Equal(t, hcPort, probe.HTTPGet.Port.String(), "%s probe port", name)
		}
	})
}

// anyConfig takes any extension settings: the contrib extensions
// (health_check, pprof) are not dependencies of this module. Their settings
// are checked by the real collector binary, which runs this configuration in
// make test-daemonset.
type anyConfig map[string]any

func (c *anyConfig) Unmarshal(conf *confmap.Conf) error {
	*c = conf.ToStringMap()
	return nil
}

func anyExtension(name string) extension.Factory {
	return extension.NewFactory(component.MustNewType(name),
		func() component.Config { return &anyConfig{} },
		func(context.Context, extension.Settings, component.Config) (extension.Extension, error) {
			return nil, nil
		}, component.StabilityLevelStable)
}

func loadCollectorConfig(t *testing.T, data string) *otelcol.Config {
	t.Helper()
	factories, err := otelcoltest.NopFactories()
	require.NoError(t, err)
	factories.Receivers, err = otelcol.MakeFactoryMap(statssummaryreceiver.NewFactory())
	require.NoError(t, err)
	factories.Processors, err = otelcol.MakeFactoryMap(memorylimiterprocessor.NewFactory(), batchprocessor.NewFactory())
	require.NoError(t, err)
	factories.Extensions, err = otelcol.MakeFactoryMap(anyExtension("health_check"), anyExtension("pprof"))
	require.NoError(t, err)
	factories.Exporters, err = otelcol.MakeFactoryMap(otlpexporter.NewFactory())
	require.NoError(t, err)
	// The collector's own telemetry section (its metrics on the node's
	// loopback, on a port of the chart's) needs the real telemetry factory,
	// whose dependencies (cloud resource detectors) stay out of this module:
	// the collector binary loads it in make test-daemonset. Here it is checked
	// to listen on loopback only, then left out.
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(data), &raw))
	service, _ := raw["service"].(map[string]any)
	require.NotNil(t, service, "config has a service section")
	telemetry, err := yaml.Marshal(service["telemetry"])
	require.NoError(t, err)
	assert.Contains(t, string(telemetry), "host: 127.0.0.1", "the collector's own metrics listen on the node's loopback")
	delete(service, "telemetry")
	stripped, err := yaml.Marshal(raw)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(file, stripped, 0o600))
	cfg, err := otelcoltest.LoadConfigAndValidate(file, factories)
	require.NoError(t, err)
	return cfg
}

func mountedReadOnly(ctr corev1.Container, dir string) bool {
	for _, vm := range ctr.VolumeMounts {
		if vm.MountPath == dir && vm.ReadOnly {
			return true
		}
	}
	return false
}

func envByName(env []corev1.EnvVar) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range env {
		out[e.Name] = e
	}
	return out
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// TestGatewayExample: the k8sattributes gateway example is YAML whose metrics
// pipeline runs k8sattributes after memory_limiter, associating pods by the
// k8s.pod.uid resource attribute the receiver sets. No collector here has the
// processor (see the file's header), so this is as far as it is checked.
func TestGatewayExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "examples", "gateway-k8sattributes.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Processors map[string]struct {
			PodAssociation []struct {
				Sources []struct {
					From string `json:"from"`
					Name string `json:"name"`
				} `json:"sources"`
			} `json:"pod_association"`
		} `json:"processors"`
		Service struct {
			Pipelines map[string]struct {
				Receivers, Processors, Exporters []string
			} `json:"pipelines"`
		} `json:"service"`
		Receivers, Exporters map[string]any
	}
	require.NoError(t, yaml.Unmarshal(data, &cfg))
	p, ok := cfg.Service.Pipelines["metrics"]
	require.True(t, ok)
	assert.Equal(t, []string{"memory_limiter", "k8sattributes", "batch"}, p.Processors)
	for _, r := range p.Receivers {
		assert.Contains(t, cfg.Receivers, r)
	}
	for _, e := range p.Exporters {
		assert.Contains(t, cfg.Exporters, e)
	}
	k8s := cfg.Processors["k8sattributes"]
	require.Len(t, k8s.PodAssociation, 1)
	require.Len(t, k8s.PodAssociation[0].Sources, 1)
	assert.Equal(t, "resource_attribute", k8s.PodAssociation[0].Sources[0].From)
	assert.Equal(t, "k8s.pod.uid", k8s.PodAssociation[0].Sources[0].Name)
}
