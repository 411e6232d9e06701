package kubeletenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// get fetches a path of the kubelet's read-only endpoint.
func (e *Env) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+path, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// Summary returns the kubelet's /stats/summary, as the JSON it sent.
func (e *Env) Summary(ctx context.Context) ([]byte, error) {
	return e.get(ctx, "/stats/summary")
}

// Pods returns the pods the kubelet runs, with their status (a standalone
// kubelet's /pods carries its static pods' status).
func (e *Env) Pods(ctx context.Context) ([]corev1.Pod, error) {
	body, err := e.get(ctx, "/pods")
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode /pods: %w", err)
	}
	return list.Items, nil
}

// Pod returns one pod of /pods by its name (the manifest's name with the node
// name appended).
func (e *Env) Pod(ctx context.Context, name string) (*corev1.Pod, error) {
	pods, err := e.Pods(ctx)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		if pods[i].Name == name {
			return &pods[i], nil
		}
	}
	return nil, fmt.Errorf("pod %s not in the kubelet's /pods", name)
}

// WaitPods polls /pods every half second until cond accepts them, for at most
// d. The error says what was awaited, why cond last refused, and ends with the
// kubelet's last log lines.
func (e *Env) WaitPods(ctx context.Context, d time.Duration, what string, cond func([]corev1.Pod) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		pods, err := e.Pods(ctx)
		if err == nil {
			if last = cond(pods); last == nil {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubelet: waited %s for %s: %w\nkubelet log (%s), last lines:\n%s",
				d, what, last, paths{e.Dir}.logFile(), logTail(paths{e.Dir}, 30))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// allRunning accepts pods when each named one is Running with every
// container running.
func allRunning(names []string) func([]corev1.Pod) error {
	return func(pods []corev1.Pod) error {
		byName := map[string]*corev1.Pod{}
		for i := range pods {
			byName[pods[i].Name] = &pods[i]
		}
		var errs []error
		for _, n := range names {
			p, ok := byName[n]
			if !ok {
				errs = append(errs, fmt.Errorf("pod %s not listed", n))
				continue
			}
			if err := PodRunning(p); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// PodRunning is nil when the pod is Running with each of its containers
// running, else says what is not.
func PodRunning(p *corev1.Pod) error {
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("pod %s is %q", p.Name, p.Status.Phase)
	}
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return fmt.Errorf("pod %s: %d container statuses for %d containers", p.Name, len(p.Status.ContainerStatuses), len(p.Spec.Containers))
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return fmt.Errorf("pod %s: container %s is not running (%+v)", p.Name, c.Name, c.State)
		}
	}
	return nil
}
