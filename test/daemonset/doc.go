// Package daemonset proves what the project ships on real parts: the image
// `make image` writes is imported into a private containerd 2.x with `ctr
// images import` and runs as a pod through CRI (TestImageOnContainerd), and
// the DaemonSet the Helm chart renders runs, as a static pod from that image,
// under a real kubelet (internal/testenv/kubeletenv), where the collector in
// the pod must report the same node and pods as the receiver run in-process
// against the same runtime (TestDaemonSetOnKubelet). It needs root,
// $STATSSUMMARY_IMAGE (the archive), $STATSSUMMARY_IMAGE_REF,
// $STATSSUMMARY_CONTAINERD_BIN and $STATSSUMMARY_KUBELET_BIN, which `make
// test-daemonset` sets; without them it fails, saying what is missing.
package daemonset
