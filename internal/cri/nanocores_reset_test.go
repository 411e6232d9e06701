package cri

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRateResetSeenByEveryReader: when a sample shows the counter went
// backwards, every reader of that same sample is told of the reset, so none
// falls back to the runtime's rate (which a runtime without a reset guard
// computes across the reset). Found by FuzzPodStats: two containers sharing
// an ID, the second read of the reset sample kept the runtime's rate.
func TestRateResetSeenByEveryReader(t *testing.T) {
	now := t0
	c := newRateCache()
	runtime := p64(12336)
	tests := []struct {
		name      string
		sample    cpuSample
		wantReset bool
		wantRate  *uint64 // after chooseNanoCores with the runtime's rate
	}{
		{"first sample: the runtime's rate", cpuSample{ts: at(0), total: 5e9}, false, runtime},
		{"counter backwards: reset, no rate", cpuSample{ts: at(10 * time.Second), total: 1e9}, true, nil},
		{"the same sample again: still a reset", cpuSample{ts: at(10 * time.Second), total: 1e9}, true, nil},
		{"a later sample: our rate since the reset", cpuSample{ts: at(20 * time.Second), total: 2e9}, false, p64(1e8)},
		{"that sample again: no reset, the same rate", cpuSample{ts: at(20 * time.Second), total: 2e9}, false, p64(1e8)},
	}
	for _, tt := range tests {
		computed, reset := c.observe(rateKey{id: "c"}, tt.sample, now)
		assert.Equal(t, tt.wantReset, reset, tt.name)
		assert.Equal(t, tt.wantRate, chooseNanoCores(runtime, computed, reset), tt.name)
	}
}
