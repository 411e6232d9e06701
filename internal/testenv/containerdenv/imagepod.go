package containerdenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImagePodSpec is a pod of one container that runs an image of the instance
// (one imported with ImportArchive) with the image's own entrypoint, as the
// kubelet runs a container whose spec sets no command.
type ImagePodSpec struct {
	Name, Namespace string
	// HostNetwork puts the pod in the node's network namespace.
	HostNetwork bool
	// Container names the container; Image is its image reference.
	Container, Image string
	// Args, when set, replace the image's cmd (its entrypoint stays).
	Args []string
	Env  map[string]string
	// Mounts are bind mounts of host paths into the container.
	Mounts []*runtimeapi.Mount
	// RunAsUser, when set, overrides the image's user.
	RunAsUser *int64
	// ReadOnlyRootfs mounts the container's root filesystem read-only.
	ReadOnlyRootfs bool
}

// RunImagePod starts the pod and its container through CRI, with the
// kubelet's labels, cgroup parent and log path, recorded for teardown as
// RunPod's pods are.
func (e *Env) RunImagePod(ctx context.Context, spec ImagePodSpec) (*Pod, error) {
	uid, err := newUID()
	if err != nil {
		return nil, err
	}
	p := &Pod{
		Spec: PodSpec{Name: spec.Name, Namespace: spec.Namespace, HostNetwork: spec.HostNetwork,
			Containers: []ContainerSpec{{Name: spec.Container}}},
		UID: uid, driver: e.CgroupDriver, containers: map[string]runningContainer{},
	}
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
	var envs []*runtimeapi.KeyValue
	for k, v := range spec.Env {
		envs = append(envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	sc := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: sbCfg.GetLinux().GetSecurityContext().GetNamespaceOptions(),
		ReadonlyRootfs:   spec.ReadOnlyRootfs,
		NoNewPrivs:       true,
		Capabilities:     &runtimeapi.Capability{DropCapabilities: []string{"ALL"}},
		Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
	}
	if spec.RunAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *spec.RunAsUser}
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: spec.Container},
		Image:    &runtimeapi.ImageSpec{Image: spec.Image},
		Args:     spec.Args,
		Envs:     envs,
		Mounts:   spec.Mounts,
		LogPath:  filepath.Join(spec.Container, "0.log"),
		Labels: map[string]string{
			labelPodName: spec.Name, labelPodNamespace: spec.Namespace, labelPodUID: uid,
			labelContainerName: spec.Container,
		},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: sc},
	}
	if err := os.MkdirAll(filepath.Join(sbCfg.GetLogDirectory(), spec.Container), 0o755); err != nil {
		return nil, fmt.Errorf("container log dir: %w", err)
	}
	created, err := e.Runtime.CreateContainer(cctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: p.SandboxID, Config: cfg, SandboxConfig: sbCfg,
	})
	if err != nil {
		return nil, fmt.Errorf("CreateContainer %s/%s: %w", spec.Name, spec.Container, err)
	}
	id := created.GetContainerId()
	if _, err := e.Runtime.StartContainer(cctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		return nil, fmt.Errorf("StartContainer %s/%s: %w", spec.Name, spec.Container, err)
	}
	p.mu.Lock()
	p.containers[spec.Container] = runningContainer{id: id}
	p.mu.Unlock()
	e.logf("containerdenv: pod %s/%s (uid %s) running image %s", spec.Namespace, spec.Name, uid, spec.Image)
	return p, nil
}
