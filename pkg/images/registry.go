package images

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registries decides how registry hosts are reached. Plain HTTP and unverified TLS are allowed only
// for the hosts named as insecure; every other host gets HTTPS with full certificate checks, even
// hosts (127.0.0.1, localhost, private addresses) that go-containerregistry would otherwise fall
// back to plain HTTP for.
type Registries struct {
	insecure map[string]bool
	// Keychain supplies credentials; authn.DefaultKeychain (docker config) when nil.
	Keychain authn.Keychain
	// Base is the transport used for verified HTTPS; remote.DefaultTransport when nil.
	Base http.RoundTripper
}

// NewRegistries returns a Registries that relaxes TLS and allows plain HTTP for the given hosts
// (host or host:port, as written in image references) and nowhere else.
func NewRegistries(insecureHosts ...string) *Registries {
	r := &Registries{insecure: map[string]bool{}}
	for _, h := range insecureHosts {
		if h = normalizeHost(h); h != "" {
			r.insecure[h] = true
		}
	}
	return r
}

// normalizeHost lowercases a registry host and maps it the way image references do
// (docker.io -> index.docker.io).
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h = strings.TrimSuffix(h, "/")
	if h == "" {
		return ""
	}
	if reg, err := name.NewRegistry(h); err == nil {
		return reg.RegistryStr()
	}
	return h
}

// Insecure reports whether host (host or host:port) was named as insecure.
func (r *Registries) Insecure(host string) bool {
	return r != nil && r.insecure[normalizeHost(host)]
}

// InsecureHosts returns the hosts named as insecure, normalized and sorted.
func (r *Registries) InsecureHosts() []string {
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.insecure))
	for h := range r.insecure {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// ParseReference parses an image reference; a reference whose registry was named insecure is
// marked so (name.Insecure), no other.
func (r *Registries) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", s, err)
	}
	if r.Insecure(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("parse image reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// PlainHTTPError is returned for a plain-HTTP request to a host not named as insecure.
type PlainHTTPError struct {
	Host string
}

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("plain HTTP to registry %s refused: the host is not named in --insecure-registry", e.Host)
}

// Transport returns the round tripper that enforces the insecure scoping.
func (r *Registries) Transport() http.RoundTripper {
	base := r.Base
	if base == nil {
		base = remote.DefaultTransport
	}
	relaxed := base
	if t, ok := base.(*http.Transport); ok {
		t = t.Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for hosts named insecure
		relaxed = t
	}
	return &scopedTransport{strict: base, relaxed: relaxed, r: r}
}

type scopedTransport struct {
	strict, relaxed http.RoundTripper
	r               *Registries
}

func (t *scopedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.r.Insecure(req.URL.Host) {
		return t.relaxed.RoundTrip(req)
	}
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	return t.strict.RoundTrip(req)
}

// remoteOptions returns the go-containerregistry options for ctx.
func (r *Registries) remoteOptions(ctx context.Context) []remote.Option {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(r.Transport()),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("agentline-kaniko-wrap"),
	}
}

// isNotFound reports whether err is a registry 404 (manifest or repository unknown).
func isNotFound(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// plainHTTPRefused returns the PlainHTTPError inside err, if any, so callers can report it
// instead of the TLS error of the https attempt that preceded it.
func plainHTTPRefused(err error) error {
	var perr *PlainHTTPError
	if errors.As(err, &perr) {
		return perr
	}
	if err != nil && strings.Contains(err.Error(), "refused: the host is not named in --insecure-registry") {
		return err
	}
	return nil
}
