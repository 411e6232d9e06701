package cri

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Kubelet labels that identify a sandbox's pod and a container's name when the
// metadata is missing.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// inventory is the set of pods and containers a Summary reports, decided from
// ListPodSandbox and ListContainers before any stats are read.
type inventory struct {
	// pods are the sandboxes reported, in the runtime's listing order.
	pods []*runtimeapi.PodSandbox
	// refs holds each reported sandbox's pod reference, by sandbox ID.
	refs map[string]statsapi.PodReference
	// containers holds the reported containers by ID.
	containers map[string]*runtimeapi.Container
	// bySandbox lists each reported sandbox's containers in listing order.
	bySandbox map[string][]*runtimeapi.Container
}

// newInventory chooses what to report, as the kubelet does:
//   - sandboxes are grouped by pod name and namespace; a group keeps all its
//     READY sandboxes, or, when none is ready, only the newest (a pod being
//     torn down still shows its last containers); of sandboxes sharing a pod
//     UID only the newest stays, so a UID names one pod;
//   - only RUNNING containers count, and only in a kept sandbox; of two running
//     containers with one name in one sandbox only the newest stays, since the
//     Summary keys containers by name;
//   - a kept sandbox is reported when it is READY or still has a running
//     container.
//
// Sandboxes or containers without an ID, a pod UID or a name are dropped.
func newInventory(sandboxes []*runtimeapi.PodSandbox, containers []*runtimeapi.Container) *inventory {
	type podName struct{ namespace, name string }
	groups := make(map[podName][]*runtimeapi.PodSandbox, len(sandboxes))
	refs := make(map[string]statsapi.PodReference, len(sandboxes))
	for _, sb := range sandboxes {
		ref := podRef(sb)
		if sb.GetId() == "" || ref.UID == "" || ref.Name == "" {
			continue
		}
		if _, dup := refs[sb.GetId()]; dup {
			continue
		}
		refs[sb.GetId()] = ref
		k := podName{ref.Namespace, ref.Name}
		groups[k] = append(groups[k], sb)
	}

	kept := make(map[string]bool, len(refs))
	newestByUID := make(map[string]*runtimeapi.PodSandbox, len(refs))
	keep := func(sb *runtimeapi.PodSandbox) {
		uid := refs[sb.GetId()].UID
		if cur, ok := newestByUID[uid]; ok {
			if !newerSandbox(sb, cur) {
				return
			}
			delete(kept, cur.GetId())
		}
		newestByUID[uid] = sb
		kept[sb.GetId()] = true
	}
	for _, group := range groups {
		var newest *runtimeapi.PodSandbox
		ready := false
		for _, sb := range group {
			if sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
				ready = true
				keep(sb)
			}
			if newest == nil || newerSandbox(sb, newest) {
				newest = sb
			}
		}
		if !ready {
			keep(newest)
		}
	}

	type slot struct {
		sandbox, name string
	}
	chosen := make(map[slot]*runtimeapi.Container, len(containers))
	for _, c := range containers {
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING || c.GetId() == "" || !kept[c.GetPodSandboxId()] {
			continue
		}
		name := containerName(c)
		if name == "" {
			continue
		}
		k := slot{c.GetPodSandboxId(), name}
		if cur, ok := chosen[k]; !ok || newerContainer(c, cur) {
			chosen[k] = c
		}
	}

	inv := &inventory{
		pods:       make([]*runtimeapi.PodSandbox, 0, len(kept)),
		refs:       make(map[string]statsapi.PodReference, len(kept)),
		containers: make(map[string]*runtimeapi.Container, len(chosen)),
		bySandbox:  make(map[string][]*runtimeapi.Container, len(kept)),
	}
	for _, c := range containers {
		if chosen[slot{c.GetPodSandboxId(), containerName(c)}] != c {
			continue
		}
		inv.containers[c.GetId()] = c
		inv.bySandbox[c.GetPodSandboxId()] = append(inv.bySandbox[c.GetPodSandboxId()], c)
	}
	for _, sb := range sandboxes {
		id := sb.GetId()
		if !kept[id] || inv.refs[id].UID != "" {
			continue
		}
		if sb.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY && len(inv.bySandbox[id]) == 0 {
			continue
		}
		inv.pods = append(inv.pods, sb)
		inv.refs[id] = refs[id]
	}
	return inv
}

// newerSandbox orders sandboxes by creation time, then by ID so the choice is
// stable whatever the listing order.
func newerSandbox(a, b *runtimeapi.PodSandbox) bool {
	if a.GetCreatedAt() != b.GetCreatedAt() {
		return a.GetCreatedAt() > b.GetCreatedAt()
	}
	return a.GetId() > b.GetId()
}

func newerContainer(a, b *runtimeapi.Container) bool {
	if a.GetCreatedAt() != b.GetCreatedAt() {
		return a.GetCreatedAt() > b.GetCreatedAt()
	}
	return a.GetId() > b.GetId()
}

func podRef(sb *runtimeapi.PodSandbox) statsapi.PodReference {
	md := sb.GetMetadata()
	ref := statsapi.PodReference{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid()}
	labels := sb.GetLabels()
	if ref.Name == "" {
		ref.Name = labels[labelPodName]
	}
	if ref.Namespace == "" {
		ref.Namespace = labels[labelPodNamespace]
	}
	if ref.UID == "" {
		ref.UID = labels[labelPodUID]
	}
	return ref
}

func containerName(c *runtimeapi.Container) string {
	if n := c.GetMetadata().GetName(); n != "" {
		return n
	}
	return c.GetLabels()[labelContainerName]
}
