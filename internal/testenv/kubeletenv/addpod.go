package kubeletenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// AddPod writes one more static pod manifest into the running kubelet's
// manifest directory (it reads the directory every 5 s) and waits, for at most
// d, until the pod runs. Use it for a pod whose image is imported after Start.
func (e *Env) AddPod(ctx context.Context, pod corev1.Pod, d time.Duration) error {
	if err := writeManifests(paths{e.Dir}.manifests(), []corev1.Pod{pod}); err != nil {
		return err
	}
	name := e.PodName(pod.Name)
	if err := e.WaitPods(ctx, d, fmt.Sprintf("static pod %s running", name), allRunning([]string{name})); err != nil {
		return err
	}
	return nil
}
