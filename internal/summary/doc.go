// Package summary owns the assembly of the kubelet Summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) from the stats providers. One failing
// provider never loses what the others gave: the assembler returns the partial
// Summary together with an error that names each source that failed.
package summary
