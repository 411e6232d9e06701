// Package cri owns the conversation with the container runtime over the CRI v1
// gRPC API: a small client that bounds every call with a timeout and names the RPC
// in its errors, and a stats provider that turns the runtime's sandboxes,
// containers and stats into kubelet Summary pod and container stats. It knows
// nothing of OpenTelemetry.
package cri
