package kubeletenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// kubeletConfig is the configuration of a standalone kubelet on the
// instance's containerd (the settings of notes/real-nodes-here.md), kept to
// the instance's own directories, cgroup root and ports.
func kubeletConfig(p paths, c *containerdenv.Env, cgroupRoot string, port, readOnlyPort int32, volumeStats time.Duration) *kubeletconfig.KubeletConfiguration {
	return &kubeletconfig.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		// Kubelet 1.35+ refuses cgroup v1 unless told; on v2 this is moot.
		FailCgroupV1:             ptr.To(false),
		CgroupDriver:             string(c.CgroupDriver),
		CgroupsPerQOS:            ptr.To(true),
		CgroupRoot:               cgroupRoot,
		FailSwapOn:               ptr.To(false),
		ContainerRuntimeEndpoint: c.Endpoint,
		StaticPodPath:            p.manifests(),
		FileCheckFrequency:       metav1.Duration{Duration: 5 * time.Second},
		PodLogsDir:               p.podLogs(),
		VolumePluginDir:          p.volumePlugins(),
		Address:                  "127.0.0.1",
		Port:                     port,
		ReadOnlyPort:             readOnlyPort,
		HealthzPort:              ptr.To[int32](0), // off: /pods on the read-only port says more
		HealthzBindAddress:       "127.0.0.1",
		Authentication: kubeletconfig.KubeletAuthentication{
			Anonymous: kubeletconfig.KubeletAnonymousAuthentication{Enabled: ptr.To(true)},
			Webhook:   kubeletconfig.KubeletWebhookAuthentication{Enabled: ptr.To(false)},
		},
		Authorization:          kubeletconfig.KubeletAuthorization{Mode: kubeletconfig.KubeletAuthorizationModeAlwaysAllow},
		MakeIPTablesUtilChains: ptr.To(false),
		ResolverConfig:         ptr.To(""),
		// Image garbage collection off: the instance's images are imported
		// locally and cannot be pulled again.
		ImageGCHighThresholdPercent: ptr.To[int32](100),
		ImageGCLowThresholdPercent:  ptr.To[int32](99),
		VolumeStatsAggPeriod:        metav1.Duration{Duration: volumeStats},
		// evictionHard and enforceNodeAllocatable are written empty by
		// writeConfig: the type drops empty values, which the kubelet would
		// then default.
	}
}

// explicitlyEmpty are the settings written as empty values: no eviction
// thresholds (the shared machine's disk must not evict the pods) and no node
// allocatable enforcement. Left out, the kubelet would default them.
var explicitlyEmpty = map[string]any{
	"evictionHard":           map[string]any{},
	"enforceNodeAllocatable": []any{},
}

func writeConfig(path string, cfg *kubeletconfig.KubeletConfiguration) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode kubelet config: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("encode kubelet config: %w", err)
	}
	for k, v := range explicitlyEmpty {
		m[k] = v
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode kubelet config: %w", err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return fmt.Errorf("write kubelet config: %w", err)
	}
	return nil
}

// writeManifests writes each pod as a static pod manifest.
func writeManifests(dir string, pods []corev1.Pod) error {
	seen := map[string]bool{}
	for _, pod := range pods {
		pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
		if pod.Namespace == "" {
			pod.Namespace = metav1.NamespaceDefault
		}
		if pod.Name == "" || seen[pod.Namespace+"/"+pod.Name] {
			return fmt.Errorf("static pod %q: want a unique, non-empty name", pod.Name)
		}
		seen[pod.Namespace+"/"+pod.Name] = true
		b, err := yaml.Marshal(&pod)
		if err != nil {
			return fmt.Errorf("encode static pod %s: %w", pod.Name, err)
		}
		path := filepath.Join(dir, pod.Namespace+"_"+pod.Name+".yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("write static pod %s: %w", pod.Name, err)
		}
	}
	return nil
}
