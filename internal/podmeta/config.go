package podmeta

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// AuthType says how the API server is reached, with the names of
// opentelemetry-collector-contrib's k8sconfig.APIConfig.
type AuthType string

const (
	// AuthServiceAccount is the pod's own service account: its token and CA
	// under ServiceAccountDir, the server from KUBERNETES_SERVICE_HOST and
	// KUBERNETES_SERVICE_PORT (or Config.Endpoint).
	AuthServiceAccount AuthType = "serviceAccount"
	// AuthKubeConfig is a kubeconfig file: $KUBECONFIG, else ~/.kube/config,
	// its current context or Config.Context.
	AuthKubeConfig AuthType = "kubeConfig"
	// AuthNone sends no credentials to Config.Endpoint (e.g. a local
	// `kubectl proxy`).
	AuthNone AuthType = "none"
)

// ServiceAccountDir is where the kubelet mounts a pod's service-account token
// and CA (rest.InClusterConfig's paths).
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Config is the receiver's k8s_api section.
type Config struct {
	// Enabled turns the pod metadata on. Default false: the receiver never
	// calls the API server.
	Enabled bool `mapstructure:"enabled"`
	// AuthType is serviceAccount (default), kubeConfig or none.
	AuthType AuthType `mapstructure:"auth_type"`
	// Endpoint is the API server's URL. Required with auth_type none;
	// otherwise it replaces the service's address (serviceAccount) or the
	// kubeconfig's server (kubeConfig).
	Endpoint string `mapstructure:"endpoint"`
	// Context is the kubeconfig context (kubeConfig only); empty means the
	// current one.
	Context string `mapstructure:"context"`
	// Labels are the pod label keys that become resource attributes
	// k8s.pod.label.<key> on the pod's resources (pod, containers,
	// volumes). Empty: none.
	Labels []string `mapstructure:"labels"`
	// ResolveVolumeClaims asks the API server for each claim that a pod on
	// the node uses (one get per claim, remembered), to name persistent
	// volumes as the kubelet does: the pod-spec volume name with pvcRef.
	// It needs get on persistentvolumeclaims beyond the pods RBAC. Default
	// false.
	ResolveVolumeClaims bool `mapstructure:"resolve_volume_claims"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// DefaultConfig is off, with the service account when turned on.
func DefaultConfig() Config {
	return Config{AuthType: AuthServiceAccount}
}

// Validate checks every field (enabled or not); each error names its key
// below k8s_api.
func (c *Config) Validate() error {
	var errs []error
	switch c.AuthType {
	case AuthServiceAccount, AuthKubeConfig:
	case AuthNone:
		if c.Endpoint == "" {
			errs = append(errs, errors.New("endpoint: required with auth_type none"))
		}
	default:
		errs = append(errs, fmt.Errorf("auth_type: %q is not one of %s, %s, %s", c.AuthType, AuthServiceAccount, AuthKubeConfig, AuthNone))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint: %q is not an http:// or https:// URL", c.Endpoint))
		}
	}
	if c.Context != "" && c.AuthType != AuthKubeConfig {
		errs = append(errs, fmt.Errorf("context: only used with auth_type %s", AuthKubeConfig))
	}
	seen := map[string]bool{}
	for _, k := range c.Labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("labels: %q is not a label key: %s", k, msgs[0]))
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("labels: %q listed twice", k))
		}
		seen[k] = true
	}
	return errors.Join(errs...)
}

// RESTConfig builds the client configuration. saDir is where the service
// account's token and CA are (ServiceAccountDir in a pod) and getenv reads
// the environment (os.Getenv); both are parameters for tests.
func (c *Config) RESTConfig(saDir string, getenv func(string) string) (*rest.Config, error) {
	var rc *rest.Config
	switch c.AuthType {
	case AuthServiceAccount, "":
		host := c.Endpoint
		if host == "" {
			h, p := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
			if h == "" || p == "" {
				return nil, errors.New("auth_type serviceAccount: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?); set endpoint")
			}
			host = "https://" + net.JoinHostPort(h, p)
		}
		token := filepath.Join(saDir, "token")
		if _, err := os.Stat(token); err != nil {
			return nil, fmt.Errorf("auth_type serviceAccount: %w (is automountServiceAccountToken off?)", err)
		}
		ca := filepath.Join(saDir, "ca.crt")
		if _, err := os.Stat(ca); err != nil {
			return nil, fmt.Errorf("auth_type serviceAccount: %w", err)
		}
		// A token file, not the token: client-go rereads it, so the kubelet's
		// rotation of bound tokens is followed.
		rc = &rest.Config{Host: host, BearerTokenFile: token, TLSClientConfig: rest.TLSClientConfig{CAFile: ca}}
	case AuthKubeConfig:
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
		if c.Endpoint != "" {
			overrides.ClusterInfo.Server = c.Endpoint
		}
		var err error
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("auth_type kubeConfig: %w", err)
		}
	case AuthNone:
		rc = &rest.Config{Host: c.Endpoint}
	default:
		return nil, fmt.Errorf("auth_type: %q is not one of %s, %s, %s", c.AuthType, AuthServiceAccount, AuthKubeConfig, AuthNone)
	}
	rc.UserAgent = "otelcol-statssummary (stats_summary pod metadata)"
	// Protobuf on the wire: less to decode than JSON for the same pods.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return rc, nil
}
