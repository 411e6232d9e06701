package summary

import statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

// VolumeClaims names a pod's persistent volumes as the pod spec does; the
// optional pod metadata from the API server (internal/podmeta) implements it.
type VolumeClaims interface {
	// VolumeClaim returns, for the volume of pod uid that the node names
	// after the PersistentVolume pv, its pod-spec volume name and its claim.
	VolumeClaim(uid, pv string) (name, claim string, ok bool)
}

// nameVolumesByClaim gives each of p's volumes that the node named after its
// PersistentVolume the pod-spec name and the pvcRef the kubelet reports
// (`name: data, pvcRef: {name: data-web-0}` where the node's directory is
// pvc-5a1f…), and moves its entry in types to the new name. Volumes vc does
// not know keep the node's name.
func nameVolumesByClaim(p *statsapi.PodStats, vc VolumeClaims, types map[VolumeKey]string) {
	for i := range p.VolumeStats {
		v := &p.VolumeStats[i]
		name, claim, ok := vc.VolumeClaim(p.PodRef.UID, v.Name)
		if !ok {
			continue
		}
		if typ, ok := types[VolumeKey{PodUID: p.PodRef.UID, Name: v.Name}]; ok {
			delete(types, VolumeKey{PodUID: p.PodRef.UID, Name: v.Name})
			types[VolumeKey{PodUID: p.PodRef.UID, Name: name}] = typ
		}
		v.Name = name
		v.PVCRef = &statsapi.PVCReference{Name: claim, Namespace: p.PodRef.Namespace}
	}
}
