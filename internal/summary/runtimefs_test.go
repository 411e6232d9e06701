package summary

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
)

type runtimeFsFunc func(context.Context) (*statsapi.RuntimeStats, error)

func (f runtimeFsFunc) ImageFsStats(ctx context.Context) (*statsapi.RuntimeStats, error) {
	return f(ctx)
}

// TestAssemblerRuntimeFs checks that the runtime's filesystems land in
// Node.Runtime, that their failure is a cri source error that keeps the pods,
// and that they are not asked for when the runtime already failed.
func TestAssemblerRuntimeFs(t *testing.T) {
	used := uint64(3 << 30)
	rt := &statsapi.RuntimeStats{ImageFs: &statsapi.FsStats{UsedBytes: &used}, ContainerFs: &statsapi.FsStats{UsedBytes: &used}}
	pods := []statsapi.PodStats{{PodRef: statsapi.PodReference{Name: "web", Namespace: "shop", UID: "u1"}}}
	podsOK := podsFunc(func(context.Context) (cri.PodStatsResult, error) { return cri.PodStatsResult{Pods: pods}, nil })
	podsDown := podsFunc(func(context.Context) (cri.PodStatsResult, error) {
		return cri.PodStatsResult{}, errors.New("runtime down")
	})

	tests := []struct {
		name        string
		pods        PodStatsProvider
		fsErr       error
		wantRuntime *statsapi.RuntimeStats
		wantPods    int
		wantErr     string
		wantFsCalls int
	}{
		{name: "both answer", pods: podsOK, wantRuntime: rt, wantPods: 1, wantFsCalls: 1},
		{name: "image fs fails, pods kept", pods: podsOK, fsErr: errors.New("cri ImageFsInfo: boom"), wantPods: 1, wantErr: "source cri: cri ImageFsInfo: boom", wantFsCalls: 1},
		{name: "runtime down: image fs not asked", pods: podsDown, wantErr: "source cri: runtime down", wantFsCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			fs := runtimeFsFunc(func(context.Context) (*statsapi.RuntimeStats, error) {
				calls++
				if tt.fsErr != nil {
					return nil, tt.fsErr
				}
				return rt, nil
			})
			got, err := NewAssembler(Options{NodeName: "n", Pods: tt.pods, RuntimeFs: fs}).Get(t.Context())
			assert.Equal(t, tt.wantFsCalls, calls)
			assert.Equal(t, tt.wantRuntime, got.Summary.Node.Runtime)
			assert.Len(t, got.Summary.Pods, tt.wantPods)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
