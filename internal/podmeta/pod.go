package podmeta

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/statssummary/statssummary/internal/summary"
)

// Pod is what the API server says of one pod that the node cannot know. A
// Pod is never changed once built: an update builds a new one. Its maps are
// shared by every copy, so callers read them and never write.
type Pod struct {
	UID       string
	Namespace string
	Name      string
	// Labels holds the configured label keys (Config.Labels) that the pod
	// has; nil when it has none of them.
	Labels map[string]string
	// Containers are the resources of the pod's app and init containers
	// (sidecars included), by container name, from the pod spec: the
	// desired values, which an in-place resize changes at once, as
	// kubeletstats reads them from the kubelet's /pods.
	Containers map[string]Container
	// Resources are the pod-level requests and limits (spec.resources,
	// KEP-2837); nil when the spec sets none.
	Resources *Resources
	// Claims are the pod's volumes backed by a PersistentVolumeClaim, by
	// pod-spec volume name: persistentVolumeClaim volumes and generic
	// ephemeral volumes (whose claim is <pod name>-<volume name>).
	Claims map[string]Claim

	// spec is the pod as the assembler's summary.PodMetadata describes it,
	// built once with the Pod.
	spec summary.PodInfo
}

// Container is one container's place in the pod and its resources.
type Container struct {
	// Init is an init container; Sidecar one of those that keeps running
	// (restartPolicy Always). kubeletstats' pod totals count neither.
	Init, Sidecar bool
	Resources     Resources
}

// Resources are requests and limits of CPU and memory.
type Resources struct {
	Requests, Limits Quantities
}

// Quantities are a request's or a limit's CPU and memory. A nil field is one
// the spec does not set.
type Quantities struct {
	// MilliCPU is in thousandths of a core (the API allows no finer).
	MilliCPU *int64
	// MemoryBytes is in bytes (rounded up, as resource.Quantity.Value does).
	MemoryBytes *int64
}

// Claim is a volume's PersistentVolumeClaim.
type Claim struct {
	// Name is the claim's name, in the pod's namespace.
	Name string
	// Ephemeral says the claim was made from the pod's generic ephemeral
	// volume template.
	Ephemeral bool
	// VolumeName is the PersistentVolume bound to the claim (the claim's
	// spec.volumeName), which names the volume's directory on the node.
	// Empty unless claims are resolved (Config.ResolveVolumeClaims) and the
	// claim is bound.
	VolumeName string
}

// VolumeForPersistentVolume returns the pod-spec volume name and the claim of
// the pod's volume bound to the PersistentVolume pv: the kubelet names a
// persistent volume's directory, and the host provider the volume, after pv.
func (p Pod) VolumeForPersistentVolume(pv string) (name string, c Claim, ok bool) {
	if pv == "" {
		return "", Claim{}, false
	}
	for name, c := range p.Claims {
		if c.VolumeName == pv {
			return name, c, true
		}
	}
	return "", Claim{}, false
}

// podFromAPI builds a Pod from an API pod, keeping the labels keys lists.
func podFromAPI(in *corev1.Pod, keys []string) *Pod {
	p := &Pod{UID: string(in.UID), Namespace: in.Namespace, Name: in.Name}
	for _, k := range keys {
		if v, ok := in.Labels[k]; ok {
			if p.Labels == nil {
				p.Labels = make(map[string]string, len(keys))
			}
			p.Labels[k] = v
		}
	}
	if n := len(in.Spec.Containers) + len(in.Spec.InitContainers); n > 0 {
		p.Containers = make(map[string]Container, n)
	}
	for i := range in.Spec.InitContainers {
		c := &in.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		p.Containers[c.Name] = Container{Init: true, Sidecar: sidecar, Resources: resourcesFromAPI(&c.Resources)}
	}
	if len(in.Spec.Containers) > 0 {
		p.spec.Containers = make([]summary.ContainerSpec, 0, len(in.Spec.Containers))
	}
	for i := range in.Spec.Containers {
		c := &in.Spec.Containers[i]
		r := resourcesFromAPI(&c.Resources)
		p.Containers[c.Name] = Container{Resources: r}
		p.spec.Containers = append(p.spec.Containers, summary.ContainerSpec{Name: c.Name, Resources: r.asSummary()})
	}
	if r := in.Spec.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		res := resourcesFromAPI(r)
		p.Resources = &res
	}
	for i := range in.Spec.Volumes {
		v := &in.Spec.Volumes[i]
		var c Claim
		switch {
		case v.PersistentVolumeClaim != nil:
			c = Claim{Name: v.PersistentVolumeClaim.ClaimName}
		case v.Ephemeral != nil:
			// The name the ephemeral volume controller gives the claim.
			c = Claim{Name: in.Name + "-" + v.Name, Ephemeral: true}
		default:
			continue
		}
		if p.Claims == nil {
			p.Claims = map[string]Claim{}
		}
		p.Claims[v.Name] = c
	}
	return p
}

// asSummary is r as kubeletstats reads a spec's resources (summary.Resources):
// CPU in cores, memory in bytes, 0 when unset.
func (r Resources) asSummary() summary.Resources {
	cores := func(m *int64) float64 {
		if m == nil {
			return 0
		}
		return float64(*m) / 1000
	}
	bytes := func(b *int64) int64 {
		if b == nil {
			return 0
		}
		return *b
	}
	return summary.Resources{
		CPURequest: cores(r.Requests.MilliCPU), CPULimit: cores(r.Limits.MilliCPU),
		MemoryRequest: bytes(r.Requests.MemoryBytes), MemoryLimit: bytes(r.Limits.MemoryBytes),
	}
}

func resourcesFromAPI(r *corev1.ResourceRequirements) Resources {
	return Resources{Requests: quantitiesFromAPI(r.Requests), Limits: quantitiesFromAPI(r.Limits)}
}

func quantitiesFromAPI(l corev1.ResourceList) Quantities {
	var q Quantities
	if v, ok := l[corev1.ResourceCPU]; ok {
		q.MilliCPU = int64p(v.MilliValue())
	}
	if v, ok := l[corev1.ResourceMemory]; ok {
		q.MemoryBytes = int64p(v.Value())
	}
	return q
}

func int64p(v int64) *int64 { return &v }

// trimPod is the informer's transform: the store keeps only what podFromAPI
// reads (and what the informer needs: name, namespace, UID, resource
// version), so a node's worth of pods costs little memory. Labels are all
// kept (the configured ones are picked when a Pod is built), annotations,
// managed fields, status and the rest of the spec are dropped.
func trimPod(obj any) (any, error) {
	in, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a tombstone: the informer passes it through
	}
	out := &corev1.Pod{}
	out.Name, out.Namespace, out.UID = in.Name, in.Namespace, in.UID
	out.ResourceVersion, out.Labels = in.ResourceVersion, in.Labels
	out.Spec.NodeName = in.Spec.NodeName
	if r := in.Spec.Resources; r != nil {
		out.Spec.Resources = &corev1.ResourceRequirements{Requests: cpuMemory(r.Requests), Limits: cpuMemory(r.Limits)}
	}
	out.Spec.Containers = trimContainers(in.Spec.Containers)
	out.Spec.InitContainers = trimContainers(in.Spec.InitContainers)
	for _, v := range in.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PersistentVolumeClaim.ClaimName},
			}})
		case v.Ephemeral != nil:
			out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
				Ephemeral: &corev1.EphemeralVolumeSource{},
			}})
		}
	}
	return out, nil
}

func trimContainers(in []corev1.Container) []corev1.Container {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i := range in {
		out[i] = corev1.Container{
			Name:          in[i].Name,
			RestartPolicy: in[i].RestartPolicy,
			Resources: corev1.ResourceRequirements{
				Requests: cpuMemory(in[i].Resources.Requests),
				Limits:   cpuMemory(in[i].Resources.Limits),
			},
		}
	}
	return out
}

// cpuMemory keeps a resource list's CPU and memory.
func cpuMemory(l corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if v, ok := l[name]; ok {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = v
		}
	}
	return out
}
