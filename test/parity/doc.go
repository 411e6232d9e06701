// Package parity compares the stats_summary receiver with the kubelet itself:
// a standalone kubelet (internal/testenv/kubeletenv, the binary built by
// hack/runtimes/kubelet.sh) runs static pods on a private containerd, the real
// receiver reads the same runtime, and the suite reads both /stats/summary
// JSONs for the same pods at the same moment and compares every field of
// both trees. docs/kubelet-parity.md lists the fields where we differ on
// purpose, and the tolerances; it is generated from the rules the test
// applies. It needs root and $STATSSUMMARY_KUBELET_BIN (make test-parity);
// without them it fails, saying what is missing.
package parity
