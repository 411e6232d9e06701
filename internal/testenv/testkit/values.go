package testkit

import runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

// P64 is a pointer to v, as the Summary's optional counters are.
func P64(v uint64) *uint64 { return &v }

// U64 is v as a CRI UInt64Value, as the runtime's optional counters are.
func U64(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }
