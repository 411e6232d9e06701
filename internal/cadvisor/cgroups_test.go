package cadvisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPodUIDFromCgroup(t *testing.T) {
	tests := []struct {
		dir    string
		uid    string
		wantOK bool
	}{
		{"pod5b4a39c2-7a1e-4c55-9a0b-2f0f1c3d4e5f", "5b4a39c2-7a1e-4c55-9a0b-2f0f1c3d4e5f", true},
		{"kubepods-burstable-pod5b4a39c2_7a1e_4c55_9a0b_2f0f1c3d4e5f.slice", "5b4a39c2-7a1e-4c55-9a0b-2f0f1c3d4e5f", true},
		{"kubepods-pod0123abcd.slice", "0123abcd", true},
		{"burstable", "", false},
		{"kubepods-besteffort.slice", "", false},
		{"pod", "", false},
		{"podxyz", "xyz", false},
	}
	for _, tt := range tests {
		uid, ok := podUIDFromCgroup(tt.dir)
		if ok != tt.wantOK || (ok && uid != tt.uid) {
			t.Errorf("podUIDFromCgroup(%q) = %q, %v; want %q, %v", tt.dir, uid, ok, tt.uid, tt.wantOK)
		}
	}
}

func TestContainerIDFromCgroup(t *testing.T) {
	id := "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	tests := []struct {
		dir    string
		wantOK bool
	}{
		{id, true},
		{"cri-containerd-" + id + ".scope", true},
		{"crio-" + id + ".scope", true},
		{"crio-conmon-" + id + ".scope", false},
		{"not-a-container", false},
	}
	for _, tt := range tests {
		got, ok := containerIDFromCgroup(tt.dir)
		if ok != tt.wantOK || (ok && got != id) {
			t.Errorf("containerIDFromCgroup(%q) = %q, %v; want ok=%v", tt.dir, got, ok, tt.wantOK)
		}
	}
}

func TestListPodCgroups(t *testing.T) {
	mount := t.TempDir()
	for _, d := range []string{
		"kubepods/pod11111111-aaaa",
		"kubepods/burstable/pod22222222-bbbb/0123456789abcdef0123",
		"kubepods/besteffort/pod33333333-cccc",
		"kubepods/burstable/notapod",
	} {
		if err := os.MkdirAll(filepath.Join(mount, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := listPodCgroups(mount, "/kubepods")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"11111111-aaaa": "/kubepods/pod11111111-aaaa",
		"22222222-bbbb": "/kubepods/burstable/pod22222222-bbbb",
		"33333333-cccc": "/kubepods/besteffort/pod33333333-cccc",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pods (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"0123456789abcdef0123": "/kubepods/burstable/pod22222222-bbbb/0123456789abcdef0123"},
		listContainerCgroups(mount, "/kubepods/burstable/pod22222222-bbbb")); d != "" {
		t.Errorf("containers (-want +got):\n%s", d)
	}
	if _, err := listPodCgroups(mount, "/missing"); err == nil {
		t.Error("want an error for a missing kubepods root")
	}
	if got := detectPodsCgroup(mount); got != "/kubepods" {
		t.Errorf("detectPodsCgroup = %q, want /kubepods", got)
	}
}

func TestDefaultInterface(t *testing.T) {
	const header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	tests := []struct {
		name, table, want string
	}{
		{"single default", "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", "eth0"},
		{"lowest metric wins", "wlan0\t00000000\t01010101\t0003\t0\t0\t600\t00000000\t0\t0\t0\nens5\t00000000\t01010101\t0003\t0\t0\t100\t00000000\t0\t0\t0\n", "ens5"},
		{"route down ignored", "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n", ""},
		{"no default", "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "route")
			if err := os.WriteFile(f, []byte(header+tt.table), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := defaultInterface(f)
			if err != nil || got != tt.want {
				t.Errorf("defaultInterface = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := defaultInterface(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("want an error naming the missing file")
	}
}

func TestNanoCores(t *testing.T) {
	at := time.Unix(100, 0)
	tests := []struct {
		name string
		prev *cpuSample
		cur  cpuSample
		want *uint64
	}{
		{"first sample", nil, cpuSample{usage: 5e9, at: at}, nil},
		{"one core for 2s", &cpuSample{usage: 1e9, at: at}, cpuSample{usage: 3e9, at: at.Add(2 * time.Second)}, u64(1e9)},
		{"counter reset", &cpuSample{usage: 9e9, at: at}, cpuSample{usage: 1e9, at: at.Add(time.Second)}, nil},
		{"no time passed", &cpuSample{usage: 1e9, at: at}, cpuSample{usage: 2e9, at: at}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, nanoCores(tt.prev, tt.cur)); d != "" {
				t.Errorf("nanoCores (-want +got):\n%s", d)
			}
		})
	}
}

func TestFindRuntimeCgroup(t *testing.T) {
	proc := t.TempDir()
	write := func(pid, comm, cgroup string) {
		dir := filepath.Join(proc, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1", "systemd", "1:cpu,cpuacct:/\n0::/init.scope\n")
	write("812", "containerd", "12:memory:/system.slice/containerd.service\n4:cpu,cpuacct:/system.slice/containerd.service\n0::/system.slice/containerd.service\n")
	write("900", "crio", "0::/system.slice/crio.service\n")

	tests := []struct {
		names []string
		ctrl  string
		want  string
	}{
		{[]string{"containerd"}, "cpu", "/system.slice/containerd.service"},
		{[]string{"crio"}, "cpu", "/system.slice/crio.service"}, // cgroup v2: the unified entry
		{[]string{"dockerd"}, "cpu", ""},
	}
	for _, tt := range tests {
		got, ok, err := findProcessCgroup(proc, tt.names, tt.ctrl, "")
		if err != nil || got.cgroup != tt.want || ok != (tt.want != "") {
			t.Errorf("findProcessCgroup(%v) = %+v, %v, %v; want %q", tt.names, got, ok, err, tt.want)
		}
	}
	if _, err := processCgroup(proc, 4242, "cpu"); err == nil {
		t.Error("want an error naming the missing cgroup file")
	}
}

func TestNetDev(t *testing.T) {
	f := filepath.Join(t.TempDir(), "dev")
	content := "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n" +
		"    lo:  10 1 0 0 0 0 0 0  10 1 0 0 0 0 0 0\n" +
		"  eth0: 1500 12 3 0 0 0 0 0 2500 20 4 0 0 0 0 0\n"
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := netDev(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "eth0" || *got[0].RxBytes != 1500 || *got[0].RxErrors != 3 || *got[0].TxBytes != 2500 || *got[0].TxErrors != 4 {
		t.Errorf("netDev = %+v, want eth0 only with 1500/3/2500/4", got)
	}
	if err := os.WriteFile(f, []byte(strings.Replace(content, "1500", "x", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := netDev(f); err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("bad counter: err = %v, want one naming %s", err, f)
	}
}

func TestReadMeminfo(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    meminfo
		wantErr string
	}{
		{"with swap", "MemTotal:       24684084 kB\nMemFree: 1 kB\nSwapTotal:       2097148 kB\nSwapFree:        1048576 kB\n",
			meminfo{memTotal: 24684084 * 1024, swapTotal: 2097148 * 1024, swapFree: 1048576 * 1024}, ""},
		{"no swap", "MemTotal: 1000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", meminfo{memTotal: 1000 * 1024}, ""},
		{"no MemTotal", "MemFree: 1 kB\n", meminfo{}, "no MemTotal"},
		{"bad value", "MemTotal: lots kB\n", meminfo{}, "MemTotal \"lots\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "meminfo")
			if err := os.WriteFile(f, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readMeminfo(f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), f) {
					t.Fatalf("err = %v, want one naming %s and %q", err, f, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("readMeminfo = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
