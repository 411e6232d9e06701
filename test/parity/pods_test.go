package parity

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

// The static pods of the suite, each a shape whose numbers the kubelet and we
// must agree on. Every container runs the locally imported busybox image.
const (
	podBusy    = "busy"    // Guaranteed: a CPU-bound loop under a CPU limit
	podMemory  = "memory"  // Burstable: page cache held at its memory limit, a 48 MiB file in its rootfs
	podIdle    = "idle"    // BestEffort, host network: sleeps
	podWriter  = "writer"  // BestEffort: a file tree in an emptyDir, a few log lines
	podNet     = "net"     // BestEffort, own network namespace: pings the bridge
	podRestart = "restart" // a container that exits once and is restarted (restartPolicy Always)
)

// Container names.
const (
	ctrSpin    = "spin"
	ctrFill    = "fill"
	ctrSleep   = "sleep"
	ctrWrite   = "write"
	ctrPing    = "ping"
	ctrRestart = "flaky"
)

func container(name, script string, res corev1.ResourceRequirements, mounts ...corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           containerdenv.ShellImage,
		ImagePullPolicy: corev1.PullNever,
		Command:         []string{"sh", "-c", script},
		Resources:       res,
		VolumeMounts:    mounts,
	}
}

func pod(name string, hostNetwork bool, volumes []corev1.Volume, containers ...corev1.Container) corev1.Pod {
	var grace int64 = 1
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: corev1.PodSpec{
			Containers:                    containers,
			Volumes:                       volumes,
			HostNetwork:                   hostNetwork,
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
		},
	}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func quantities(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// sleepForever keeps a container alive without waking it.
const sleepForever = "while :; do sleep 3600; done"

// bridgePeers are addresses on the instance's CNI bridge (host-local hands
// out .2 upwards): the pinging pod reaches the other pods there, and asks for
// the rest by ARP, so that its eth0 carries traffic both ways.
func bridgePeers() string {
	prefix := strings.TrimSuffix(containerdenv.PodSubnet, "0/24")
	var ips []string
	for _, last := range []string{"2", "3", "4", "5", "6", "7"} {
		ips = append(ips, prefix+last)
	}
	return strings.Join(ips, " ")
}

// suitePods are the static pods, in manifest form.
func suitePods() []corev1.Pod {
	return []corev1.Pod{
		pod(podBusy, false, nil,
			container(ctrSpin, "while :; do :; done", corev1.ResourceRequirements{
				Requests: quantities("cpu", "300m", "memory", "64Mi"),
				Limits:   quantities("cpu", "300m", "memory", "64Mi"),
			})),
		// 48 MiB written through a 32 MiB limit: the page cache stays at the
		// limit, the file in the container's writable layer.
		pod(podMemory, false, nil,
			container(ctrFill, "dd if=/dev/zero of=/fill bs=1048576 count=48 2>/dev/null; "+sleepForever, corev1.ResourceRequirements{
				Requests: quantities("memory", "16Mi"),
				Limits:   quantities("memory", "32Mi"),
			})),
		pod(podIdle, true, nil,
			container(ctrSleep, sleepForever, corev1.ResourceRequirements{})),
		pod(podWriter, false, []corev1.Volume{emptyDir("scratch")},
			container(ctrWrite,
				"for i in 1 2 3 4 5; do echo \"writer line $i\"; done; "+
					"dd if=/dev/zero of=/scratch/data bs=4096 count=256 2>/dev/null; "+
					"mkdir -p /scratch/dir && touch /scratch/dir/a /scratch/dir/b /scratch/dir/c; "+sleepForever,
				corev1.ResourceRequirements{},
				corev1.VolumeMount{Name: "scratch", MountPath: "/scratch"})),
		pod(podNet, false, nil,
			container(ctrPing,
				"while :; do for ip in "+bridgePeers()+"; do ping -c 1 -W 1 -s 512 $ip >/dev/null 2>&1; done; sleep 1; done",
				corev1.ResourceRequirements{})),
		// The first run leaves a mark in its emptyDir and exits 1; the
		// kubelet restarts it (after its 10 s back-off) and the second run
		// sleeps.
		pod(podRestart, false, []corev1.Volume{emptyDir("state")},
			container(ctrRestart,
				"if [ -e /state/ran ]; then echo second run; "+sleepForever+"; fi; touch /state/ran; echo first run; exit 1",
				corev1.ResourceRequirements{},
				corev1.VolumeMount{Name: "state", MountPath: "/state"})),
	}
}
