// Package kubeletenv runs the real kubelet standalone (no API server) for
// tests: a private containerd from internal/testenv/containerdenv, a kubelet
// binary (hack/runtimes/kubelet.sh builds v1.37.2) with a KubeletConfiguration
// written from the kubelet's own type, and static pods written as manifests.
// It waits until the kubelet's read-only port lists the pods running, so that
// a test can read the kubelet's own /stats/summary as a reference.
//
// The kubelet is a poor neighbour on a shared machine, so an instance keeps it
// to itself: its own containerd (it kills pods it did not create), its own
// cgroup root (it kills the processes of pod cgroups it does not know under its
// kubepods), its own pod logs directory (its garbage collector removes the log
// directories of pods it does not know), free ports, and a private mount
// namespace in which /var/lib/kubelet (its device-plugin socket),
// /var/log/containers (its log symlinks) and the six sysctls it would set on
// the host (kernel.panic_on_oops among them) are files of the instance.
//
// Teardown removes everything the instance made — the kubelet, its pods
// through the runtime, the containerd instance, the cgroup root with the QoS
// and pod cgroups below it (either cgroup driver), mounts and the instance
// directory — and is idempotent: Start first removes what an instance whose
// owner died left behind. It needs root.
package kubeletenv
