package podmeta

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/workqueue"
)

// claimTimeout bounds one claim get.
const claimTimeout = 10 * time.Second

// claimKey names a claim: its namespace and name.
type claimKey struct{ namespace, name string }

// claimResolver learns the PersistentVolume bound to each claim that a pod on
// the node uses, with one get per claim (a claim's spec.volumeName, once set,
// does not change): the node names a persistent volume's directory after the
// PersistentVolume, the pod spec names the claim, and only the claim links
// them. Gets run on a worker, never on a scrape; a failed get, or a claim
// not bound yet, is retried with backoff (1 s doubling to 5 min). Claims no
// pod uses any more are forgotten.
type claimResolver struct {
	client  corev1client.PersistentVolumeClaimsGetter
	watcher *Watcher
	logger  *zap.Logger
	queue   workqueue.TypedRateLimitingInterface[claimKey]

	mu      sync.Mutex
	bound   map[claimKey]string // claim → PersistentVolume
	failing bool                // the last get failed (logged once per change)
}

func newClaimResolver(client corev1client.PersistentVolumeClaimsGetter, w *Watcher, logger *zap.Logger) *claimResolver {
	return &claimResolver{
		client:  client,
		watcher: w,
		logger:  logger,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[claimKey](time.Second, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[claimKey]{Name: "podmeta_claims"}),
		bound: map[claimKey]string{},
	}
}

// fill sets the bound volume of each of p's claims already resolved.
func (r *claimResolver) fill(p *Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, c := range p.Claims {
		if pv, ok := r.bound[claimKey{p.Namespace, c.Name}]; ok {
			c.VolumeName = pv
			p.Claims[name] = c
		}
	}
}

// want queues p's claims that are not resolved yet.
func (r *claimResolver) want(p *Pod) {
	for _, c := range p.Claims {
		if c.VolumeName == "" {
			r.queue.Add(claimKey{p.Namespace, c.Name})
		}
	}
}

// used reports whether a known pod uses the claim.
func (r *claimResolver) used(k claimKey) bool {
	found := false
	r.watcher.each(func(p *Pod) {
		if p.Namespace != k.namespace {
			return
		}
		for _, c := range p.Claims {
			if c.Name == k.name {
				found = true
			}
		}
	})
	return found
}

// prune forgets the claims that no known pod uses.
func (r *claimResolver) prune() {
	r.mu.Lock()
	keys := make([]claimKey, 0, len(r.bound))
	for k := range r.bound {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	for _, k := range keys {
		if !r.used(k) {
			r.mu.Lock()
			delete(r.bound, k)
			r.mu.Unlock()
		}
	}
}

func (r *claimResolver) run(ctx context.Context) {
	for {
		k, shutdown := r.queue.Get()
		if shutdown {
			return
		}
		r.resolve(ctx, k)
		r.queue.Done(k)
	}
}

func (r *claimResolver) resolve(ctx context.Context, k claimKey) {
	if !r.used(k) {
		r.queue.Forget(k)
		return
	}
	callCtx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	pvc, err := r.client.PersistentVolumeClaims(k.namespace).Get(callCtx, k.name, metav1.GetOptions{})
	if err != nil && ctx.Err() != nil {
		return // stopping
	}
	r.note(k, err)
	if err != nil || pvc.Spec.VolumeName == "" {
		// Not there, not bound yet, or the server failed: later.
		r.queue.AddRateLimited(k)
		return
	}
	r.queue.Forget(k)
	pv := pvc.Spec.VolumeName
	r.mu.Lock()
	r.bound[k] = pv
	r.mu.Unlock()
	r.watcher.update(func(p *Pod) *Pod {
		if p.Namespace != k.namespace {
			return nil
		}
		var np *Pod
		for name, c := range p.Claims {
			if c.Name != k.name || c.VolumeName == pv {
				continue
			}
			if np == nil {
				cp := *p
				cp.Claims = make(map[string]Claim, len(p.Claims))
				for n, c := range p.Claims {
					cp.Claims[n] = c
				}
				np = &cp
			}
			c.VolumeName = pv
			np.Claims[name] = c
		}
		return np
	})
}

// note logs the first failure of a claim get after a success (or at first),
// and the first success after failures.
func (r *claimResolver) note(k claimKey, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && !r.failing:
		r.failing = true
		msg := "pod metadata: cannot get a volume claim; its volume keeps the node's name and no pvcRef, retrying with backoff"
		if apierrors.IsForbidden(err) {
			msg = "pod metadata: resolve_volume_claims needs get on persistentvolumeclaims (the optional rule in deploy/optional/rbac-podmeta.yaml); volumes keep the node's names and no pvcRef, retrying with backoff"
		}
		r.logger.Warn(msg, zap.String("namespace", k.namespace), zap.String("claim", k.name), zap.Error(err))
	case err == nil && r.failing:
		r.failing = false
		r.logger.Info("pod metadata: volume claims resolved again", zap.String("namespace", k.namespace), zap.String("claim", k.name))
	}
}
