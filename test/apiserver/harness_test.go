package apiserver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest/observer"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// binEnv names the directory holding the launcher (hack/runtimes/apiserver.sh
// prints it).
const binEnv = "STATSSUMMARY_APISERVER_BIN"

// apiServer is one run of the launcher: kube-apiserver and etcd in one
// process, its state (etcd's data, certificates, port) in dir.
type apiServer struct {
	t      *testing.T
	bin    string
	dir    string
	URL    string
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

// startAPIServer runs the launcher on dir (a fresh cluster, or the one an
// earlier run left there) and waits until it answers /readyz.
func startAPIServer(t *testing.T, dir string) *apiServer {
	t.Helper()
	binDir := os.Getenv(binEnv)
	if binDir == "" {
		t.Fatalf("%s is not set: run `make test-apiserver`, which builds kube-apiserver v1.37.2 (hack/apiserver) and sets it", binEnv)
	}
	s := &apiServer{t: t, bin: filepath.Join(binDir, "apiserver"), dir: dir}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.dumpLog()
		}
	})
	return s
}

func (s *apiServer) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "apiserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = log
	cmd := exec.Command(s.bin, "-dir", s.dir)
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	s.cmd, s.exited = cmd, make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- url
			}
		}
	}()
	go func() { s.exited <- cmd.Wait() }()
	select {
	case s.URL = <-ready:
	case err := <-s.exited:
		s.exited <- err
		s.dumpLog()
		s.t.Fatalf("%s exited before it was ready: %v", s.bin, err)
	case <-time.After(3 * time.Minute):
		s.dumpLog()
		s.t.Fatalf("%s not ready after 3 minutes", s.bin)
	}
}

// stop sends SIGTERM and waits for the process (SIGKILL after 60 s).
func (s *apiServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Logf("%s after SIGTERM: %v", s.bin, err)
		}
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		s.t.Errorf("%s ignored SIGTERM for a minute: killed (%v)", s.bin, err)
	}
	s.cmd = nil
	_ = s.log.Close()
}

func (s *apiServer) dumpLog() {
	b, _ := os.ReadFile(filepath.Join(s.dir, "apiserver.log"))
	lines := strings.Split(string(b), "\n")
	s.t.Logf("last lines of %s:\n%s", filepath.Join(s.dir, "apiserver.log"), strings.Join(lines[max(0, len(lines)-60):], "\n"))
}

// admin is a client with the launcher's superuser.
func (s *apiServer) admin(t *testing.T) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "admin.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serviceAccount is what a pod running as the service account would have: a
// token (from the TokenRequest API, as the kubelet gets it) and the CA in a
// directory laid out as /var/run/secrets/kubernetes.io/serviceaccount, and a
// kubeconfig with the same credentials.
type serviceAccount struct {
	Dir        string // token, ca.crt
	Kubeconfig string
}

func (s *apiServer) serviceAccountCredentials(t *testing.T, admin kubernetes.Interface, namespace, name string) serviceAccount {
	t.Helper()
	tr, err := admin.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	dir := filepath.Join(t.TempDir(), "serviceaccount")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(s.dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "ca.crt"), ca)
	write(t, filepath.Join(dir, "token"), []byte(tr.Status.Token))
	kc := filepath.Join(dir, "kubeconfig")
	write(t, kc, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- {name: test, cluster: {server: %q, certificate-authority: %q}}
users:
- {name: sa, user: {tokenFile: %q}}
contexts:
- {name: sa, context: {cluster: test, user: sa}}
current-context: sa
`, s.URL, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "token")))
	return serviceAccount{Dir: dir, Kubeconfig: kc}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// rbacManifest is deploy/optional/rbac-podmeta.yaml uncommented as its header tells a
// user to: its documents start at the first "# apiVersion:" line, and each
// line from there loses its leading "# "; withClaims also uncomments the
// persistentvolumeclaims rule (its lines lose one more "#").
func rbacManifest(t *testing.T, withClaims bool) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "optional", "rbac-podmeta.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	started := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "# apiVersion:") {
			started = true
		}
		if !started {
			continue
		}
		if line == "#" {
			line = ""
		}
		line = strings.TrimPrefix(line, "# ")
		if withClaims {
			line = strings.TrimPrefix(line, "#")
		}
		out = append(out, line)
	}
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(strings.Join(out, "\n"), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("rbac-podmeta.yaml document %d: %v", i, err)
		}
		switch tm.Kind {
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			err = yaml.UnmarshalStrict([]byte(doc), role)
		case "ClusterRoleBinding":
			binding = &rbacv1.ClusterRoleBinding{}
			err = yaml.UnmarshalStrict([]byte(doc), binding)
		default:
			t.Fatalf("rbac-podmeta.yaml document %d: kind %q", i, tm.Kind)
		}
		if err != nil {
			t.Fatalf("rbac-podmeta.yaml document %d (%s): %v", i, tm.Kind, err)
		}
	}
	if role == nil || binding == nil {
		t.Fatal("rbac-podmeta.yaml: want a ClusterRole and a ClusterRoleBinding once uncommented")
	}
	return role, binding
}

// applyRBAC creates or replaces the ClusterRole and its binding.
func applyRBAC(t *testing.T, admin kubernetes.Interface, role *rbacv1.ClusterRole, binding *rbacv1.ClusterRoleBinding) {
	t.Helper()
	ctx := t.Context()
	roles := admin.RbacV1().ClusterRoles()
	if cur, err := roles.Get(ctx, role.Name, metav1.GetOptions{}); err == nil {
		role.ResourceVersion = cur.ResourceVersion
		_, err = roles.Update(ctx, role, metav1.UpdateOptions{})
		must(t, "update ClusterRole", err)
	} else {
		_, err = roles.Create(ctx, role, metav1.CreateOptions{})
		must(t, "create ClusterRole", err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create ClusterRoleBinding: %v", err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// createNamespaces creates each namespace with its default service account
// (no controller manager runs to make it, and admission wants it for pods).
func createNamespaces(t *testing.T, admin kubernetes.Interface, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := admin.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		must(t, "create namespace "+n, err)
		_, err = admin.CoreV1().ServiceAccounts(n).Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		must(t, "create service account "+n+"/default", err)
	}
}

// forceDelete removes a pod at once, as the kubelet's final delete would
// (no kubelet runs here to confirm a graceful one).
func forceDelete(t *testing.T, admin kubernetes.Interface, namespace, name string) {
	t.Helper()
	err := admin.CoreV1().Pods(namespace).Delete(t.Context(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	must(t, "delete pod "+namespace+"/"+name, err)
}

// lineCount counts the log lines whose message is msg.
func lineCount(logs *observer.ObservedLogs, msg string) int {
	return logs.FilterMessage(msg).Len()
}
