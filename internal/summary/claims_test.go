package summary

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// mapClaims knows volumes by pod UID and PersistentVolume name.
type mapClaims map[VolumeKey][2]string

func (m mapClaims) VolumeClaim(uid, pv string) (string, string, bool) {
	v, ok := m[VolumeKey{PodUID: uid, Name: pv}]
	return v[0], v[1], ok
}

func TestNameVolumesByClaim(t *testing.T) {
	p := statsapi.PodStats{
		PodRef: statsapi.PodReference{Name: "web-0", Namespace: "shop", UID: "u1"},
		VolumeStats: []statsapi.VolumeStats{
			{Name: "pvc-5a1f"}, // a persistent CSI volume, named by the node after its PV
			{Name: "cache"},    // an emptyDir
		},
	}
	types := map[VolumeKey]string{{PodUID: "u1", Name: "pvc-5a1f"}: "csi", {PodUID: "u1", Name: "cache"}: "emptyDir"}
	nameVolumesByClaim(&p, mapClaims{{PodUID: "u1", Name: "pvc-5a1f"}: {"data", "data-web-0"}}, types)
	want := []statsapi.VolumeStats{
		{Name: "data", PVCRef: &statsapi.PVCReference{Name: "data-web-0", Namespace: "shop"}},
		{Name: "cache"},
	}
	if d := cmp.Diff(want, p.VolumeStats); d != "" {
		t.Errorf("volumes (-want +got):\n%s", d)
	}
	wantTypes := map[VolumeKey]string{{PodUID: "u1", Name: "data"}: "csi", {PodUID: "u1", Name: "cache"}: "emptyDir"}
	if d := cmp.Diff(wantTypes, types); d != "" {
		t.Errorf("types (-want +got):\n%s", d)
	}
}
