package podmeta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{name: "default", cfg: DefaultConfig()},
		{name: "kubeconfig with context", cfg: Config{AuthType: AuthKubeConfig, Context: "prod"}},
		{name: "none with endpoint", cfg: Config{AuthType: AuthNone, Endpoint: "http://127.0.0.1:8001"}},
		{name: "labels", cfg: Config{AuthType: AuthServiceAccount, Labels: []string{"app", "app.kubernetes.io/name"}}},
		{name: "none without endpoint", cfg: Config{AuthType: AuthNone}, want: []string{"endpoint: required with auth_type none"}},
		{name: "unknown auth", cfg: Config{AuthType: "token"}, want: []string{`auth_type: "token" is not one of serviceAccount, kubeConfig, none`}},
		{name: "bad endpoint", cfg: Config{AuthType: AuthServiceAccount, Endpoint: "127.0.0.1:6443"}, want: []string{`endpoint: "127.0.0.1:6443" is not an http:// or https:// URL`}},
		{name: "context without kubeconfig", cfg: Config{AuthType: AuthServiceAccount, Context: "prod"}, want: []string{"context: only used with auth_type kubeConfig"}},
		{name: "bad and repeated labels", cfg: Config{AuthType: AuthServiceAccount, Labels: []string{"app", "no spaces", "app"}},
			want: []string{`labels: "no spaces" is not a label key`, `labels: "app" listed twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestRESTConfigServiceAccount(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"token", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	rc, err := cfg.RESTConfig(dir, env(map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://[fd00::1]:443" || rc.BearerTokenFile != filepath.Join(dir, "token") || rc.CAFile != filepath.Join(dir, "ca.crt") {
		t.Errorf("host %q token file %q CA %q", rc.Host, rc.BearerTokenFile, rc.CAFile)
	}
	if rc.ContentType != "application/vnd.kubernetes.protobuf" {
		t.Errorf("content type %q", rc.ContentType)
	}
	cfg.Endpoint = "https://10.0.0.1:6443"
	if rc, err = cfg.RESTConfig(dir, env(nil)); err != nil || rc.Host != "https://10.0.0.1:6443" {
		t.Errorf("endpoint override: %v, host %q", err, rc.Host)
	}

	cfg.Endpoint = ""
	if _, err := cfg.RESTConfig(dir, env(nil)); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("without the service env: %v", err)
	}
	if _, err := cfg.RESTConfig(t.TempDir(), env(map[string]string{"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"})); err == nil ||
		!strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "automountServiceAccountToken") {
		t.Errorf("without a token: %v", err)
	}
}

func TestRESTConfigKubeConfig(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://a.example:6443"}}
- {name: b, cluster: {server: "https://b.example:6443"}}
users:
- {name: u, user: {token: secret}}
contexts:
- {name: ctx-a, context: {cluster: a, user: u}}
- {name: ctx-b, context: {cluster: b, user: u}}
current-context: ctx-a
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc)
	cfg := Config{AuthType: AuthKubeConfig}
	rc, err := cfg.RESTConfig(ServiceAccountDir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://a.example:6443" || rc.BearerToken != "secret" {
		t.Errorf("current context: host %q token %q", rc.Host, rc.BearerToken)
	}
	cfg.Context = "ctx-b"
	if rc, err = cfg.RESTConfig(ServiceAccountDir, env(nil)); err != nil || rc.Host != "https://b.example:6443" {
		t.Errorf("context ctx-b: %v, host %q", err, rc.Host)
	}
	cfg.Context = "missing"
	if _, err := cfg.RESTConfig(ServiceAccountDir, env(nil)); err == nil || !strings.Contains(err.Error(), "auth_type kubeConfig") {
		t.Errorf("missing context: %v", err)
	}
}

func TestRESTConfigNone(t *testing.T) {
	cfg := Config{AuthType: AuthNone, Endpoint: "http://127.0.0.1:8001"}
	rc, err := cfg.RESTConfig(ServiceAccountDir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "http://127.0.0.1:8001" || rc.BearerToken != "" || rc.BearerTokenFile != "" {
		t.Errorf("host %q, credentials %q %q", rc.Host, rc.BearerToken, rc.BearerTokenFile)
	}
}
