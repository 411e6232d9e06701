// Package crifake is a programmable CRI v1 runtime and image service that listens
// on a real unix socket, for tests and benchmarks. Tests set the state it serves
// (sandboxes, containers, stats, image filesystems), inject per-RPC errors and
// delays, and count the calls it received. It is not a runtime: it stores what it
// is told and answers with it.
package crifake
