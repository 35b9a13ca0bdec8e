// Package github is agentline's only GitHub API client: a thin, context-first wrapper around
// go-github/v66 with the calls the step binaries and the controller need, errors that name the
// repository and number, and a token that is read from a file and never logged.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v66/github"
)

// DefaultBaseURL is the REST API base of github.com.
const DefaultBaseURL = "https://api.github.com/"

// ErrNotFound is wrapped by errors for resources GitHub reports as missing (404, or 422
// "Reference does not exist" for refs).
var ErrNotFound = errors.New("not found")

// Options configures New.
type Options struct {
	// BaseURL is the REST API base: empty or https://api.github.com for github.com, else a GitHub
	// Enterprise URL such as https://ghe.example.com/api/v3/ (or https://ghe.example.com).
	BaseURL string
	// Token authenticates the requests. Exactly one of Token and TokenFile is required.
	Token string
	// TokenFile is a file holding the token (e.g. a mounted Secret). It is re-read when it
	// changes, so a rotated Secret is picked up without a restart.
	TokenFile string
	// HTTPClient is the base client (its Transport is wrapped to add the token); default
	// http.DefaultTransport with a 30 s timeout.
	HTTPClient *http.Client
}

// String describes the options without the token.
func (o Options) String() string {
	return fmt.Sprintf("github.Options{BaseURL:%q TokenFile:%q Token:%s}", o.BaseURL, o.TokenFile, redacted(o.Token))
}

// GoString is String, so %#v does not print the token either.
func (o Options) GoString() string { return o.String() }

func redacted(tok string) string {
	if tok == "" {
		return `""`
	}
	return "<redacted>"
}

// Client is a GitHub API client. It is safe for concurrent use.
type Client struct {
	gh      *gh.Client
	baseURL string

	loginMu  sync.Mutex
	login    string
	loginErr error // cached only when GitHub refused (/user is not readable with the token)
}

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	if (opts.Token == "") == (opts.TokenFile == "") {
		return nil, errors.New("github: exactly one of a token and a token file is required")
	}
	src := &tokenSource{token: opts.Token, file: opts.TokenFile}
	if opts.TokenFile != "" {
		if _, err := src.get(); err != nil {
			return nil, err
		}
	}
	base := http.DefaultTransport
	timeout := 30 * time.Second
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			base = opts.HTTPClient.Transport
		}
		timeout = opts.HTTPClient.Timeout
	}
	hc := &http.Client{Transport: &authTransport{base: base, src: src}, Timeout: timeout}
	if opts.HTTPClient != nil {
		hc.CheckRedirect, hc.Jar = opts.HTTPClient.CheckRedirect, opts.HTTPClient.Jar
	}
	client := gh.NewClient(hc)
	client.UserAgent = "agentline"
	baseURL := strings.TrimSpace(opts.BaseURL)
	if baseURL != "" && strings.TrimSuffix(baseURL, "/")+"/" != DefaultBaseURL {
		u, err := url.Parse(baseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("github: base URL %q is not an absolute URL", opts.BaseURL)
		}
		upload := strings.TrimSuffix(strings.TrimSuffix(baseURL, "/"), "/api/v3") + "/api/uploads/"
		if client, err = client.WithEnterpriseURLs(baseURL, upload); err != nil {
			return nil, fmt.Errorf("github: base URL %q: %w", opts.BaseURL, err)
		}
	}
	return &Client{gh: client, baseURL: client.BaseURL.String()}, nil
}

// BaseURL is the REST API base the client talks to (with a trailing slash).
func (c *Client) BaseURL() string { return c.baseURL }

// tokenSource returns the token, re-reading the token file when its modification time changes.
type tokenSource struct {
	mu      sync.Mutex
	token   string
	file    string
	modTime time.Time
}

func (t *tokenSource) get() (string, error) {
	if t.file == "" {
		return t.token, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := os.Stat(t.file)
	if err != nil {
		return "", fmt.Errorf("github: token file: %w", err)
	}
	if t.token != "" && st.ModTime().Equal(t.modTime) {
		return t.token, nil
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return "", fmt.Errorf("github: token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("github: token file %s is empty", t.file)
	}
	t.token, t.modTime = tok, st.ModTime()
	return tok, nil
}

type authTransport struct {
	base http.RoundTripper
	src  *tokenSource
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := a.src.get()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "token "+tok)
	return a.base.RoundTrip(r)
}

// Repo is a repository "owner/name".
type Repo struct {
	Owner string
	Name  string
}

// ParseRepo parses "owner/name".
func ParseRepo(s string) (Repo, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(owner+name, " \t\n?#%") {
		return Repo{}, fmt.Errorf("github: repository %q is not of the form owner/name", s)
	}
	return Repo{Owner: owner, Name: name}, nil
}

// String returns "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// StatusCode returns the HTTP status of a GitHub API error (0 when err is not one).
func StatusCode(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var arl *gh.AbuseRateLimitError
	if errors.As(err, &arl) && arl.Response != nil {
		return arl.Response.StatusCode
	}
	return 0
}

// wrap adds what was being done to err, and ErrNotFound for a 404.
func wrap(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if StatusCode(err) == http.StatusNotFound {
		return fmt.Errorf("github: %s: %w: %w", what, ErrNotFound, err)
	}
	return fmt.Errorf("github: %s: %w", what, err)
}

// Login returns the login of the authenticated user (cached). GitHub App installation tokens
// cannot read /user; that refusal is returned and cached too.
func (c *Client) Login(ctx context.Context) (string, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if c.login != "" || c.loginErr != nil {
		return c.login, c.loginErr
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		err = wrap(err, "get authenticated user")
		if code := StatusCode(err); code == http.StatusForbidden || code == http.StatusNotFound {
			c.loginErr = err
		}
		return "", err
	}
	c.login = u.GetLogin()
	return c.login, nil
}

// Permission is a user's permission on a repository as GitHub's collaborator API reports it.
type Permission string

// The permissions GitHub reports (maintain counts as write, triage as read).
const (
	PermissionAdmin Permission = "admin"
	PermissionWrite Permission = "write"
	PermissionRead  Permission = "read"
	PermissionNone  Permission = "none"
)

// CanWrite reports whether p allows pushing (write or admin).
func (p Permission) CanWrite() bool { return p == PermissionAdmin || p == PermissionWrite }

// CollaboratorPermission returns user's permission on repo. A user GitHub does not know yields
// PermissionNone and an error wrapping ErrNotFound.
func (c *Client) CollaboratorPermission(ctx context.Context, repo Repo, user string) (Permission, error) {
	p, _, err := c.gh.Repositories.GetPermissionLevel(ctx, repo.Owner, repo.Name, user)
	if err != nil {
		return PermissionNone, wrap(err, "permission of %s on %s", user, repo)
	}
	switch perm := Permission(p.GetPermission()); perm {
	case PermissionAdmin, PermissionWrite, PermissionRead, PermissionNone:
		return perm, nil
	case "maintain":
		return PermissionWrite, nil
	case "triage":
		return PermissionRead, nil
	default:
		return PermissionNone, fmt.Errorf("github: permission of %s on %s: unknown value %q", user, repo, perm)
	}
}
