package podmeta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/statssummary/statssummary/internal/summary"
)

// Options configure a Watcher.
type Options struct {
	// Client reaches the API server (pods, and claims when ResolveClaims).
	Client corev1client.CoreV1Interface
	// NodeName selects the pods watched: spec.nodeName=NodeName.
	NodeName string
	// Labels are the label keys a Pod keeps.
	Labels []string
	// ResolveClaims gets each claim a pod uses, for its bound volume.
	ResolveClaims bool
	// Logger receives the state changes; a no-op logger when nil.
	Logger *zap.Logger
}

// Watcher keeps the pods bound to one node, by UID, from a shared informer
// (list then watch, field selector spec.nodeName). It never blocks its
// readers on the API server: Metadata and Pod answer from what the informer has
// received, nothing before the first list, and everything already known
// while the server is unreachable (the informer keeps its cache and retries
// with backoff; when it lists again, pods deleted meanwhile are dropped).
type Watcher struct {
	opts     Options
	logger   *zap.Logger
	informer cache.SharedIndexInformer
	claims   *claimResolver // nil unless ResolveClaims

	mu   sync.RWMutex
	pods map[string]*Pod // by UID

	state connState

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns a Watcher; Start begins the watch.
func New(opts Options) (*Watcher, error) {
	if opts.Client == nil {
		return nil, errors.New("podmeta: no client")
	}
	if opts.NodeName == "" {
		return nil, errors.New("podmeta: no node name")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	w := &Watcher{opts: opts, logger: opts.Logger, pods: map[string]*Pod{}}
	w.state.logger = opts.Logger
	w.state.node = opts.NodeName
	w.state.known = w.count
	selector := fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
	pods := opts.Client.Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			obj, err := pods.List(ctx, o)
			w.state.observe(ctx, "list pods", err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			wi, err := pods.Watch(ctx, o)
			w.state.observe(ctx, "watch pods", err)
			return wi, err
		},
	}
	// A real client streams the first list as watch events (WatchListClient);
	// a client that says it cannot (client-go's fakes) is listed.
	w.informer = cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, opts.Client),
		&corev1.Pod{}, cache.SharedIndexInformerOptions{})
	if err := w.informer.SetTransform(trimPod); err != nil {
		return nil, fmt.Errorf("podmeta: informer transform: %w", err)
	}
	// The state changes are logged once each (connState); client-go's
	// default handler would log every failed retry through klog.
	if err := w.informer.SetWatchErrorHandlerWithContext(func(context.Context, *cache.Reflector, error) {}); err != nil {
		return nil, fmt.Errorf("podmeta: informer error handler: %w", err)
	}
	if _, err := w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.onAdd,
		UpdateFunc: func(_, obj any) { w.onAdd(obj) },
		DeleteFunc: w.onDelete,
	}); err != nil {
		return nil, fmt.Errorf("podmeta: informer handler: %w", err)
	}
	if opts.ResolveClaims {
		w.claims = newClaimResolver(opts.Client, w, opts.Logger)
	}
	return w, nil
}

// Start runs the informer (and the claim resolver) in the background and
// returns at once.
func (w *Watcher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done.Go(func() { w.informer.RunWithContext(ctx) })
	if w.claims != nil {
		w.done.Go(func() { w.claims.run(ctx) })
	}
	w.logger.Info("pod metadata: watching the node's pods on the API server",
		zap.String("node_name", w.opts.NodeName), zap.Strings("labels", w.opts.Labels),
		zap.Bool("resolve_volume_claims", w.opts.ResolveClaims))
}

// Stop ends the watch and waits for its goroutines. It is safe to call more
// than once, and without Start.
func (w *Watcher) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	if w.claims != nil {
		w.claims.queue.ShutDown()
	}
	w.done.Wait()
}

// Synced reports whether the first list has been received.
func (w *Watcher) Synced() bool { return w.informer.HasSynced() }

// Reachable reports whether the last list or watch call succeeded.
func (w *Watcher) Reachable() bool { return w.state.reachable() }

// Metadata returns what is known of the pod with this UID.
func (w *Watcher) Metadata(uid string) (Pod, bool) {
	w.mu.RLock()
	p, ok := w.pods[uid]
	w.mu.RUnlock()
	if !ok {
		return Pod{}, false
	}
	return *p, true
}

// Pod returns the pod with this UID as its spec describes it: the
// assembler's summary.PodMetadata (its app containers' requests and limits,
// as kubeletstats reads them). It allocates nothing.
func (w *Watcher) Pod(uid string) (summary.PodInfo, bool) {
	w.mu.RLock()
	p, ok := w.pods[uid]
	w.mu.RUnlock()
	if !ok {
		return summary.PodInfo{}, false
	}
	return p.spec, true
}

var (
	_ summary.PodMetadata  = (*Watcher)(nil)
	_ summary.VolumeClaims = (*Watcher)(nil)
)

// Labels returns the configured labels of the pod with this UID (nil when
// unknown or without any of them). The map is shared: read it only.
func (w *Watcher) Labels(uid string) map[string]string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if p, ok := w.pods[uid]; ok {
		return p.Labels
	}
	return nil
}

// VolumeClaim returns, for the volume of pod uid that the node names after
// the PersistentVolume pv, its pod-spec name and its claim.
func (w *Watcher) VolumeClaim(uid, pv string) (name, claim string, ok bool) {
	p, ok := w.Metadata(uid)
	if !ok {
		return "", "", false
	}
	name, c, ok := p.VolumeForPersistentVolume(pv)
	return name, c.Name, ok
}

func (w *Watcher) count() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.pods)
}

func (w *Watcher) onAdd(obj any) {
	in, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p := podFromAPI(in, w.opts.Labels)
	if w.claims != nil {
		w.claims.fill(p)
	}
	w.mu.Lock()
	w.pods[p.UID] = p
	w.mu.Unlock()
	if w.claims != nil {
		w.claims.want(p)
	}
}

func (w *Watcher) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	in, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	delete(w.pods, string(in.UID))
	w.mu.Unlock()
	if w.claims != nil {
		w.claims.prune()
	}
}

// update replaces the pods for which f returns a new Pod.
func (w *Watcher) update(f func(*Pod) *Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for uid, p := range w.pods {
		if np := f(p); np != nil {
			w.pods[uid] = np
		}
	}
}

// each calls f for every pod, under the read lock.
func (w *Watcher) each(f func(*Pod)) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, p := range w.pods {
		f(p)
	}
}

// connState tracks whether the API server answers list and watch calls and
// logs each change once: the first success, every loss (with the error; a
// 403 names the RBAC it needs) and every recovery (with how long it was
// unreachable). A failure while stopping is not a change.
type connState struct {
	logger *zap.Logger
	node   string
	known  func() int

	mu        sync.Mutex
	connected bool
	seen      bool      // some call has been made
	since     time.Time // when the current state began
}

func (s *connState) observe(ctx context.Context, call string, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil && !s.connected:
		if s.seen {
			s.logger.Info("pod metadata: API server reachable again",
				zap.String("call", call), zap.Duration("unreachable_for", now.Sub(s.since).Round(time.Second)))
		} else {
			s.logger.Info("pod metadata: API server reachable", zap.String("call", call), zap.String("node_name", s.node))
		}
		s.connected, s.since = true, now
	case err != nil && (s.connected || !s.seen):
		msg := "pod metadata: API server unreachable; scrapes go on with the metadata already known, retrying with backoff"
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			msg = "pod metadata: the API server refuses the pod watch (it needs get, list and watch on pods: deploy/optional/rbac-podmeta.yaml); scrapes go on without it, retrying with backoff"
		}
		s.logger.Warn(msg, zap.String("call", call), zap.Int("pods_known", s.known()), zap.Error(err))
		s.connected, s.since = false, now
	}
	s.seen = true
}

func (s *connState) reachable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}
