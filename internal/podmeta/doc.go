// Package podmeta owns the receiver's optional view of the API server (off
// by default): a node-scoped watch of pods (a client-go shared informer, field
// selector spec.nodeName, RBAC get/list/watch on pods) that gives, per pod
// UID, what the node cannot know — chosen labels, each container's CPU and
// memory requests and limits as the spec sets them, pod-level resources
// (spec.resources, KEP-2837) and the claims of its volumes; with
// ResolveVolumeClaims also the PersistentVolume bound to each claim (one get
// per claim, RBAC get on persistentvolumeclaims), which links the node's
// name of a persistent volume to the pod-spec name and the claim the kubelet
// reports. It never blocks a scrape: readers get what the informer has
// received, and while the API server is unreachable the metadata already
// known stays until a new list replaces it. Config is the receiver's k8s_api
// section and builds the client (serviceAccount, kubeConfig or none, as
// contrib's k8sconfig names them).
package podmeta
