package crifake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// SyntheticAt is the sample time of a synthetic node whose At is zero.
var SyntheticAt = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// SyntheticNode describes a node for benchmarks and load tests.
type SyntheticNode struct {
	Pods             int
	ContainersPerPod int
	// At is the sample time of every stat (SyntheticAt when zero); creation
	// times lie an hour before.
	At time.Time
}

// Synthetic builds the state of a busy node: READY sandboxes and RUNNING
// containers with the labels and annotations the kubelet sets (they dominate the
// size of List answers), container stats with CPU, memory and writable layer, and
// pod sandbox stats with eth0 network, as containerd 1.7 answers. Values are
// deterministic functions of the pod and container index.
func Synthetic(n SyntheticNode) State {
	if n.At.IsZero() {
		n.At = SyntheticAt
	}
	at := n.At.UnixNano()
	created := n.At.Add(-time.Hour).UnixNano()
	st := State{
		Sandboxes:       make([]*runtimeapi.PodSandbox, 0, n.Pods),
		Containers:      make([]*runtimeapi.Container, 0, n.Pods*n.ContainersPerPod),
		ContainerStats:  make([]*runtimeapi.ContainerStats, 0, n.Pods*n.ContainersPerPod),
		PodSandboxStats: make([]*runtimeapi.PodSandboxStats, 0, n.Pods),
		ImageFs: &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
			Timestamp:  at,
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"},
			UsedBytes:  u64(12 << 30),
			InodesUsed: u64(400_000),
		}}},
	}
	for p := 0; p < n.Pods; p++ {
		ns := fmt.Sprintf("team-%02d", p%17)
		name := fmt.Sprintf("app-%04d-7d9f8c6b5-%05x", p, p*7919)
		uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", p, p)
		sbID := hexID("sandbox", p, 0)
		sbLabels := map[string]string{
			"io.kubernetes.pod.name":      name,
			"io.kubernetes.pod.namespace": ns,
			"io.kubernetes.pod.uid":       uid,
			"app.kubernetes.io/name":      fmt.Sprintf("app-%04d", p),
			"pod-template-hash":           "7d9f8c6b5",
		}
		st.Sandboxes = append(st.Sandboxes, &runtimeapi.PodSandbox{
			Id:        sbID,
			Metadata:  &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid},
			State:     runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: created,
			Labels:    sbLabels,
			Annotations: map[string]string{
				"kubernetes.io/config.seen":   "2026-11-01T11:00:00.000000000Z",
				"kubernetes.io/config.source": "api",
			},
		})
		podStats := &runtimeapi.PodSandboxStats{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: sbID, Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid}, Labels: sbLabels},
			Linux: &runtimeapi.LinuxPodSandboxStats{
				Network: &runtimeapi.NetworkUsage{
					Timestamp:        at,
					DefaultInterface: &runtimeapi.NetworkInterfaceUsage{Name: "eth0", RxBytes: u64(uint64(p) * 1e6), TxBytes: u64(uint64(p) * 5e5)},
				},
				Process: &runtimeapi.ProcessUsage{Timestamp: at, ProcessCount: u64(uint64(n.ContainersPerPod * 3))},
			},
		}
		var podCPU, podMem uint64
		for c := 0; c < n.ContainersPerPod; c++ {
			id := hexID("container", p, c)
			cname := fmt.Sprintf("ctr-%d", c)
			attrs := &runtimeapi.ContainerAttributes{
				Id:       id,
				Metadata: &runtimeapi.ContainerMetadata{Name: cname},
				Labels: map[string]string{
					"io.kubernetes.container.name": cname,
					"io.kubernetes.pod.name":       name,
					"io.kubernetes.pod.namespace":  ns,
					"io.kubernetes.pod.uid":        uid,
				},
				Annotations: map[string]string{
					"io.kubernetes.container.hash":                     "4a1b2c3d",
					"io.kubernetes.container.restartCount":             "0",
					"io.kubernetes.container.terminationMessagePath":   "/dev/termination-log",
					"io.kubernetes.container.terminationMessagePolicy": "File",
					"io.kubernetes.pod.terminationGracePeriod":         "30",
				},
			}
			st.Containers = append(st.Containers, &runtimeapi.Container{
				Id:           id,
				PodSandboxId: sbID,
				Metadata:     attrs.Metadata,
				Image:        &runtimeapi.ImageSpec{Image: "registry.example/team/app:1.2.3"},
				ImageRef:     "sha256:" + hexID("image", p%23, 0),
				State:        runtimeapi.ContainerState_CONTAINER_RUNNING,
				CreatedAt:    created,
				Labels:       attrs.Labels,
				Annotations:  attrs.Annotations,
			})
			cpu := uint64(p*1_000_000_000 + c*1_000_000 + 1)
			ws := uint64(64<<20 + p<<10 + c)
			podCPU += cpu
			podMem += ws
			cs := &runtimeapi.ContainerStats{
				Attributes: attrs,
				Cpu:        &runtimeapi.CpuUsage{Timestamp: at, UsageCoreNanoSeconds: u64(cpu), UsageNanoCores: u64(uint64(10_000_000 + c))},
				Memory: &runtimeapi.MemoryUsage{
					Timestamp: at, WorkingSetBytes: u64(ws), UsageBytes: u64(ws + 16<<20), RssBytes: u64(ws - 8<<20),
					AvailableBytes: u64(512<<20 - ws), PageFaults: u64(10_000), MajorPageFaults: u64(12),
				},
				WritableLayer: &runtimeapi.FilesystemUsage{
					Timestamp:  at,
					FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"},
					UsedBytes:  u64(uint64(4096 * (c + 1))),
					InodesUsed: u64(uint64(c + 3)),
				},
			}
			st.ContainerStats = append(st.ContainerStats, cs)
			podStats.Linux.Containers = append(podStats.Linux.Containers, cs)
		}
		podStats.Linux.Cpu = &runtimeapi.CpuUsage{Timestamp: at, UsageCoreNanoSeconds: u64(podCPU)}
		podStats.Linux.Memory = &runtimeapi.MemoryUsage{Timestamp: at, WorkingSetBytes: u64(podMem)}
		st.PodSandboxStats = append(st.PodSandboxStats, podStats)
	}
	return st
}

func hexID(kind string, a, b int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", kind, a, b))
	return hex.EncodeToString(sum[:])
}

func u64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }
