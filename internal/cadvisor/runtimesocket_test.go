package cadvisor

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// listenEnv makes the test binary, run under another name, a stand-in
// runtime: it listens on the unix socket the variable names until killed.
const listenEnv = "STATSSUMMARY_TEST_LISTEN_ON"

func TestMain(m *testing.M) {
	if sock := os.Getenv(listenEnv); sock != "" {
		l, err := net.Listen("unix", sock)
		if err != nil {
			os.Exit(3)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(0)
			}
			_ = c.Close()
		}
	}
	os.Exit(m.Run())
}

// startStandIn runs a copy of the test binary named containerd listening on
// sock, and waits until the socket answers.
func startStandIn(t *testing.T, bin, sock string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), listenEnv+"="+sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			_ = c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v", bin, sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRuntimeIsTheProcessServingTheSocket: with two runtime processes on the
// machine (the node's and, say, a test's private one), the runtime is the
// one listening on the CRI socket the receiver talks to, whichever /proc
// lists first; without a socket to go by, the first one found. Real
// processes, real sockets, the real /proc.
func TestRuntimeIsTheProcessServingTheSocket(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "containerd")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	// Other containerds may run on this machine too: the stand-ins are told
	// apart from them by their sockets alone.
	first := startStandIn(t, bin, filepath.Join(dir, "a.sock"))
	second := startStandIn(t, bin, filepath.Join(dir, "b.sock"))

	for _, tt := range []struct {
		socket string
		want   int
	}{
		{filepath.Join(dir, "a.sock"), first.Process.Pid},
		{filepath.Join(dir, "b.sock"), second.Process.Pid},
		// Through a symlink to the directory, as /var/run is to /run.
		{filepath.Join(dir, "link", "b.sock"), second.Process.Pid},
	} {
		if tt.socket == filepath.Join(dir, "link", "b.sock") {
			if err := os.Symlink(dir, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
		}
		got, ok, err := findProcessCgroup("/proc", []string{"containerd"}, "cpu", tt.socket)
		if err != nil || !ok {
			t.Fatalf("findProcessCgroup(%s) = %+v, %v, %v", tt.socket, got, ok, err)
		}
		if got.pid != tt.want {
			t.Errorf("findProcessCgroup(%s) = pid %d, want %d (the process listening on it)", tt.socket, got.pid, tt.want)
		}
	}
}
