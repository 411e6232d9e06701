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
	pods []invPod
	// containers counts the containers of all pods.
	containers int
}

// invPod is a reported sandbox, its pod and its reported containers in
// listing order.
type invPod struct {
	sandbox    *runtimeapi.PodSandbox
	ref        statsapi.PodReference
	containers []*runtimeapi.Container
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
// Sandboxes or containers without an ID, a pod UID or a name are dropped; of
// two listings of one sandbox ID the first counts. It hashes each sandbox ID,
// pod name and UID once and each container's sandbox ID once: it runs on
// every scrape.
func newInventory(sandboxes []*runtimeapi.PodSandbox, containers []*runtimeapi.Container) *inventory {
	type candidate struct {
		invPod
		kept bool
		n    int // running containers listed for it
	}
	cands := make([]candidate, 0, len(sandboxes))
	byID := make(map[string]int, len(sandboxes)) // sandbox ID → index in cands

	type podName struct{ namespace, name string }
	type group struct {
		ready  bool
		newest int
	}
	groups := make(map[podName]group, len(sandboxes))
	newestByUID := make(map[string]int, len(sandboxes))
	keep := func(i int) {
		if cur, ok := newestByUID[cands[i].ref.UID]; ok {
			if !newerSandbox(cands[i].sandbox, cands[cur].sandbox) {
				return
			}
			cands[cur].kept = false
		}
		newestByUID[cands[i].ref.UID] = i
		cands[i].kept = true
	}
	for _, sb := range sandboxes {
		ref := podRef(sb)
		if sb.GetId() == "" || ref.UID == "" || ref.Name == "" {
			continue
		}
		if _, dup := byID[sb.GetId()]; dup {
			continue
		}
		i := len(cands)
		byID[sb.GetId()] = i
		cands = append(cands, candidate{invPod: invPod{sandbox: sb, ref: ref}})
		k := podName{ref.Namespace, ref.Name}
		g, seen := groups[k]
		if !seen || newerSandbox(sb, cands[g.newest].sandbox) {
			g.newest = i
		}
		if sb.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			g.ready = true
			keep(i)
		}
		groups[k] = g
	}
	for _, g := range groups {
		if !g.ready {
			keep(g.newest)
		}
	}

	// Running containers of kept sandboxes, counted first so that every
	// sandbox's list is cut from one array.
	sandboxOf := func(c *runtimeapi.Container) int {
		if c.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING || c.GetId() == "" {
			return -1
		}
		if i, ok := byID[c.GetPodSandboxId()]; ok && cands[i].kept {
			return i
		}
		return -1
	}
	where := make([]int32, len(containers))
	total := 0
	for j, c := range containers {
		i := sandboxOf(c)
		where[j] = int32(i)
		if i >= 0 {
			cands[i].n++
			total++
		}
	}
	all := make([]*runtimeapi.Container, 0, total)
	for i := range cands {
		if cands[i].n > 0 {
			cands[i].containers, all = all[:0:cands[i].n], all[cands[i].n:cap(all)]
		}
	}
	for j, c := range containers {
		i := where[j]
		if i < 0 {
			continue
		}
		name := containerName(c)
		if name == "" {
			continue
		}
		cands[i].containers = appendNewestByName(cands[i].containers, c, name)
	}

	inv := &inventory{pods: make([]invPod, 0, len(newestByUID))}
	for i := range cands {
		cd := &cands[i]
		if !cd.kept {
			continue
		}
		if cd.sandbox.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY && len(cd.containers) == 0 {
			continue
		}
		inv.pods = append(inv.pods, cd.invPod)
		inv.containers += len(cd.containers)
	}
	return inv
}

// appendNewestByName adds c, named name, to one sandbox's containers: when
// one with that name is there already only the newer of the two stays, and
// the one that stays takes its listing position (a scan: a sandbox has few
// containers).
func appendNewestByName(list []*runtimeapi.Container, c *runtimeapi.Container, name string) []*runtimeapi.Container {
	for k, cur := range list {
		if containerName(cur) != name {
			continue
		}
		if !newerContainer(c, cur) {
			return list
		}
		list = append(list[:k], list[k+1:]...)
		break
	}
	return append(list, c)
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
