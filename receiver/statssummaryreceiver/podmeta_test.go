package statssummaryreceiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/statssummary/statssummary/internal/podmeta"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
	"github.com/statssummary/statssummary/receiver/statssummaryreceiver/internal/metadata"
)

// The pod metadata against a real API server is test/apiserver; these are the
// receiver's edge cases around it.

// startScraperWithLogs is startScraper with the scraper's log observed.
func startScraperWithLogs(t *testing.T, cfg *Config) (*statsScraper, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	s := newStatsScraper(cfg, set)
	require.NoError(t, s.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.WithoutCancel(t.Context()))) })
	return s, logs
}

func hasLabelAttribute(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		for k := range rms.At(i).Resource().Attributes().All() {
			if strings.HasPrefix(k, podLabelPrefix) {
				return true
			}
		}
	}
	return false
}

// An API server that never answers costs the scrapes nothing: they emit the
// runtime's pods, unlabelled, and the loss is said once.
func TestK8sAPIUnreachableScrapesGoOn(t *testing.T) {
	srv := newCRI(t)
	cfg := newTestConfig(srv.Endpoint)
	// Nothing listens on port 1 of the loopback address.
	cfg.K8sAPI = podmeta.Config{Enabled: true, AuthType: podmeta.AuthNone, Endpoint: "http://127.0.0.1:1", Labels: []string{"app"}}
	require.NoError(t, cfg.Validate())
	s, logs := startScraperWithLogs(t, cfg)
	require.NotNil(t, s.podMeta)
	testkit.Until(t, "the loss logged", time.Minute, func() bool {
		return logs.FilterMessageSnippet("API server unreachable").Len() > 0
	})
	for range 3 {
		md, err := s.scrape(t.Context())
		require.NoError(t, err)
		assert.Positive(t, md.ResourceMetrics().Len())
		assert.False(t, hasLabelAttribute(md), "labels without an API server")
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("API server unreachable").Len())
}

// Outside a pod, serviceAccount has no server and no token: an error in the
// log, and the receiver runs without pod metadata.
func TestK8sAPIWithoutCredentialsRunsWithout(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	srv := newCRI(t)
	cfg := newTestConfig(srv.Endpoint)
	cfg.K8sAPI = podmeta.Config{Enabled: true, AuthType: podmeta.AuthServiceAccount}
	s, logs := startScraperWithLogs(t, cfg)
	assert.Nil(t, s.podMeta)
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	require.Len(t, errs, 1)
	assert.Equal(t, "pod metadata off: k8s_api is enabled but no client could be built; scrapes go on without it", errs[0].Message)
	md, err := s.scrape(t.Context())
	require.NoError(t, err)
	assert.Positive(t, md.ResourceMetrics().Len())
}

// Off (the default), nothing is built.
func TestK8sAPIOffByDefault(t *testing.T) {
	srv := newCRI(t)
	s, logs := startScraperWithLogs(t, newTestConfig(srv.Endpoint))
	assert.Nil(t, s.podMeta)
	assert.Zero(t, logs.FilterMessageSnippet("pod metadata").Len())
}

// fakeCore is client-go's fake saying it cannot stream lists, as the fake
// clientset itself does.
type fakeCore struct{ corev1client.CoreV1Interface }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

// setPodLabels labels the resources of the pods the watch knows, by
// k8s.pod.uid, and nothing else.
func TestSetPodLabels(t *testing.T) {
	client := fake.NewClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-web",
			Labels: map[string]string{"app": "web", "tier": "front", "unlisted": "x"}},
		Spec: corev1.PodSpec{NodeName: "node-a"},
	})
	w, err := podmeta.New(podmeta.Options{Client: fakeCore{client.CoreV1()}, NodeName: "node-a", Labels: []string{"app", "tier"}})
	require.NoError(t, err)
	w.Start()
	t.Cleanup(w.Stop)
	testkit.Until(t, "the pod", time.Minute, func() bool { _, ok := w.Metadata("uid-web"); return ok })

	md := pmetric.NewMetrics()
	for _, uid := range []string{"uid-web", "uid-web", "uid-unknown", ""} {
		attrs := md.ResourceMetrics().AppendEmpty().Resource().Attributes()
		attrs.PutStr("k8s.node.name", "node-a")
		if uid != "" {
			attrs.PutStr("k8s.pod.uid", uid)
		}
	}
	setPodLabels(md, w)
	want := []map[string]any{
		{"k8s.node.name": "node-a", "k8s.pod.uid": "uid-web", "k8s.pod.label.app": "web", "k8s.pod.label.tier": "front"},
		{"k8s.node.name": "node-a", "k8s.pod.uid": "uid-web", "k8s.pod.label.app": "web", "k8s.pod.label.tier": "front"},
		{"k8s.node.name": "node-a", "k8s.pod.uid": "uid-unknown"},
		{"k8s.node.name": "node-a"},
	}
	for i, w := range want {
		assert.Equal(t, w, md.ResourceMetrics().At(i).Resource().Attributes().AsRaw(), "resource %d", i)
	}
}
