// Package benchnode owns the fixtures of the performance work: the Summary of
// a synthetic node (crifake.Synthetic) assembled through the real chain (the
// CRI test server on a unix socket, gRPC, cri.Provider, summary.Assembler), a
// summary.Store that holds it, the static-bytes handler that is the floor of
// the JSON endpoint, and the bounded loopback load run that compares the two.
// Benchmarks, hack/perf and the testdata/bench export use it; the product does
// not.
package benchnode

//go:generate go run ../../hack/perf/gensummary -out ../../testdata/bench
