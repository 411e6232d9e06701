package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/statssummary/statssummary/internal/testenv/containerdenv"
)

func TestIdlePods(t *testing.T) {
	specs := idlePods(idleOptions{pods: 110, containers: 3, parallel: 4})
	require.Len(t, specs, 110)
	names := map[string]bool{}
	for _, s := range specs {
		assert.Equal(t, idleNamespace, s.Namespace)
		assert.False(t, s.HostNetwork, "%s: idle pods have their own network namespace", s.Name)
		require.Len(t, s.Containers, 3)
		assert.Equal(t, []string{"sleep-1", "sleep-2", "sleep-3"}, []string{s.Containers[0].Name, s.Containers[1].Name, s.Containers[2].Name})
		names[s.Name] = true
	}
	assert.Len(t, names, 110, "pod names are unique")
	assert.Equal(t, "idle-001", specs[0].Name)
	assert.Equal(t, "idle-110", specs[109].Name)
}

func TestRunOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       runOptions
		wantErr string
	}{
		{name: "default", o: runOptions{demo: true, idle: idleOptions{containers: 1, parallel: 4}}},
		{name: "110 pods with the demo", o: runOptions{demo: true, idle: idleOptions{pods: 110, containers: 3, parallel: 4}}},
		{name: "the subnet full with the demo", o: runOptions{demo: true, idle: idleOptions{pods: containerdenv.PodSubnetAddresses - demoNetnsPods, containers: 1, parallel: 1}}},
		{name: "the subnet full without the demo", o: runOptions{idle: idleOptions{pods: containerdenv.PodSubnetAddresses, containers: 1, parallel: 1}}},
		{name: "over the subnet with the demo", o: runOptions{demo: true, idle: idleOptions{pods: containerdenv.PodSubnetAddresses - 1, containers: 1, parallel: 1}}, wantErr: "2 of them taken by the demo pods"},
		{name: "over the subnet", o: runOptions{idle: idleOptions{pods: containerdenv.PodSubnetAddresses + 1, containers: 1, parallel: 1}}, wantErr: "has addresses for 253 pods"},
		{name: "negative pods", o: runOptions{idle: idleOptions{pods: -1, containers: 1, parallel: 1}}, wantErr: "-pods -1"},
		{name: "no containers", o: runOptions{idle: idleOptions{pods: 1, parallel: 1}}, wantErr: "-containers 0"},
		{name: "no parallelism", o: runOptions{idle: idleOptions{pods: 1, containers: 1}}, wantErr: "-parallel 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.check()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestIdleOptionsString(t *testing.T) {
	assert.Equal(t, "110 idle pods × 1 container", idleOptions{pods: 110, containers: 1}.String())
	assert.Equal(t, "110 idle pods × 3 containers", idleOptions{pods: 110, containers: 3}.String())
}
