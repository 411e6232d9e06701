// Command apiserver is the upstream kube-apiserver v1.37.2 with an etcd of
// its own, for the test of the optional pod metadata (test/apiserver, `make
// test-apiserver`). It is the body of k8s.io/kubernetes' cmd/kube-apiserver
// (app.NewAPIServerCommand, the real command and its flags) in a module of its
// own (hack/apiserver/go.mod, k8s.io/kubernetes with its staging replaces
// pinned at v0.37.2, as hack/kubelet), so that k8s.io/kubernetes never enters
// the product's go.mod. hack/runtimes/apiserver.sh builds it.
//
// Before the API server starts, the launcher runs etcd in-process
// (go.etcd.io/etcd/server/v3/embed, the version k8s.io/kubernetes v1.37.2
// requires) on loopback ports, and lays out in -dir what a control plane
// needs: a CA and a serving certificate for 127.0.0.1, a service-account
// signing key, a static token file with one superuser (group system:masters)
// and admin.kubeconfig for it. The API server listens on 127.0.0.1 only, with
// RBAC authorization and its default admission plugins; no controller manager
// or scheduler runs, so pods are created already bound (spec.nodeName).
//
// Everything in -dir is kept, the ports included (-dir/ports.json), so a
// second run with the same -dir is the same cluster at the same address: that
// is how a test restarts it. Once /readyz answers 200 the launcher prints
// "ready https://127.0.0.1:PORT" on stdout. SIGTERM or SIGINT stops the API
// server (within about 10 s: --request-timeout bounds how long open watches
// hold it), then etcd; a second signal exits at once.
//
//	usage: apiserver -dir DIR [-port N] [-v N]
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // as cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/version"  // as cmd/kube-apiserver
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	dir := flag.String("dir", "", "directory for etcd's data, the certificates, tokens and admin.kubeconfig (kept across runs)")
	port := flag.Int("port", 0, "the API server's port on 127.0.0.1; 0 = the one recorded in -dir, else a free one")
	verbosity := flag.Int("v", 0, "the API server's log verbosity")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "apiserver: -dir is required")
		os.Exit(2)
	}
	os.Exit(run(*dir, *port, *verbosity))
}

// ports are the loopback ports of one cluster, kept in DIR/ports.json.
type ports struct {
	APIServer int `json:"apiserver"`
	EtcdPeer  int `json:"etcdPeer"`
	Etcd      int `json:"etcd"`
}

func run(dir string, port, verbosity int) int {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "apiserver: %v\n", err)
		return 1
	}
	p, err := loadPorts(dir, port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apiserver: %v\n", err)
		return 1
	}
	token, err := ensurePKI(dir, p.APIServer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apiserver: %v\n", err)
		return 1
	}
	etcd, err := startEtcd(dir, p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apiserver: %v\n", err)
		return 1
	}
	defer etcd.Close()

	server := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.APIServer))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go announceReady(ctx, dir, server, token)

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs([]string{
		"--etcd-servers=http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Etcd)),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.APIServer),
		"--tls-cert-file=" + filepath.Join(dir, "pki", "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "pki", "apiserver.key"),
		"--client-ca-file=" + filepath.Join(dir, "pki", "ca.crt"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(dir, "pki", "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "pki", "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		// The endpoints of the kubernetes Service cannot hold a loopback
		// address; the test server of k8s.io/kubernetes turns the reconciler
		// off for the same reason.
		"--endpoint-reconciler-type=none",
		// Open watches hold a graceful shutdown for the request timeout
		// (http.Server.Shutdown waits for them; 60 s by default): 10 s
		// bounds a stop, and no request of the tests takes that long.
		"--request-timeout=10s",
		"--profiling=false",
		"--v=" + strconv.Itoa(verbosity),
	})
	return cli.Run(cmd)
}

// loadPorts returns the ports recorded in DIR/ports.json, else free ones
// (recorded there); a non-zero port overrides the API server's.
func loadPorts(dir string, port int) (ports, error) {
	file := filepath.Join(dir, "ports.json")
	var p ports
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &p); err != nil {
			return p, fmt.Errorf("decode %s: %w", file, err)
		}
	case errors.Is(err, os.ErrNotExist):
		free, err := freePorts(3)
		if err != nil {
			return p, err
		}
		p = ports{APIServer: free[0], Etcd: free[1], EtcdPeer: free[2]}
	default:
		return p, fmt.Errorf("read %s: %w", file, err)
	}
	if port != 0 {
		p.APIServer = port
	}
	b, err = json.Marshal(p)
	if err != nil {
		return p, fmt.Errorf("encode ports: %w", err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return p, fmt.Errorf("write %s: %w", file, err)
	}
	return p, nil
}

// freePorts returns n loopback ports that were free a moment ago (the same
// way k8s.io/apiserver's etcd test server picks its ports).
func freePorts(n int) ([]int, error) {
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen on a free loopback port: %w", err)
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func startEtcd(dir string, p ports) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "apiserver-test"
	cfg.Dir = filepath.Join(dir, "etcd")
	// One member whose data matters only while the test runs: no fsync (the
	// page cache survives a killed process; only a machine crash loses it).
	cfg.UnsafeNoFsync = true
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Etcd))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.EtcdPeer))}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"stderr"}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd in %s: %w", cfg.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd in %s not ready after 60s", cfg.Dir)
	}
	go func() {
		if err := <-e.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "apiserver: etcd: %v\n", err)
		}
	}()
	return e, nil
}

// announceReady polls /readyz with the superuser's token and prints "ready
// URL" once it answers 200.
func announceReady(ctx context.Context, dir, server, token string) {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err == nil {
		pool.AppendCertsFromPEM(ca)
	}
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				w := bufio.NewWriter(os.Stdout)
				fmt.Fprintf(w, "ready %s\n", server)
				w.Flush()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensurePKI writes, once per DIR, the CA, the serving certificate, the
// service-account key, the token file and admin.kubeconfig, and returns the
// superuser's token.
func ensurePKI(dir string, port int) (string, error) {
	pki := filepath.Join(dir, "pki")
	tokenFile := filepath.Join(dir, "admin.token")
	if b, err := os.ReadFile(tokenFile); err == nil {
		return string(b), writeKubeconfig(dir, port, string(b))
	}
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return "", err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "statssummary-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", fmt.Errorf("parse CA certificate: %w", err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate serving key: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return "", fmt.Errorf("create serving certificate: %w", err)
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate service-account key: %w", err)
	}
	for name, block := range map[string]func() (*pem.Block, error){
		"ca.crt":        func() (*pem.Block, error) { return &pem.Block{Type: "CERTIFICATE", Bytes: caDER}, nil },
		"apiserver.crt": func() (*pem.Block, error) { return &pem.Block{Type: "CERTIFICATE", Bytes: srvDER}, nil },
		"apiserver.key": func() (*pem.Block, error) { return ecKeyBlock(srvKey) },
		"sa.key":        func() (*pem.Block, error) { return ecKeyBlock(saKey) },
	} {
		b, err := block()
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(pki, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	token := hex.EncodeToString(raw)
	// token,user,uid,"group1,group2"
	line := token + ",admin,admin-uid,\"system:masters\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("write tokens.csv: %w", err)
	}
	if err := writeKubeconfig(dir, port, token); err != nil {
		return "", err
	}
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tokenFile, err)
	}
	return token, nil
}

func ecKeyBlock(k *ecdsa.PrivateKey) (*pem.Block, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}, nil
}

// writeKubeconfig writes DIR/admin.kubeconfig for the superuser.
func writeKubeconfig(dir string, port int, token string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, port, filepath.Join(dir, "pki", "ca.crt"), token)
	file := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(file, []byte(kc), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
