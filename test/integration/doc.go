// Package integration runs the stats_summary receiver against a real container
// runtime: a private containerd started by internal/testenv/containerdenv, with
// pods created through CRI as the kubelet would. Its tests assert the values the
// receiver emits against what the containers did and what their cgroup files
// say at the moment of the scrape. It needs root and the packages listed in
// containerdenv.Packages; without them it fails, saying what is missing.
package integration
