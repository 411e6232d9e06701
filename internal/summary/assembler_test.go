package summary

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/statssummary/statssummary/internal/cri"
)

type podsFunc func(context.Context) (cri.PodStatsResult, error)

func (f podsFunc) PodStats(ctx context.Context) (cri.PodStatsResult, error) { return f(ctx) }

func TestAssemblerGet(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pods := []statsapi.PodStats{{
		PodRef:     statsapi.PodReference{Name: "web", Namespace: "shop", UID: "u1"},
		Containers: []statsapi.ContainerStats{{Name: "nginx"}},
	}}
	ids := cri.ContainerInfos{{{ID: "c1", Attempt: 2}}}
	boom := errors.New("boom")

	tests := []struct {
		name     string
		provider PodStatsProvider
		wantPods []statsapi.PodStats
		wantIDs  cri.ContainerInfos
		wantErr  string
	}{
		{
			name: "pods from the provider",
			provider: podsFunc(func(context.Context) (cri.PodStatsResult, error) {
				return cri.PodStatsResult{Pods: pods, Containers: ids}, nil
			}),
			wantPods: pods,
			wantIDs:  ids,
		},
		{
			name: "a failing provider yields an empty pod list and a source error",
			provider: podsFunc(func(context.Context) (cri.PodStatsResult, error) {
				return cri.PodStatsResult{}, boom
			}),
			wantPods: []statsapi.PodStats{},
			wantErr:  "source cri: boom",
		},
		{
			name:     "no provider",
			wantPods: []statsapi.PodStats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAssembler(Options{NodeName: "node-a", Pods: tt.provider, Now: func() time.Time { return at }})
			got, err := a.Get(t.Context())
			require.NotNil(t, got)
			assert.Equal(t, "node-a", got.Summary.Node.NodeName)
			assert.Equal(t, at, got.Time)
			assert.Equal(t, tt.wantPods, got.Summary.Pods)
			assert.Equal(t, tt.wantIDs, got.Containers)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			var se *SourceError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "cri", se.Source)
			assert.ErrorIs(t, err, boom)
		})
	}
}

func TestFailedSources(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"none", nil, nil},
		{"one source", &SourceError{Source: "cri", Err: errors.New("down")}, []string{"cri"}},
		{"joined sources", errors.Join(
			&SourceError{Source: "cri", Err: errors.New("a")},
			&SourceError{Source: "cadvisor", Err: errors.New("b")},
			&SourceError{Source: "cri", Err: errors.New("c")},
		), []string{"cri", "cadvisor"}},
		{"anonymous error", errors.New("what"), []string{"unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, FailedSources(tt.err))
		})
	}
}
