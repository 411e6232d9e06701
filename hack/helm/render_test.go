package main

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const (
	chartDir  = "../../deploy/helm/statssummary"
	deployDir = "../../deploy"
	// chartName is the chart's path as the generated files' header names it.
	chartName = "deploy/helm/statssummary"
)

func render(t *testing.T, set ...string) map[string]string {
	t.Helper()
	docs, err := Render(Request{Chart: chartDir, Release: DefaultRelease, Namespace: DefaultNamespace, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	return Files(docs, Header(chartName))
}

// TestManifestsAreTheChartRendered: deploy/*.yaml are the chart rendered with
// its default values (`make manifests`), file for file and byte for byte, and
// deploy/ holds no other manifest.
func TestManifestsAreTheChartRendered(t *testing.T) {
	files := render(t)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "configmap.yaml daemonset.yaml serviceaccount.yaml" {
		t.Errorf("the chart renders %v", names)
	}
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(deployDir, n))
		if err != nil {
			t.Errorf("deploy/%s: %v (run make manifests)", n, err)
			continue
		}
		if string(got) != files[n] {
			t.Errorf("deploy/%s differs from the chart rendered with its defaults: run make manifests and commit the result\n%s", n, firstDiff(string(got), files[n]))
		}
	}
	on, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range on {
		if _, ok := files[filepath.Base(p)]; !ok {
			t.Errorf("deploy/%s is not rendered from the chart: remove it or add it to the chart", filepath.Base(p))
		}
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  deploy: " + x + "\n  chart:  " + y
		}
	}
	return ""
}

// TestRuntimes: each runtime type names its socket, mounts the socket's
// directory and its storage directory read-only, and names its cgroup.
func TestRuntimes(t *testing.T) {
	for _, tc := range []struct {
		runtime, endpoint, socketDir, storageDir, cgroup string
	}{
		{"containerd", "unix:///run/containerd/containerd.sock", "/run/containerd", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", "/system.slice/containerd.service"},
		{"crio", "unix:///var/run/crio/crio.sock", "/var/run/crio", "/var/lib/containers/storage", "/system.slice/crio.service"},
		{"k3s", "unix:///run/k3s/containerd/containerd.sock", "/run/k3s/containerd", "/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs", "/system.slice/k3s.service"},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			f := render(t, "runtime.type="+tc.runtime)
			for _, want := range []string{"endpoint: " + tc.endpoint, "runtime_cgroup: " + tc.cgroup} {
				if !strings.Contains(f["configmap.yaml"], want) {
					t.Errorf("config lacks %q", want)
				}
			}
			for _, dir := range []string{tc.socketDir, tc.storageDir} {
				if !strings.Contains(f["daemonset.yaml"], "mountPath: "+dir+"\n              readOnly: true") {
					t.Errorf("%s is not mounted read-only", dir)
				}
				if !strings.Contains(f["daemonset.yaml"], "path: "+dir+"\n") {
					t.Errorf("%s is not a host path", dir)
				}
			}
		})
	}
}

func TestValuesOverride(t *testing.T) {
	f := render(t,
		"runtime.socket=/srv/rt/cri.sock", "runtime.cgroup=-", "exporter.protocol=http",
		"exporter.endpoint=https://gateway.example.com:4318", "jsonEndpoint.enabled=false", "pprof.enabled=true",
		"kubelet.rootDir=/srv/kubelet", "hostPID=true")
	cm, ds := f["configmap.yaml"], f["daemonset.yaml"]
	for _, want := range []string{"endpoint: unix:///srv/rt/cri.sock", "otlphttp:\n        endpoint: https://gateway.example.com:4318",
		"exporters: [otlphttp]", "extensions: [health_check, pprof]", "kubelet_root_dir: /srv/kubelet"} {
		if !strings.Contains(cm, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	for _, absent := range []string{"runtime_cgroup", "server:", "otlp:\n"} {
		if strings.Contains(cm, absent) {
			t.Errorf("config has %q", absent)
		}
	}
	for _, want := range []string{"mountPath: /srv/rt\n", "mountPath: /srv/kubelet/pods\n", "hostPID: true"} {
		if !strings.Contains(ds, want) {
			t.Errorf("daemonset lacks %q", want)
		}
	}
}

func TestBadValuesRefused(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"runtime.type=docker", `runtime.type "docker": want one of containerd, crio, k3s`},
		{"exporter.protocol=udp", `exporter.protocol "udp": want grpc or http`},
		{"runtime.socket=relative.sock", `runtime.socket "relative.sock": want an absolute path`},
	} {
		_, err := Render(Request{Chart: chartDir, Release: DefaultRelease, Namespace: DefaultNamespace, Set: []string{tc.set}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: error %v, want %q", tc.set, err, tc.want)
		}
	}
}
