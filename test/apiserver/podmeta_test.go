package apiserver

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver"
)

const nodeName = "node-a"

// Log lines the test counts (internal/podmeta).
const (
	msgRefused       = "pod metadata: the API server refuses the pod watch (it needs get, list and watch on pods: deploy/optional/rbac-podmeta.yaml); scrapes go on without it, retrying with backoff"
	msgClaimsRefused = "pod metadata: resolve_volume_claims needs get on persistentvolumeclaims (the optional rule in deploy/optional/rbac-podmeta.yaml); volumes keep the node's names and no pvcRef, retrying with backoff"
	msgUnreachable   = "pod metadata: API server unreachable; scrapes go on with the metadata already known, retrying with backoff"
	msgReachable     = "pod metadata: API server reachable"
	msgAgain         = "pod metadata: API server reachable again"
)

// The informer retries with backoff up to 30 s (client-go's reflector); a
// change the API server has made is seen well within this.
const settle = 2 * time.Minute

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func i64(v int64) *int64 { return &v }

// webPod has everything the metadata carries: labels (two configured, one
// not), an app container and a sidecar with requests and limits, pod-level
// resources (KEP-2837), a claim, a generic ephemeral volume and an emptyDir.
func webPod() *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	fs := corev1.PersistentVolumeFilesystem
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop",
			Labels: map[string]string{"app": "web", "tier": "front", "team": "checkout"}},
		Spec: corev1.PodSpec{
			NodeName: nodeName,
			InitContainers: []corev1.Container{{Name: "proxy", Image: "busybox", RestartPolicy: &always,
				Resources: corev1.ResourceRequirements{Requests: rl("cpu", "50m", "memory", "32Mi"), Limits: rl("memory", "64Mi")}}},
			Containers: []corev1.Container{{Name: "app", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: rl("cpu", "250m", "memory", "64Mi"), Limits: rl("cpu", "500m", "memory", "128Mi")}}},
			Resources: &corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "256Mi"), Limits: rl("cpu", "2", "memory", "512Mi")},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
					VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: &fs,
						Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "1Gi")}}}}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// apiPod is resized in place and deleted.
func apiPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-0", Namespace: "shop", Labels: map[string]string{"app": "api"}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "srv", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "50Mi"), Limits: rl("cpu", "200m", "memory", "100Mi")}}}},
	}
}

func createPod(t *testing.T, admin kubernetes.Interface, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := admin.CoreV1().Pods(p.Namespace).Create(t.Context(), p, metav1.CreateOptions{})
	must(t, "create pod "+p.Name, err)
	return out
}

// createBoundClaim creates a claim already bound to volume (spec.volumeName;
// no controller runs here to bind it).
func createBoundClaim(t *testing.T, admin kubernetes.Interface, namespace, name, volume string) {
	t.Helper()
	_, err := admin.CoreV1().PersistentVolumeClaims(namespace).Create(t.Context(), &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: rl("storage", "1Gi")},
			VolumeName:  volume,
		},
	}, metav1.CreateOptions{})
	must(t, "create claim "+name, err)
}

// runtimePod is a pod as the runtime knows it.
type runtimePod struct {
	name, uid  string
	containers []runtimeContainer
}

// runtimeContainer is a running container and the memory it uses.
type runtimeContainer struct {
	name       string
	usageBytes uint64
}

// runtimeState is a CRI state with the pods READY and their containers
// RUNNING (stats through ListContainerStats).
func runtimeState(pods ...runtimePod) crifake.State {
	now := time.Now()
	st := crifake.State{ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp: now.UnixNano(), UsedBytes: testkit.U64(1 << 30), InodesUsed: testkit.U64(1000),
	}}}}
	for _, p := range pods {
		sb := "sb-" + p.name
		st.Sandboxes = append(st.Sandboxes, &runtimeapi.PodSandbox{
			Id: sb, Metadata: &runtimeapi.PodSandboxMetadata{Name: p.name, Namespace: "shop", Uid: p.uid},
			State: runtimeapi.PodSandboxState_SANDBOX_READY, CreatedAt: now.Add(-time.Hour).UnixNano(),
		})
		for _, c := range p.containers {
			id := "c-" + p.name + "-" + c.name
			st.Containers = append(st.Containers, &runtimeapi.Container{
				Id: id, PodSandboxId: sb, Metadata: &runtimeapi.ContainerMetadata{Name: c.name},
				State: runtimeapi.ContainerState_CONTAINER_RUNNING, CreatedAt: now.Add(-time.Hour).UnixNano(),
			})
			st.ContainerStats = append(st.ContainerStats, &runtimeapi.ContainerStats{
				Attributes: &runtimeapi.ContainerAttributes{Id: id},
				Cpu:        &runtimeapi.CpuUsage{Timestamp: now.UnixNano(), UsageCoreNanoSeconds: testkit.U64(1e9)},
				Memory:     &runtimeapi.MemoryUsage{Timestamp: now.UnixNano(), WorkingSetBytes: testkit.U64(c.usageBytes), UsageBytes: testkit.U64(c.usageBytes)},
			})
		}
	}
	return st
}

// podVolumeDirs lays out the kubelet's volume directories of web-0: the
// claim's and the ephemeral volume's named after their PersistentVolumes (as
// the kubelet names them; a local volume, walked like any unmounted one), the
// emptyDir after its pod-spec name.
func podVolumeDirs(t *testing.T, root, uid string) {
	t.Helper()
	for _, d := range []string{"kubernetes.io~local-volume/pv-data", "kubernetes.io~local-volume/pv-scratch", "kubernetes.io~empty-dir/cache"} {
		dir := filepath.Join(root, "pods", uid, "volumes", d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "file"), []byte("some data"))
	}
}

// resources are the string attributes of each resource of md.
func resources(md pmetric.Metrics) []map[string]string {
	var out []map[string]string
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		m := map[string]string{}
		rms.At(i).Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
			m[k] = v.AsString()
			return true
		})
		out = append(out, m)
	}
	return out
}

// find returns the resources whose attributes include all of match.
func find(md pmetric.Metrics, match map[string]string) []map[string]string {
	var out []map[string]string
next:
	for _, r := range resources(md) {
		for k, v := range match {
			if r[k] != v {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// labelsOf returns the k8s.pod.label.* attributes of r.
func labelsOf(r map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range r {
		if len(k) > len("k8s.pod.label.") && k[:len("k8s.pod.label.")] == "k8s.pod.label." {
			out[k[len("k8s.pod.label."):]] = v
		}
	}
	return out
}

// memoryRequestUtilization is the value of k8s.container.memory_request_utilization
// (container != "") or k8s.pod.memory_request_utilization of a pod's resource.
func memoryRequestUtilization(md pmetric.Metrics, pod, container string) (float64, bool) {
	metric, match := "k8s.pod.memory_request_utilization", map[string]string{"k8s.pod.name": pod}
	if container != "" {
		metric, match["k8s.container.name"] = "k8s.container.memory_request_utilization", container
	}
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		attrs := rms.At(i).Resource().Attributes()
		ok := true
		for k, v := range match {
			got, has := attrs.Get(k)
			ok = ok && has && got.Str() == v
		}
		if _, has := attrs.Get("k8s.container.name"); container == "" && has {
			ok = false
		}
		if !ok {
			continue
		}
		if v, has := testkit.PointValues(rms.At(i))[metric]; has {
			return v, true
		}
	}
	return 0, false
}

// latest is the last scrape the sink received (empty before the first).
func latest(sink *consumertest.MetricsSink) pmetric.Metrics {
	all := sink.AllMetrics()
	if len(all) == 0 {
		return pmetric.NewMetrics()
	}
	return all[len(all)-1]
}

// everyResourceLabelled reports whether every resource of pod (pod,
// containers, volumes) carries exactly want as k8s.pod.label.*, and there is
// at least one.
func everyResourceLabelled(md pmetric.Metrics, pod string, want map[string]string) bool {
	rs := find(md, map[string]string{"k8s.pod.name": pod})
	if len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if !cmp.Equal(labelsOf(r), want) {
			return false
		}
	}
	return true
}

func TestPodMetadataFromAPIServer(t *testing.T) {
	dir := t.TempDir()
	srv := startAPIServer(t, dir)
	u, err := url.Parse(srv.URL)
	must(t, "parse the server URL", err)
	admin := srv.admin(t)
	ctx := t.Context()

	createNamespaces(t, admin, "shop", "observability")
	_, err = admin.CoreV1().ServiceAccounts("observability").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "statssummary"}}, metav1.CreateOptions{})
	must(t, "create the collector's service account", err)
	sa := srv.serviceAccountCredentials(t, admin, "observability", "statssummary")

	// The node object: pods are bound to it by name, and the resize
	// subresource is refused for a pod whose node does not exist.
	capacity := rl("cpu", "4", "memory", "8Gi", "pods", "110")
	_, err = admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity}}, metav1.CreateOptions{})
	must(t, "create the node", err)

	web := createPod(t, admin, webPod())
	api := createPod(t, admin, apiPod())
	otherSpec := apiPod()
	otherSpec.Name, otherSpec.Spec.NodeName, otherSpec.Labels = "other-0", "node-b", map[string]string{"app": "other"}
	other := createPod(t, admin, otherSpec)
	createBoundClaim(t, admin, "shop", "data-web-0", "pv-data")
	createBoundClaim(t, admin, "shop", "web-0-scratch", "pv-scratch")
	webUID, apiUID := string(web.UID), string(api.UID)

	t.Log("1. the watch as the service account, before any RBAC: refused")
	// 1. The watch with the service account's own token (serviceAccount
	// auth, as in a pod), before any RBAC: refused, said once, naming what
	// it needs; nothing known, nothing blocks.
	core, watchLogs := observer.New(zapcore.InfoLevel)
	cfg := podmeta.Config{Enabled: true, AuthType: podmeta.AuthServiceAccount, Labels: []string{"app", "tier"}, ResolveVolumeClaims: true}
	must(t, "k8s_api config", cfg.Validate())
	inPod := map[string]string{"KUBERNETES_SERVICE_HOST": u.Hostname(), "KUBERNETES_SERVICE_PORT": u.Port()}
	rc, err := cfg.RESTConfig(sa.Dir, func(k string) string { return inPod[k] })
	must(t, "serviceAccount client config", err)
	client, err := corev1client.NewForConfig(rc)
	must(t, "client", err)
	w, err := podmeta.New(podmeta.Options{Client: client, NodeName: nodeName, Labels: cfg.Labels, ResolveClaims: true, Logger: zap.New(core)})
	must(t, "watcher", err)
	w.Start()
	t.Cleanup(w.Stop)
	testkit.Until(t, "the refusal logged", settle, func() bool { return lineCount(watchLogs, msgRefused) > 0 })
	if _, ok := w.Metadata(webUID); ok {
		t.Fatal("web-0 known although the watch is refused")
	}

	t.Log("2. deploy/optional/rbac-podmeta.yaml, pods rule only: the node's pods")
	// 2. deploy/optional/rbac-podmeta.yaml with the pods rule only: the watch
	// recovers and serves the node's pods, and only those.
	role, binding := rbacManifest(t, false)
	applyRBAC(t, admin, role, binding)
	testkit.Until(t, "web-0 and api-0 watched", settle, func() bool {
		_, a := w.Metadata(webUID)
		_, b := w.Metadata(apiUID)
		return a && b
	})
	if _, ok := w.Metadata(string(other.UID)); ok {
		t.Error("other-0 (node-b) is known: the field selector did not select")
	}
	if n := lineCount(watchLogs, msgRefused); n != 1 {
		t.Errorf("refusal logged %d times, want once", n)
	}
	if n := lineCount(watchLogs, msgAgain); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	got, _ := w.Metadata(webUID)
	want := podmeta.Pod{
		UID: webUID, Namespace: "shop", Name: "web-0",
		Labels: map[string]string{"app": "web", "tier": "front"},
		Containers: map[string]podmeta.Container{
			"proxy": {Init: true, Sidecar: true, Resources: podmeta.Resources{
				Requests: podmeta.Quantities{MilliCPU: i64(50), MemoryBytes: i64(32 << 20)},
				Limits:   podmeta.Quantities{MemoryBytes: i64(64 << 20)}}},
			"app": {Resources: podmeta.Resources{
				Requests: podmeta.Quantities{MilliCPU: i64(250), MemoryBytes: i64(64 << 20)},
				Limits:   podmeta.Quantities{MilliCPU: i64(500), MemoryBytes: i64(128 << 20)}}},
		},
		Resources: &podmeta.Resources{
			Requests: podmeta.Quantities{MilliCPU: i64(1000), MemoryBytes: i64(256 << 20)},
			Limits:   podmeta.Quantities{MilliCPU: i64(2000), MemoryBytes: i64(512 << 20)},
		},
		// The pods rule alone does not allow the claim gets: no volumes yet.
		Claims: map[string]podmeta.Claim{
			"data":    {Name: "data-web-0"},
			"scratch": {Name: "web-0-scratch", Ephemeral: true},
		},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(podmeta.Pod{})); d != "" {
		t.Errorf("web-0 from the API server (-want +got):\n%s", d)
	}
	// The same pod as the assembler asks for it (summary.PodMetadata): its
	// app containers, CPU in cores.
	info, _ := w.Pod(webUID)
	wantInfo := summary.PodInfo{Containers: []summary.ContainerSpec{{Name: "app",
		Resources: summary.Resources{CPURequest: 0.25, CPULimit: 0.5, MemoryRequest: 64 << 20, MemoryLimit: 128 << 20}}}}
	if d := cmp.Diff(wantInfo, info); d != "" {
		t.Errorf("web-0 as summary.PodMetadata (-want +got):\n%s", d)
	}
	testkit.Until(t, "the claim get refused and logged", settle, func() bool { return lineCount(watchLogs, msgClaimsRefused) > 0 })

	t.Log("3. the optional persistentvolumeclaims rule: claims resolved")
	// 3. The optional persistentvolumeclaims rule: the claims resolve (after
	// the resolver's backoff), the volumes are named.
	role, binding = rbacManifest(t, true)
	applyRBAC(t, admin, role, binding)
	testkit.Until(t, "web-0's claims resolved", settle, func() bool {
		n1, c1, ok1 := w.VolumeClaim(webUID, "pv-data")
		n2, c2, ok2 := w.VolumeClaim(webUID, "pv-scratch")
		return ok1 && ok2 && n1 == "data" && c1 == "data-web-0" && n2 == "scratch" && c2 == "web-0-scratch"
	})
	if n := lineCount(watchLogs, msgClaimsRefused); n != 1 {
		t.Errorf("claim refusal logged %d times, want once", n)
	}

	t.Log("4. the receiver (kubeConfig auth): labels on resources, volumes named by claim")
	// 4. The receiver, with the service account's kubeconfig (kubeConfig
	// auth) and a runtime holding web-0, api-0 and a pod the API server does
	// not have.
	t.Setenv("KUBECONFIG", sa.Kubeconfig)
	rootDir, logsDir := t.TempDir(), t.TempDir()
	podVolumeDirs(t, rootDir, webUID)
	cri := crifake.New(t)
	ghost := runtimePod{"ghost-0", "00000000-0000-4000-8000-000000000000", []runtimeContainer{{"c", 10 << 20}}}
	pods := []runtimePod{
		{"web-0", webUID, []runtimeContainer{{"proxy", 8 << 20}, {"app", 32 << 20}}},
		{"api-0", apiUID, []runtimeContainer{{"srv", 15 << 20}}},
		ghost,
	}
	cri.SetState(runtimeState(pods...))

	factory := statssummaryreceiver.NewFactory()
	rcfg := factory.CreateDefaultConfig().(*statssummaryreceiver.Config)
	rcfg.CollectionInterval = 500 * time.Millisecond
	rcfg.NodeName = nodeName
	rcfg.CRI.Endpoint = cri.Endpoint
	rcfg.CRI.Timeout = 400 * time.Millisecond
	rcfg.CRI.PodLogsDir = logsDir
	rcfg.Mode = "cri"
	rcfg.Cgroups.Enabled = false
	rcfg.Host.KubeletRootDir = rootDir
	rcfg.Host.VolumeWalkPeriod = 200 * time.Millisecond
	rcfg.MetricGroups = []statssummaryreceiver.MetricGroup{statssummaryreceiver.PodMetricGroup, statssummaryreceiver.ContainerMetricGroup, statssummaryreceiver.VolumeMetricGroup}
	// The memory request is what only the API server knows.
	rcfg.Metrics.K8sContainerMemoryRequestUtilization.Enabled = true
	rcfg.Metrics.K8sPodMemoryRequestUtilization.Enabled = true
	rcfg.K8sAPI = podmeta.Config{Enabled: true, AuthType: podmeta.AuthKubeConfig, Labels: []string{"app", "tier"}, ResolveVolumeClaims: true}
	must(t, "receiver config", rcfg.Validate())
	rcore, recvLogs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(factory.Type())
	set.Logger = zap.New(rcore)
	sink := new(consumertest.MetricsSink)
	recv, err := factory.CreateMetrics(ctx, set, rcfg, sink)
	must(t, "create the receiver", err)
	must(t, "start the receiver", recv.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { must(t, "shut the receiver down", recv.Shutdown(context.WithoutCancel(ctx))) })

	webLabels := map[string]string{"app": "web", "tier": "front"}
	testkit.Until(t, "web-0's resources labelled and its volumes named", settle, func() bool {
		md := latest(sink)
		return everyResourceLabelled(md, "web-0", webLabels) &&
			len(find(md, map[string]string{"k8s.pod.name": "web-0", "k8s.volume.name": "data"})) == 1 &&
			len(find(md, map[string]string{"k8s.pod.name": "web-0", "k8s.volume.name": "scratch"})) == 1
	})
	md := latest(sink)
	for _, tc := range []struct {
		volume string
		want   map[string]string
	}{
		{"data", map[string]string{"k8s.volume.type": "persistentVolumeClaim", "k8s.persistentvolumeclaim.name": "data-web-0"}},
		{"scratch", map[string]string{"k8s.volume.type": "persistentVolumeClaim", "k8s.persistentvolumeclaim.name": "web-0-scratch"}},
		{"cache", map[string]string{"k8s.volume.type": "emptyDir", "k8s.persistentvolumeclaim.name": ""}},
	} {
		rs := find(md, map[string]string{"k8s.pod.name": "web-0", "k8s.volume.name": tc.volume})
		if len(rs) != 1 {
			t.Errorf("volume %s: %d resources", tc.volume, len(rs))
			continue
		}
		for k, v := range tc.want {
			if rs[0][k] != v {
				t.Errorf("volume %s: %s = %q, want %q", tc.volume, k, rs[0][k], v)
			}
		}
	}
	if rs := find(md, map[string]string{"k8s.pod.name": "web-0", "k8s.volume.name": "pv-data"}); len(rs) != 0 {
		t.Errorf("the PV's name is still reported: %v", rs)
	}
	for _, r := range find(md, map[string]string{"k8s.pod.name": "web-0"}) {
		if _, ok := r["k8s.pod.label.team"]; ok {
			t.Errorf("an unconfigured label on %v", r)
		}
	}
	if !everyResourceLabelled(md, "api-0", map[string]string{"app": "api"}) {
		t.Errorf("api-0's resources: %v", find(md, map[string]string{"k8s.pod.name": "api-0"}))
	}
	if !everyResourceLabelled(md, "ghost-0", map[string]string{}) {
		t.Errorf("ghost-0 (not in the API) missing or labelled: %v", find(md, map[string]string{"k8s.pod.name": "ghost-0"}))
	}
	// Memory request utilization, usage ÷ the spec's request, as
	// kubeletstats computes it: the pod's is its containers' usage over
	// the sum of its app containers' requests (a sidecar has none of its
	// own there, as in kubeletstats); a pod the API server does not have
	// has none.
	for _, tc := range []struct {
		pod, container string
		want           float64
	}{
		{"web-0", "app", 32.0 / 64},
		{"web-0", "", (8.0 + 32) / 64},
		{"api-0", "srv", 15.0 / 50},
		{"api-0", "", 15.0 / 50},
	} {
		if got, ok := memoryRequestUtilization(md, tc.pod, tc.container); !ok || got != tc.want {
			t.Errorf("%s/%s memory request utilization = %v (%v), want %v", tc.pod, tc.container, got, ok, tc.want)
		}
	}
	for _, c := range [][2]string{{"web-0", "proxy"}, {"ghost-0", "c"}, {"ghost-0", ""}} {
		if v, ok := memoryRequestUtilization(md, c[0], c[1]); ok {
			t.Errorf("%s/%s: memory request utilization %v without a request", c[0], c[1], v)
		}
	}

	t.Log("5. a label change and an in-place resize")
	// 5. Updates: a label change reaches the metrics; an in-place resize
	// (the resize subresource) reaches the container resources.
	cur, err := admin.CoreV1().Pods("shop").Get(ctx, "web-0", metav1.GetOptions{})
	must(t, "get web-0", err)
	cur.Labels["tier"] = "back"
	_, err = admin.CoreV1().Pods("shop").Update(ctx, cur, metav1.UpdateOptions{})
	must(t, "relabel web-0", err)
	webLabels = map[string]string{"app": "web", "tier": "back"}
	testkit.Until(t, "the new label on web-0's resources", settle, func() bool { return everyResourceLabelled(latest(sink), "web-0", webLabels) })
	if p, _ := w.Metadata(webUID); p.Labels["tier"] != "back" {
		t.Errorf("watcher labels after the change: %v", p.Labels)
	}

	cur, err = admin.CoreV1().Pods("shop").Get(ctx, "api-0", metav1.GetOptions{})
	must(t, "get api-0", err)
	cur.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: rl("cpu", "150m", "memory", "60Mi"), Limits: rl("cpu", "300m", "memory", "120Mi")}
	_, err = admin.CoreV1().Pods("shop").UpdateResize(ctx, "api-0", cur, metav1.UpdateOptions{})
	must(t, "resize api-0 in place", err)
	wantSrv := podmeta.Resources{
		Requests: podmeta.Quantities{MilliCPU: i64(150), MemoryBytes: i64(60 << 20)},
		Limits:   podmeta.Quantities{MilliCPU: i64(300), MemoryBytes: i64(120 << 20)},
	}
	testkit.Until(t, "api-0 resized in the watcher", settle, func() bool {
		p, ok := w.Metadata(apiUID)
		return ok && cmp.Equal(p.Containers["srv"].Resources, wantSrv)
	})
	testkit.Until(t, "api-0's utilization against the new request", settle, func() bool {
		v, ok := memoryRequestUtilization(latest(sink), "api-0", "srv")
		return ok && v == 15.0/60
	})

	t.Log("6. a delete")
	// 6. A delete: the watcher forgets the pod; while the runtime still
	// reports it (the kubelet has not stopped it yet), it has no labels.
	forceDelete(t, admin, "shop", "api-0")
	testkit.Until(t, "api-0 forgotten", settle, func() bool { _, ok := w.Metadata(apiUID); return !ok })
	testkit.Until(t, "api-0 unlabelled", settle, func() bool { return everyResourceLabelled(latest(sink), "api-0", map[string]string{}) })

	t.Log("7. the API server stopped: scrapes go on with what is known")
	// 7. The API server goes away: scrapes go on, with the metadata already
	// known; each loss is said once.
	srv.stop()
	testkit.Until(t, "the loss seen", settle, func() bool { return !w.Reachable() })
	testkit.Until(t, "the loss logged by the receiver", settle, func() bool { return lineCount(recvLogs, msgUnreachable) > 0 })
	seen := len(sink.AllMetrics())
	testkit.Until(t, "five more scrapes", settle, func() bool { return len(sink.AllMetrics()) >= seen+5 })
	md = latest(sink)
	if !everyResourceLabelled(md, "web-0", webLabels) {
		t.Errorf("web-0's labels lost while the API server is down: %v", find(md, map[string]string{"k8s.pod.name": "web-0"}))
	}
	if rs := find(md, map[string]string{"k8s.pod.name": "web-0", "k8s.volume.name": "data", "k8s.persistentvolumeclaim.name": "data-web-0"}); len(rs) != 1 {
		t.Errorf("web-0's claim lost while the API server is down")
	}
	if v, ok := memoryRequestUtilization(md, "web-0", "app"); !ok || v != 0.5 {
		t.Errorf("web-0/app memory request utilization while the API server is down: %v (%v), want 0.5", v, ok)
	}
	if p, ok := w.Metadata(webUID); !ok || p.Resources == nil || *p.Containers["app"].Resources.Requests.MemoryBytes != 64<<20 {
		t.Errorf("web-0 lost from the watcher while the API server is down: %+v %v", p, ok)
	}
	for name, logs := range map[string]*observer.ObservedLogs{"watcher": watchLogs, "receiver": recvLogs} {
		if n := lineCount(logs, msgUnreachable); n != 1 {
			t.Errorf("%s: loss logged %d times, want once", name, n)
		}
	}

	t.Log("8. the API server back: the watch resumes")
	// 8. It comes back (same etcd, same address): the watch resumes, said
	// once, and a pod created now is labelled.
	srv.start()
	testkit.Until(t, "the watch back", settle, w.Reachable)
	late := createPod(t, admin, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "late-0", Namespace: "shop", Labels: map[string]string{"app": "late"}},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	})
	cri.SetState(runtimeState(append(pods, runtimePod{"late-0", string(late.UID), []runtimeContainer{{"c", 1 << 20}}})...))
	testkit.Until(t, "late-0 labelled", settle, func() bool {
		return everyResourceLabelled(latest(sink), "late-0", map[string]string{"app": "late"})
	})
	for name, logs := range map[string]*observer.ObservedLogs{"watcher": watchLogs, "receiver": recvLogs} {
		if n := lineCount(logs, msgUnreachable); n != 1 {
			t.Errorf("%s: loss logged %d times, want once", name, n)
		}
	}
	// The watcher recovered from the refusal (step 2) and from the outage.
	if n := lineCount(watchLogs, msgAgain); n != 2 {
		t.Errorf("watcher: recovery logged %d times, want twice", n)
	}
	if n, m := lineCount(recvLogs, msgReachable), lineCount(recvLogs, msgAgain); n != 1 || m != 1 {
		t.Errorf("receiver: first contact logged %d times, recovery %d times; want once each", n, m)
	}
}
