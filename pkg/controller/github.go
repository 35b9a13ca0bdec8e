package controller

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	gh "github.com/agentline/agentline/pkg/github"
)

// secret is a value given directly or read from a file (a mounted Secret, re-read when it
// changes so rotation needs no restart).
type secret struct {
	value string
	file  string

	mu    sync.Mutex
	mtime time.Time
	cache string
}

func (s *secret) get() (string, error) {
	if s.file == "" {
		return s.value, nil
	}
	st, err := os.Stat(s.file)
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", s.file, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.ModTime().Equal(s.mtime) && s.cache != "" {
		return s.cache, nil
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", s.file, err)
	}
	s.cache, s.mtime = strings.TrimSpace(string(b)), st.ModTime()
	return s.cache, nil
}

// githubClients builds the pkg/github client for the configured base URL, again when the URL
// changes.
type githubClients struct {
	token   *secret
	metrics *Metrics

	mu     sync.Mutex
	url    string
	client *gh.Client
}

func (g *githubClients) get(baseURL string) (*gh.Client, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client != nil && g.url == baseURL {
		return g.client, nil
	}
	opts := gh.Options{BaseURL: baseURL, HTTPClient: &http.Client{Timeout: 30 * time.Second,
		Transport: &countingTransport{base: http.DefaultTransport, counter: g.metrics.GitHubCalls}}}
	if g.token.file != "" {
		opts.TokenFile = g.token.file
	} else {
		opts.Token = g.token.value
	}
	c, err := gh.New(opts)
	if err != nil {
		return nil, fmt.Errorf("GitHub client for %q: %w", baseURL, err)
	}
	g.url, g.client = baseURL, c
	return c, nil
}

// ghAdapter gives the webhook, interceptor and status packages the GitHub calls they need,
// always with the client of the current configuration.
type ghAdapter struct {
	clients *githubClients
	config  func() Config
}

func (a ghAdapter) client() (*gh.Client, error) { return a.clients.get(a.config().GitHubURL) }

// Permission implements webhook.PermissionChecker.
func (a ghAdapter) Permission(ctx context.Context, repo, user string) (string, error) {
	c, err := a.client()
	if err != nil {
		return "", err
	}
	r, err := gh.ParseRepo(repo)
	if err != nil {
		return "", err
	}
	p, err := c.CollaboratorPermission(ctx, r, user)
	if err != nil && gh.StatusCode(err) == http.StatusNotFound {
		return string(gh.PermissionNone), nil // not a collaborator
	}
	return string(p), err
}

// Comment implements webhook.Commenter.
func (a ghAdapter) Comment(ctx context.Context, repo string, number int, body string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	r, err := gh.ParseRepo(repo)
	if err != nil {
		return err
	}
	_, err = c.CreateIssueComment(ctx, r, number, body)
	return err
}

// UpsertMarkedComment implements status.GitHub.
func (a ghAdapter) UpsertMarkedComment(ctx context.Context, repo gh.Repo, number int, marker, body string) (*gh.Comment, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	return c.UpsertMarkedComment(ctx, repo, number, marker, body)
}

// CreateCommitStatus implements status.GitHub.
func (a ghAdapter) CreateCommitStatus(ctx context.Context, repo gh.Repo, sha string, st gh.CommitStatus) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	return c.CreateCommitStatus(ctx, repo, sha, st)
}
