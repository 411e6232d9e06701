package testkit

import "flag"

// Update is the -update flag of every test binary with golden files: run
// `go test ./pkg/ -run TestX -update` to rewrite them from the output under
// test, then read the diff before committing it.
var Update = flag.Bool("update", false, "rewrite golden files from the output under test")
