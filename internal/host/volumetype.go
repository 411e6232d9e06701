package host

import "strings"

// volumeTypes maps the kubelet's volume plugin directory names
// (pods/<uid>/volumes/<plugin>) to the pod spec's volume source names, the
// values k8s.volume.type takes.
var volumeTypes = map[string]string{
	"kubernetes.io~empty-dir":    "emptyDir",
	"kubernetes.io~configmap":    "configMap",
	"kubernetes.io~secret":       "secret",
	"kubernetes.io~projected":    "projected",
	"kubernetes.io~downward-api": "downwardAPI",
	"kubernetes.io~git-repo":     "gitRepo",
	"kubernetes.io~csi":          "csi",
	"kubernetes.io~nfs":          "nfs",
	"kubernetes.io~local-volume": "local",
	"kubernetes.io~iscsi":        "iscsi",
	"kubernetes.io~fc":           "fc",
	"kubernetes.io~cephfs":       "cephfs",
	"kubernetes.io~rbd":          "rbd",
	"kubernetes.io~aws-ebs":      "awsElasticBlockStore",
	"kubernetes.io~gce-pd":       "gcePersistentDisk",
	"kubernetes.io~azure-disk":   "azureDisk",
	"kubernetes.io~azure-file":   "azureFile",
}

// VolumeType names the volume source of a plugin directory; a plugin this
// table does not know is named by its directory without the vendor prefix
// (a flex volume "example.com~lvm" is "lvm").
func VolumeType(pluginDir string) string {
	if t, ok := volumeTypes[pluginDir]; ok {
		return t
	}
	if _, name, ok := strings.Cut(pluginDir, "~"); ok && name != "" {
		return name
	}
	return pluginDir
}
