// Package apiserver tests the receiver's optional pod metadata (k8s_api,
// internal/podmeta) against a real kube-apiserver v1.37.2 with its own etcd:
// the launcher in hack/apiserver, which `make test-apiserver` builds into the
// per-machine cache and names in STATSSUMMARY_APISERVER_BIN. Pods are created
// already bound to the node (spec.nodeName); no scheduler or kubelet runs, and
// the runtime is internal/crifake holding sandboxes with the API pods' UIDs.
// The RBAC is deploy/optional/rbac-podmeta.yaml's, uncommented as its header says.
// Without STATSSUMMARY_APISERVER_BIN the test fails and says so; it never
// skips.
package apiserver
