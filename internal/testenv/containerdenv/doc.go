// Package containerdenv owns a private, throw-away container runtime for tests
// and the `make run` demo: a containerd (with runc, from the distribution's
// packages) under its own directory, config, root, state and socket, with the
// cgroupfs driver, overlayfs (native when overlay cannot be mounted), a CNI
// bridge of its own, and images built locally from busybox-static (no registry).
// Pods and containers are created through the CRI v1 API as the kubelet would,
// with the kubelet's labels, cgroup parents and log paths. Teardown removes
// everything the instance created — pods, shims, mounts, pod cgroups, the bridge,
// CNI results, sockets and the directory — and is idempotent: it also cleans up
// after an instance whose owner died. It never touches any other containerd.
// It needs root.
package containerdenv
