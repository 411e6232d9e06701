package containerdenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Kubelet labels: the runtime stores them, stats providers read them back.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// callTimeout bounds one CRI call of the harness: the kubelet's runtime
// request timeout, as a node under software emulation (the VM node) can take
// tens of seconds to start a container.
const callTimeout = 2 * time.Minute

// PodSpec describes a pod to run. Every container runs ShellImage.
type PodSpec struct {
	Name, Namespace string
	// HostNetwork puts the pod in the node's network namespace; otherwise it
	// gets its own, on the instance's bridge.
	HostNetwork bool
	// QoS is the pod's QoS class (Guaranteed, Burstable, BestEffort; empty is
	// BestEffort): it decides where its cgroup is, as the kubelet's.
	QoS        string
	Containers []ContainerSpec
}

// ContainerSpec is a container of a pod: Command runs as sh -c Command.
type ContainerSpec struct {
	Name    string
	Command string
	Env     map[string]string
	// Resources, when set, are the container's cgroup limits, as the kubelet
	// writes them from the pod spec (CPU quota and period, shares, memory limit).
	Resources *runtimeapi.LinuxContainerResources
}

// Pod is a running pod.
type Pod struct {
	Spec      PodSpec
	UID       string
	SandboxID string
	// IP is the pod's address on the bridge; empty for host-network pods.
	IP string

	driver CgroupDriver

	mu         sync.Mutex
	containers map[string]runningContainer
}

type runningContainer struct {
	id      string
	attempt uint32
}

// ContainerID returns the runtime ID of the pod's container name.
func (p *Pod) ContainerID(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.containers[name].id
}

func (p *Pod) qos() string {
	if p.Spec.QoS == "" {
		return BestEffort
	}
	return p.Spec.QoS
}

// CgroupParent is the pod's cgroup parent as the kubelet hands it to the
// runtime: a path with the cgroupfs driver, a slice name with systemd's.
func (p *Pod) CgroupParent() string { return podCgroupParent(p.driver, p.qos(), p.UID) }

// CgroupPath is the pod's cgroup relative to a hierarchy's root, e.g.
// /kubepods/besteffort/pod<uid> or
// /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice.
func (p *Pod) CgroupPath() string { return podCgroupPath(p.driver, p.qos(), p.UID) }

// PodCgroupDir is the pod's cgroup directory for one controller ("cpuacct",
// "memory", …; ignored on cgroup v2, which has one hierarchy).
func (p *Pod) PodCgroupDir(controller string) string {
	return cgroupDir(controller, p.CgroupPath())
}

// CgroupDir is a container's cgroup directory for one controller ("cpuacct",
// "memory", …; ignored on cgroup v2).
func (p *Pod) CgroupDir(controller, container string) string {
	return filepath.Join(p.PodCgroupDir(controller), containerCgroupName(p.driver, p.ContainerID(container)))
}

// PodLogsDir is where the kubelet keeps pod logs, and so where log stats
// providers look for them. Pods of an instance have unique UIDs, so their
// directories never collide with anyone else's; teardown removes them.
const PodLogsDir = "/var/log/pods"

// LogDir is the pod's log directory, named as the kubelet names it.
func (e *Env) LogDir(p *Pod) string {
	return filepath.Join(PodLogsDir, p.Spec.Namespace+"_"+p.Spec.Name+"_"+p.UID)
}

// LogPath is the log file of a container's current attempt.
func (e *Env) LogPath(p *Pod, container string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return filepath.Join(e.LogDir(p), container, fmt.Sprintf("%d.log", p.containers[container].attempt))
}

func newUID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func (p *Pod) sandboxConfig(logDir string) *runtimeapi.PodSandboxConfig {
	network := runtimeapi.NamespaceMode_POD
	hostname := p.Spec.Name
	if p.Spec.HostNetwork {
		// runc cannot set a hostname without a private UTS namespace.
		network, hostname = runtimeapi.NamespaceMode_NODE, ""
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: p.Spec.Name, Namespace: p.Spec.Namespace, Uid: p.UID},
		Hostname:     hostname,
		LogDirectory: logDir,
		Labels: map[string]string{
			labelPodName: p.Spec.Name, labelPodNamespace: p.Spec.Namespace, labelPodUID: p.UID,
		},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: p.CgroupParent(),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: network},
			},
		},
	}
}

// RunPod starts a pod sandbox and its containers, as the kubelet would.
func (e *Env) RunPod(ctx context.Context, spec PodSpec) (*Pod, error) {
	uid, err := newUID()
	if err != nil {
		return nil, err
	}
	switch spec.QoS {
	case "", Guaranteed, Burstable, BestEffort:
	default:
		return nil, fmt.Errorf("pod %s: QoS class %q: want %s, %s or %s", spec.Name, spec.QoS, Guaranteed, Burstable, BestEffort)
	}
	p := &Pod{Spec: spec, UID: uid, driver: e.CgroupDriver, containers: map[string]runningContainer{}}
	// Record the UID first: teardown finds the pod's cgroups by it.
	if err := appendLine(paths{e.Dir}.podsFile(), uid); err != nil {
		return nil, err
	}
	sbCfg := p.sandboxConfig(e.LogDir(p))
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := e.Runtime.RunPodSandbox(cctx, &runtimeapi.RunPodSandboxRequest{Config: sbCfg})
	if err != nil {
		return nil, fmt.Errorf("RunPodSandbox %s: %w", spec.Name, err)
	}
	p.SandboxID = resp.GetPodSandboxId()
	if !spec.HostNetwork {
		st, err := e.Runtime.PodSandboxStatus(cctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.SandboxID})
		if err != nil {
			return nil, fmt.Errorf("PodSandboxStatus %s: %w", spec.Name, err)
		}
		p.IP = st.GetStatus().GetNetwork().GetIp()
		if p.IP == "" {
			return nil, fmt.Errorf("pod %s has its own network namespace but no IP", spec.Name)
		}
	}
	for _, c := range spec.Containers {
		if err := e.startContainer(ctx, p, sbCfg, c, 0); err != nil {
			return nil, err
		}
	}
	e.logf("containerdenv: pod %s/%s (uid %s, ip %q) running %d containers", spec.Namespace, spec.Name, uid, p.IP, len(spec.Containers))
	return p, nil
}

func (e *Env) startContainer(ctx context.Context, p *Pod, sbCfg *runtimeapi.PodSandboxConfig, c ContainerSpec, attempt uint32) error {
	var envs []*runtimeapi.KeyValue
	for k, v := range c.Env {
		envs = append(envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:    &runtimeapi.ImageSpec{Image: ShellImage},
		Command:  []string{"sh", "-c", c.Command},
		Envs:     envs,
		LogPath:  filepath.Join(c.Name, fmt.Sprintf("%d.log", attempt)),
		Labels: map[string]string{
			labelPodName: p.Spec.Name, labelPodNamespace: p.Spec.Namespace, labelPodUID: p.UID,
			labelContainerName: c.Name,
		},
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: c.Resources,
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: sbCfg.GetLinux().GetSecurityContext().GetNamespaceOptions(),
			},
		},
	}
	// Another instance's teardown may have removed PodLogsDir since this one
	// started: whoever creates it marks it, so that its teardown removes it.
	if _, err := os.Stat(PodLogsDir); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(paths{e.Dir}.createdLogsDir(), nil, 0o600); err != nil {
			return fmt.Errorf("write marker: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(sbCfg.GetLogDirectory(), c.Name), 0o755); err != nil {
		return fmt.Errorf("container log dir: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	created, err := e.Runtime.CreateContainer(cctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: p.SandboxID, Config: cfg, SandboxConfig: sbCfg,
	})
	if err != nil {
		return fmt.Errorf("CreateContainer %s/%s: %w", p.Spec.Name, c.Name, err)
	}
	id := created.GetContainerId()
	if _, err := e.Runtime.StartContainer(cctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		return fmt.Errorf("StartContainer %s/%s: %w", p.Spec.Name, c.Name, err)
	}
	p.mu.Lock()
	p.containers[c.Name] = runningContainer{id: id, attempt: attempt}
	p.mu.Unlock()
	return nil
}

// RestartContainer stops and removes a container, then creates and starts it
// again with the next attempt number, as the kubelet restarts a container.
func (e *Env) RestartContainer(ctx context.Context, p *Pod, name string) error {
	var spec *ContainerSpec
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			spec = &p.Spec.Containers[i]
		}
	}
	if spec == nil {
		return fmt.Errorf("pod %s has no container %s", p.Spec.Name, name)
	}
	p.mu.Lock()
	old := p.containers[name]
	p.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := e.Runtime.StopContainer(cctx, &runtimeapi.StopContainerRequest{ContainerId: old.id, Timeout: 0}); err != nil {
		return fmt.Errorf("StopContainer %s/%s: %w", p.Spec.Name, name, err)
	}
	if _, err := e.Runtime.RemoveContainer(cctx, &runtimeapi.RemoveContainerRequest{ContainerId: old.id}); err != nil {
		return fmt.Errorf("RemoveContainer %s/%s: %w", p.Spec.Name, name, err)
	}
	return e.startContainer(ctx, p, p.sandboxConfig(e.LogDir(p)), *spec, old.attempt+1)
}

// RemovePod stops and removes a pod's sandbox and with it its containers.
func (e *Env) RemovePod(ctx context.Context, p *Pod) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := e.Runtime.StopPodSandbox(cctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.SandboxID}); err != nil {
		return fmt.Errorf("StopPodSandbox %s: %w", p.Spec.Name, err)
	}
	if _, err := e.Runtime.RemovePodSandbox(cctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.SandboxID}); err != nil {
		return fmt.Errorf("RemovePodSandbox %s: %w", p.Spec.Name, err)
	}
	return nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record %s: %w", path, err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("record %s: %w", path, err)
	}
	return f.Close()
}
