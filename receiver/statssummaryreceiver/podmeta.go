package statssummaryreceiver

import (
	"os"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/statssummary/statssummary/internal/podmeta"
)

// podLabelPrefix prefixes a pod label's key in its resource attribute, as the
// semantic conventions name them (k8s.pod.label.<key>).
const podLabelPrefix = "k8s.pod.label."

// startPodMetadata starts the pod watch of k8s_api (internal/podmeta). A
// client that cannot be built (no service-account token, no such kubeconfig
// context) is logged as an error and the receiver goes on without pod
// metadata: node stats never wait for the API server. nil when off or failed.
func startPodMetadata(cfg podmeta.Config, nodeName string, logger *zap.Logger) *podmeta.Watcher {
	if !cfg.Enabled {
		return nil
	}
	fail := func(err error) *podmeta.Watcher {
		logger.Error("pod metadata off: k8s_api is enabled but no client could be built; scrapes go on without it", zap.Error(err))
		return nil
	}
	rc, err := cfg.RESTConfig(podmeta.ServiceAccountDir, os.Getenv)
	if err != nil {
		return fail(err)
	}
	// Only the core group's client: the pod watch and claim gets need no other.
	client, err := corev1client.NewForConfig(rc)
	if err != nil {
		return fail(err)
	}
	w, err := podmeta.New(podmeta.Options{
		Client:        client,
		NodeName:      nodeName,
		Labels:        cfg.Labels,
		ResolveClaims: cfg.ResolveVolumeClaims,
		Logger:        logger,
	})
	if err != nil {
		return fail(err)
	}
	w.Start()
	return w
}

// setPodLabels puts the configured labels of each resource's pod (found by
// its k8s.pod.uid) on it as k8s.pod.label.<key>: pod, container and volume
// resources alike, as k8sattributes does. A pod the watch does not know (yet,
// or the API server was never reached) gets none.
func setPodLabels(md pmetric.Metrics, w *podmeta.Watcher) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		attrs := rms.At(i).Resource().Attributes()
		uid, ok := attrs.Get("k8s.pod.uid")
		if !ok {
			continue
		}
		for k, v := range w.Labels(uid.Str()) {
			attrs.PutStr(podLabelPrefix+k, v)
		}
	}
}
