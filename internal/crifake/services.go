package crifake

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Version answers as a runtime named "crifake", or as SetRuntime said.
func (s *Server) Version(ctx context.Context, _ *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	if _, err := s.enter(ctx, "Version"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	name, v := s.runtimeName, s.version
	s.mu.Unlock()
	if name == "" {
		name = "crifake"
	}
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       name,
		RuntimeVersion:    v,
		RuntimeApiVersion: "v1",
	}, nil
}

// ListPodSandbox serves the state's sandboxes, honouring the id and state filters.
func (s *Server) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	st, err := s.enter(ctx, "ListPodSandbox")
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	var items []*runtimeapi.PodSandbox
	for _, sb := range st.Sandboxes {
		if f.GetId() != "" && sb.GetId() != f.GetId() {
			continue
		}
		if f.GetState() != nil && sb.GetState() != f.GetState().GetState() {
			continue
		}
		items = append(items, sb)
	}
	return &runtimeapi.ListPodSandboxResponse{Items: items}, nil
}

// ListContainers serves the state's containers, honouring the id, sandbox and
// state filters.
func (s *Server) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	st, err := s.enter(ctx, "ListContainers")
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	var items []*runtimeapi.Container
	for _, c := range st.Containers {
		if f.GetId() != "" && c.GetId() != f.GetId() {
			continue
		}
		if f.GetPodSandboxId() != "" && c.GetPodSandboxId() != f.GetPodSandboxId() {
			continue
		}
		if f.GetState() != nil && c.GetState() != f.GetState().GetState() {
			continue
		}
		items = append(items, c)
	}
	return &runtimeapi.ListContainersResponse{Containers: items}, nil
}

// ListContainerStats serves the state's container stats, honouring the id and
// sandbox filters.
func (s *Server) ListContainerStats(ctx context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	st, err := s.enter(ctx, "ListContainerStats")
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	sandboxOf := make(map[string]string, len(st.Containers))
	for _, c := range st.Containers {
		sandboxOf[c.GetId()] = c.GetPodSandboxId()
	}
	var items []*runtimeapi.ContainerStats
	for _, cs := range st.ContainerStats {
		id := cs.GetAttributes().GetId()
		if f.GetId() != "" && id != f.GetId() {
			continue
		}
		if f.GetPodSandboxId() != "" && sandboxOf[id] != f.GetPodSandboxId() {
			continue
		}
		items = append(items, cs)
	}
	return &runtimeapi.ListContainerStatsResponse{Stats: items}, nil
}

// ListPodSandboxStats serves the state's pod sandbox stats, honouring the id
// filter. It answers Unimplemented while the state's PodSandboxStats is nil.
func (s *Server) ListPodSandboxStats(ctx context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	st, err := s.enter(ctx, "ListPodSandboxStats")
	if err != nil {
		return nil, err
	}
	if st.PodSandboxStats == nil {
		return nil, status.Error(codes.Unimplemented, "crifake: ListPodSandboxStats is not implemented (no pod sandbox stats set)")
	}
	f := req.GetFilter()
	var items []*runtimeapi.PodSandboxStats
	for _, ps := range st.PodSandboxStats {
		if f.GetId() != "" && ps.GetAttributes().GetId() != f.GetId() {
			continue
		}
		items = append(items, ps)
	}
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: items}, nil
}

// ImageFsInfo serves the state's image filesystems (an empty answer when unset).
func (s *Server) ImageFsInfo(ctx context.Context, _ *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	st, err := s.enter(ctx, "ImageFsInfo")
	if err != nil {
		return nil, err
	}
	if st.ImageFs == nil {
		return &runtimeapi.ImageFsInfoResponse{}, nil
	}
	return st.ImageFs, nil
}

// PodSandboxStatus serves the state's status of the sandbox, or one built from
// the listed sandbox (in its own network namespace) when the state has none;
// NotFound for a sandbox that is not listed.
func (s *Server) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	st, err := s.enter(ctx, "PodSandboxStatus")
	if err != nil {
		return nil, err
	}
	id := req.GetPodSandboxId()
	for _, ss := range st.SandboxStatuses {
		if ss.GetId() == id {
			return &runtimeapi.PodSandboxStatusResponse{Status: ss}, nil
		}
	}
	for _, sb := range st.Sandboxes {
		if sb.GetId() != id {
			continue
		}
		return &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{
			Id:          sb.GetId(),
			Metadata:    sb.GetMetadata(),
			State:       sb.GetState(),
			CreatedAt:   sb.GetCreatedAt(),
			Network:     &runtimeapi.PodSandboxNetworkStatus{},
			Linux:       &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER}}},
			Labels:      sb.GetLabels(),
			Annotations: sb.GetAnnotations(),
		}}, nil
	}
	return nil, status.Errorf(codes.NotFound, "crifake: pod sandbox %q not found", id)
}

// ListPodSandboxMetrics serves the state's pod sandbox metrics; Unimplemented
// while they are nil.
func (s *Server) ListPodSandboxMetrics(ctx context.Context, _ *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	st, err := s.enter(ctx, "ListPodSandboxMetrics")
	if err != nil {
		return nil, err
	}
	if st.PodSandboxMetrics == nil {
		return nil, status.Error(codes.Unimplemented, "crifake: ListPodSandboxMetrics is not implemented (no pod sandbox metrics set)")
	}
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: st.PodSandboxMetrics}, nil
}

// ListMetricDescriptors serves the state's metric descriptors; Unimplemented
// while they are nil.
func (s *Server) ListMetricDescriptors(ctx context.Context, _ *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	st, err := s.enter(ctx, "ListMetricDescriptors")
	if err != nil {
		return nil, err
	}
	if st.MetricDescriptors == nil {
		return nil, status.Error(codes.Unimplemented, "crifake: ListMetricDescriptors is not implemented (no metric descriptors set)")
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: st.MetricDescriptors}, nil
}
