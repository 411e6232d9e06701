package cri

import (
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
	"github.com/statssummary/statssummary/internal/testenv/fakeclock"
	"github.com/statssummary/statssummary/internal/testenv/testkit"
)

// t0 is the fixtures' time origin: sandboxes and containers are created at
// offsets from it, stats sampled at later offsets.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

const (
	ready    = runtimeapi.PodSandboxState_SANDBOX_READY
	notReady = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	running  = runtimeapi.ContainerState_CONTAINER_RUNNING
	exited   = runtimeapi.ContainerState_CONTAINER_EXITED
	created  = runtimeapi.ContainerState_CONTAINER_CREATED
	unknown  = runtimeapi.ContainerState_CONTAINER_UNKNOWN
)

// sandbox is a pod sandbox in namespace "shop".
func sandbox(id, name, uid string, state runtimeapi.PodSandboxState, createdAt time.Duration) *runtimeapi.PodSandbox {
	return &runtimeapi.PodSandbox{
		Id:        id,
		Metadata:  &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "shop", Uid: uid},
		State:     state,
		CreatedAt: at(createdAt),
	}
}

func container(id, sandboxID, name string, state runtimeapi.ContainerState, createdAt time.Duration) *runtimeapi.Container {
	return &runtimeapi.Container{
		Id:           id,
		PodSandboxId: sandboxID,
		Metadata:     &runtimeapi.ContainerMetadata{Name: name},
		State:        state,
		CreatedAt:    at(createdAt),
	}
}

// cpuMem is container stats with CPU (counter cpuNs, no runtime rate) and a
// working set, sampled at 100 s.
func cpuMem(id string, cpuNs, workingSet uint64) *runtimeapi.ContainerStats {
	return &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{Id: id},
		Cpu:        &runtimeapi.CpuUsage{Timestamp: at(100 * time.Second), UsageCoreNanoSeconds: testkit.U64(cpuNs)},
		Memory:     &runtimeapi.MemoryUsage{Timestamp: at(100 * time.Second), WorkingSetBytes: testkit.U64(workingSet)},
	}
}

// newTestProvider is a provider talking to srv over its real socket. Unless
// opts sets one, its clock stands still at t0+200s.
func newTestProvider(t *testing.T, srv *crifake.Server, opts Options) *Provider {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fakeclock.New(t0.Add(200 * time.Second)).Now
	}
	return NewProvider(NewClient(dialFake(t, srv), 2*time.Second), opts)
}
