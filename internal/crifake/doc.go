// Package crifake is a programmable CRI v1 runtime and image service that listens
// on a real unix socket, for tests and benchmarks. Tests set the state it serves
// (sandboxes, containers, stats, image filesystems), inject per-RPC errors and
// delays, and count the calls it received and their content-types. The socket is
// served as containerd serves it (ModePlain) or as CRI-O does (ModeCRIO: cmux
// routing each connection by its first request, with an HTTP/1 info server on
// the same socket); CRIFAKE_MODE chooses the default. It is not a runtime: it
// stores what it is told and answers with it.
package crifake
