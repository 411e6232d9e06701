package podmeta

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/statssummary/statssummary/internal/summary"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// These tests use client-go's fake clientset for what a real API server does
// not do on demand (refuse, break a watch); test/apiserver runs the watch
// against a real kube-apiserver.

// fakeCore is the fake's CoreV1 saying, as the fake clientset does, that it
// cannot stream lists (WatchListClient), so the informer lists.
type fakeCore struct{ corev1client.CoreV1Interface }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

// pollUntil waits for cond; the informer's retries back off up to 30 s.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Until(t, what, time.Minute, cond)
}

func nodePod(name, uid string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + uid), Labels: labels},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app",
			Resources: corev1.ResourceRequirements{Requests: rl("memory", "100Mi")}}}},
	}
}

func startWatcher(t *testing.T, client *fake.Clientset, resolve bool) (*Watcher, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	w, err := New(Options{Client: fakeCore{client.CoreV1()}, NodeName: "node-a", Labels: []string{"app"},
		ResolveClaims: resolve, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(w.Stop)
	return w, logs
}

func messages(logs *observer.ObservedLogs, level zapcore.Level) []string {
	var out []string
	for _, e := range logs.All() {
		if e.Level == level {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestWatcherFollowsPods(t *testing.T) {
	client := fake.NewClientset(nodePod("web-0", "1", map[string]string{"app": "web", "other": "x"}))
	w, _ := startWatcher(t, client, false)
	pollUntil(t, "the first list", w.Synced)
	p, ok := w.Metadata("uid-1")
	if !ok || p.Name != "web-0" || p.Labels["app"] != "web" || len(p.Labels) != 1 ||
		*p.Containers["app"].Resources.Requests.MemoryBytes != 100<<20 {
		t.Fatalf("pod: %+v %v", p, ok)
	}
	// The same pod through summary.PodMetadata.
	info, ok := w.Pod("uid-1")
	if want := []summary.ContainerSpec{{Name: "app", Resources: summary.Resources{MemoryRequest: 100 << 20}}}; !ok || !cmp.Equal(info.Containers, want) {
		t.Errorf("Pod: %+v %v, want %+v", info, ok, want)
	}
	if _, ok := w.Pod("uid-unknown"); ok {
		t.Error("Pod of an unknown UID")
	}

	// The list and the watch select the node's pods.
	for _, a := range client.Actions() {
		if r, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource == "pods" {
			if got := r.GetListRestrictions().Fields.String(); got != "spec.nodeName=node-a" {
				t.Errorf("%s pods with fields %q", a.GetVerb(), got)
			}
		}
		if r, ok := a.(k8stesting.WatchAction); ok && a.GetResource().Resource == "pods" {
			if got := r.GetWatchRestrictions().Fields.String(); got != "spec.nodeName=node-a" {
				t.Errorf("watch pods with fields %q", got)
			}
		}
	}

	pods := client.CoreV1().Pods("shop")
	upd := nodePod("web-0", "1", map[string]string{"app": "web-v2"})
	if _, err := pods.Update(t.Context(), upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the label change", func() bool { return w.Labels("uid-1")["app"] == "web-v2" })
	if err := pods.Delete(t.Context(), "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the delete", func() bool { _, ok := w.Metadata("uid-1"); return !ok })
}

// While the API server is unreachable the pods already known stay, each
// change of state is logged once, and the list after it replaces what was
// known (a pod deleted meanwhile goes, a new one comes).
func TestWatcherUnreachable(t *testing.T) {
	client := fake.NewClientset(nodePod("web-0", "1", map[string]string{"app": "web"}))
	var down atomic.Bool
	var failed atomic.Int32
	var current atomic.Pointer[watch.RaceFreeFakeWatcher]
	errDown := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if down.Load() {
			failed.Add(1)
			return true, nil, errDown
		}
		return false, nil, nil
	})
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if down.Load() {
			failed.Add(1)
			return true, nil, errDown
		}
		fw := watch.NewRaceFreeFake()
		current.Store(fw)
		return true, fw, nil
	})
	w, logs := startWatcher(t, client, false)
	pollUntil(t, "the first list and watch", func() bool { return w.Synced() && current.Load() != nil })
	if !w.Reachable() {
		t.Error("not reachable after the first list")
	}

	down.Store(true)
	current.Load().Stop() // the stream breaks, as when the server goes away
	pollUntil(t, "two failed calls", func() bool { return failed.Load() >= 2 })
	if w.Reachable() {
		t.Error("reachable while every call fails")
	}
	if p, ok := w.Metadata("uid-1"); !ok || p.Labels["app"] != "web" {
		t.Errorf("known pod lost while unreachable: %+v %v", p, ok)
	}
	if got := messages(logs, zapcore.WarnLevel); len(got) != 1 {
		t.Errorf("warnings while unreachable: %q, want one", got)
	}

	// Meanwhile web-0 went and web-1 came.
	if err := client.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "shop", "web-0"); err != nil {
		t.Fatal(err)
	}
	if err := client.Tracker().Add(nodePod("web-1", "2", nil)); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	pollUntil(t, "the new list", func() bool {
		_, gone := w.Metadata("uid-1")
		_, came := w.Metadata("uid-2")
		return !gone && came
	})
	pollUntil(t, "reachable", w.Reachable)
	var again int
	for _, m := range messages(logs, zapcore.InfoLevel) {
		if m == "pod metadata: API server reachable again" {
			again++
		}
	}
	if again != 1 {
		t.Errorf("%d 'reachable again' lines, want 1: %q", again, messages(logs, zapcore.InfoLevel))
	}
}

func TestWatcherRefusedNamesRBAC(t *testing.T) {
	client := fake.NewClientset()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New(`User "system:serviceaccount:o:c" cannot list resource "pods"`))
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, forbidden })
	_, logs := startWatcher(t, client, false)
	pollUntil(t, "a warning", func() bool { return len(messages(logs, zapcore.WarnLevel)) > 0 })
	if got := messages(logs, zapcore.WarnLevel)[0]; got != "pod metadata: the API server refuses the pod watch (it needs get, list and watch on pods: deploy/optional/rbac-podmeta.yaml); scrapes go on without it, retrying with backoff" {
		t.Errorf("warning %q", got)
	}
}

func claimPod() *corev1.Pod {
	p := nodePod("db-0", "db", nil)
	p.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}},
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	return p
}

// A claim is got once it is bound; a refused get is logged once, naming the
// RBAC it needs, and retried; a claim no pod uses is forgotten.
func TestClaimsResolved(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "shop"}}
	client := fake.NewClientset(claimPod(), pvc)
	var gets atomic.Int32
	client.PrependReactor("get", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
		if gets.Add(1) == 1 {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, "data-db-0", errors.New("RBAC"))
		}
		return false, nil, nil
	})
	w, logs := startWatcher(t, client, true)
	pollUntil(t, "the claim refused, then found unbound", func() bool { return gets.Load() >= 2 })
	if _, _, ok := w.VolumeClaim("uid-db", "pv-data"); ok {
		t.Fatal("resolved before the claim is bound")
	}
	if p, _ := w.Metadata("uid-db"); p.Claims["data"].Name != "data-db-0" {
		t.Errorf("claims by pod-spec name: %+v", p.Claims)
	}

	pvc.Spec.VolumeName = "pv-data"
	if _, err := client.CoreV1().PersistentVolumeClaims("shop").Update(t.Context(), pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the bound claim", func() bool { _, _, ok := w.VolumeClaim("uid-db", "pv-data"); return ok })
	name, claim, _ := w.VolumeClaim("uid-db", "pv-data")
	if name != "data" || claim != "data-db-0" {
		t.Errorf("VolumeClaim = %q, %q; want data, data-db-0", name, claim)
	}
	warns := messages(logs, zapcore.WarnLevel)
	if len(warns) != 1 || warns[0] != "pod metadata: resolve_volume_claims needs get on persistentvolumeclaims (the optional rule in deploy/optional/rbac-podmeta.yaml); volumes keep the node's names and no pvcRef, retrying with backoff" {
		t.Errorf("warnings %q", warns)
	}

	// An update of the pod keeps the resolved volume without a new get.
	before := gets.Load()
	upd := claimPod()
	upd.Labels = map[string]string{"app": "db"}
	if _, err := client.CoreV1().Pods("shop").Update(t.Context(), upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the update", func() bool { return w.Labels("uid-db")["app"] == "db" })
	if _, _, ok := w.VolumeClaim("uid-db", "pv-data"); !ok || gets.Load() != before {
		t.Errorf("after an update: resolved %v, %d more gets", ok, gets.Load()-before)
	}

	if err := client.CoreV1().Pods("shop").Delete(t.Context(), "db-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the claim forgotten", func() bool {
		w.claims.mu.Lock()
		defer w.claims.mu.Unlock()
		return len(w.claims.bound) == 0
	})
}

// Without ResolveClaims no claim is ever got.
func TestClaimsNotResolvedByDefault(t *testing.T) {
	client := fake.NewClientset(claimPod())
	w, _ := startWatcher(t, client, false)
	pollUntil(t, "the pod", func() bool { _, ok := w.Metadata("uid-db"); return ok })
	w.Stop()
	for _, a := range client.Actions() {
		if a.GetResource().Resource != "pods" {
			t.Errorf("%s %s without resolve_volume_claims", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestNewNeedsClientAndNode(t *testing.T) {
	if _, err := New(Options{NodeName: "n"}); err == nil {
		t.Error("no client: no error")
	}
	if _, err := New(Options{Client: fake.NewClientset().CoreV1()}); err == nil {
		t.Error("no node: no error")
	}
}
