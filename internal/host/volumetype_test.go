package host

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVolumeType(t *testing.T) {
	tests := map[string]string{
		"kubernetes.io~empty-dir":    "emptyDir",
		"kubernetes.io~configmap":    "configMap",
		"kubernetes.io~projected":    "projected",
		"kubernetes.io~downward-api": "downwardAPI",
		"kubernetes.io~csi":          "csi",
		"example.com~lvm":            "lvm",
		"odd":                        "odd",
		"trailing~":                  "trailing~",
	}
	for dir, want := range tests {
		assert.Equal(t, want, VolumeType(dir), dir)
	}
}
