package cri

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultEndpoints are the runtime sockets tried, in order, when no endpoint is
// configured: containerd first, then CRI-O, each under /run and /var/run.
var DefaultEndpoints = []string{
	"unix:///run/containerd/containerd.sock",
	"unix:///run/crio/crio.sock",
	"unix:///var/run/containerd/containerd.sock",
	"unix:///var/run/crio/crio.sock",
}

// NormalizeEndpoint turns a bare socket path into a unix:// URL and rejects any
// other scheme: the CRI is served on a local unix socket.
func NormalizeEndpoint(endpoint string) (string, error) {
	switch {
	case endpoint == "":
		return "", errors.New("empty endpoint")
	case strings.HasPrefix(endpoint, "/"):
		return "unix://" + endpoint, nil
	case strings.HasPrefix(endpoint, "unix://"):
		if SocketPath(endpoint) == "" {
			return "", fmt.Errorf("endpoint %q has no socket path", endpoint)
		}
		return endpoint, nil
	default:
		return "", fmt.Errorf("endpoint %q: only unix:// sockets (or an absolute path) are supported", endpoint)
	}
}

// SocketPath returns the file system path of a unix:// endpoint.
func SocketPath(endpoint string) string {
	return strings.TrimPrefix(endpoint, "unix://")
}

// DetectEndpoint returns the first of candidates whose socket exists. When none
// exists it returns the first candidate and found=false, so a caller can log which
// socket it will keep trying.
func DetectEndpoint(candidates []string) (endpoint string, found bool) {
	for _, c := range candidates {
		if fi, err := os.Stat(SocketPath(c)); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return c, true
		}
	}
	if len(candidates) == 0 {
		return "", false
	}
	return candidates[0], false
}
