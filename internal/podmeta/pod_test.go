package podmeta

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statssummary/statssummary/internal/summary"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// apiPod is a pod as the API server serves it, with more than podmeta keeps.
func apiPod() *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "shop", UID: "uid-1", ResourceVersion: "42",
			Labels:        map[string]string{"app": "web", "tier": "front", "pod-template-hash": "abc"},
			Annotations:   map[string]string{"big": "annotation"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-a",
			InitContainers: []corev1.Container{
				{Name: "setup", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}},
				{Name: "proxy", Image: "envoy", RestartPolicy: &always, Resources: corev1.ResourceRequirements{
					Requests: rl("cpu", "50m", "memory", "64Mi"), Limits: rl("memory", "128Mi")}},
			},
			Containers: []corev1.Container{
				{Name: "app", Image: "web", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}, Resources: corev1.ResourceRequirements{
					Requests: rl("cpu", "1.5", "memory", "1G", "ephemeral-storage", "1Gi"),
					Limits:   rl("cpu", "2", "memory", "1536Mi", "hugepages-2Mi", "2Mi")}},
				{Name: "idle", Image: "pause"},
			},
			Resources: &corev1.ResourceRequirements{Requests: rl("cpu", "2", "memory", "2Gi"), Limits: rl("memory", "4Gi")},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.2.3"},
	}
}

func i64(v int64) *int64 { return &v }

// wantPod is apiPod read with labels app and absent: the values written out
// by hand from the spec above.
func wantPod() *Pod {
	return &Pod{
		UID: "uid-1", Namespace: "shop", Name: "web-0",
		Labels: map[string]string{"app": "web"},
		Containers: map[string]Container{
			"setup": {Init: true, Resources: Resources{Requests: Quantities{MilliCPU: i64(100)}}},
			"proxy": {Init: true, Sidecar: true, Resources: Resources{
				Requests: Quantities{MilliCPU: i64(50), MemoryBytes: i64(64 << 20)},
				Limits:   Quantities{MemoryBytes: i64(128 << 20)}}},
			"app": {Resources: Resources{
				Requests: Quantities{MilliCPU: i64(1500), MemoryBytes: i64(1_000_000_000)},
				Limits:   Quantities{MilliCPU: i64(2000), MemoryBytes: i64(1536 << 20)}}},
			"idle": {},
		},
		Resources: &Resources{
			Requests: Quantities{MilliCPU: i64(2000), MemoryBytes: i64(2 << 30)},
			Limits:   Quantities{MemoryBytes: i64(4 << 30)},
		},
		Claims: map[string]Claim{
			"data":    {Name: "data-web-0"},
			"scratch": {Name: "web-0-scratch", Ephemeral: true},
		},
		// The assembler's view: app containers only, in spec order, CPU in
		// cores, 0 for unset.
		spec: summary.PodInfo{Containers: []summary.ContainerSpec{
			{Name: "app", Resources: summary.Resources{CPURequest: 1.5, CPULimit: 2, MemoryRequest: 1_000_000_000, MemoryLimit: 1536 << 20}},
			{Name: "idle"},
		}},
	}
}

var allowPod = cmp.AllowUnexported(Pod{})

func TestPodFromAPI(t *testing.T) {
	got := podFromAPI(apiPod(), []string{"app", "absent"})
	if d := cmp.Diff(wantPod(), got, allowPod); d != "" {
		t.Fatalf("pod (-want +got):\n%s", d)
	}
}

// The informer stores trimmed pods: what is built from one must be what is
// built from the full pod, and the rest must be gone.
func TestTrimPodKeepsWhatPodFromAPIReads(t *testing.T) {
	full := apiPod()
	obj, err := trimPod(full)
	if err != nil {
		t.Fatal(err)
	}
	trimmed := obj.(*corev1.Pod)
	if d := cmp.Diff(wantPod(), podFromAPI(trimmed, []string{"app", "absent"}), allowPod); d != "" {
		t.Fatalf("pod from the trimmed object (-want +got):\n%s", d)
	}
	if trimmed.ResourceVersion != "42" || trimmed.Spec.NodeName != "node-a" {
		t.Errorf("resource version %q, node %q: the informer needs both", trimmed.ResourceVersion, trimmed.Spec.NodeName)
	}
	if trimmed.Annotations != nil || trimmed.ManagedFields != nil || trimmed.Status.Phase != "" ||
		trimmed.Spec.Containers[0].Image != "" || trimmed.Spec.Containers[0].Env != nil || len(trimmed.Spec.Volumes) != 2 {
		t.Errorf("trimmed pod keeps what is never read: %+v", trimmed)
	}
	if _, ok := trimmed.Spec.Containers[0].Resources.Requests["ephemeral-storage"]; ok {
		t.Error("trimmed requests keep ephemeral-storage")
	}
	if _, ok := full.Spec.Containers[0].Resources.Requests["ephemeral-storage"]; !ok {
		t.Error("trimming changed the informer's input")
	}
	// A tombstone passes through.
	if out, _ := trimPod("not a pod"); out != "not a pod" {
		t.Errorf("trimPod(non-pod) = %v", out)
	}
}

func TestPodWithoutResourcesOrLabels(t *testing.T) {
	in := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", UID: "u"},
		Spec: corev1.PodSpec{Resources: &corev1.ResourceRequirements{}}}
	got := podFromAPI(in, []string{"app"})
	want := &Pod{UID: "u", Namespace: "n", Name: "p"}
	if d := cmp.Diff(want, got, allowPod); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestVolumeForPersistentVolume(t *testing.T) {
	p := *wantPod()
	p.Claims = map[string]Claim{
		"data":    {Name: "data-web-0", VolumeName: "pvc-5a1f"},
		"scratch": {Name: "web-0-scratch", Ephemeral: true},
	}
	name, c, ok := p.VolumeForPersistentVolume("pvc-5a1f")
	if !ok || name != "data" || c.Name != "data-web-0" {
		t.Errorf("pvc-5a1f: %q %+v %v, want data, data-web-0", name, c, ok)
	}
	for _, pv := range []string{"", "pvc-other", "data"} {
		if name, _, ok := p.VolumeForPersistentVolume(pv); ok {
			t.Errorf("%q matched volume %q", pv, name)
		}
	}
}
