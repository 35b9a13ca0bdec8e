package fakegithub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/test/shared"
)

// fixtureDir is the folder of octokit's example payloads in the shared material
// (../shared/testdata/github-webhooks, see package test/shared).
func fixtureDir() (string, error) {
	d, err := shared.Dir()
	if err != nil {
		return "", fmt.Errorf("fakegithub: webhook fixtures: %w", err)
	}
	return filepath.Join(d, "testdata", "github-webhooks"), nil
}

// Delete, as an override value, removes the field at that path.
var Delete = &struct{ delete bool }{true}

// FixtureNames lists the shared webhook examples ("issues.labeled", "push", ...).
func FixtureNames() []string {
	dir, err := fixtureDir()
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	return names
}

// Fixture returns a webhook example: a name such as "issues.labeled" or
// "pull_request_review.submitted.with-organization" (".json" optional), or a path to a JSON file
// (anything containing a path separator).
func Fixture(nameOrPath string) ([]byte, error) {
	if strings.ContainsRune(nameOrPath, os.PathSeparator) || strings.Contains(nameOrPath, "/") {
		b, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("fakegithub: webhook fixture: %w", err)
		}
		return b, nil
	}
	name := strings.TrimSuffix(nameOrPath, ".json")
	dir, err := fixtureDir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return nil, fmt.Errorf("fakegithub: no webhook fixture %q (have %s)", nameOrPath, strings.Join(FixtureNames(), ", "))
	}
	return b, nil
}

// EventOf returns the X-GitHub-Event of a fixture name or path: the file name up to the first
// dot ("pull_request_review.submitted.json" -> "pull_request_review").
func EventOf(fixture string) string {
	base := path.Base(strings.ReplaceAll(fixture, string(os.PathSeparator), "/"))
	ev, _, _ := strings.Cut(base, ".")
	return ev
}

// Payload loads a fixture and applies overrides (see SetPath), returning compact JSON.
// Overrides are applied in sorted path order, so "issue" is set before "issue.number".
func Payload(fixture string, overrides map[string]any) ([]byte, error) {
	raw, err := Fixture(fixture)
	if err != nil {
		return nil, err
	}
	return applyOverrides(raw, overrides)
}

func applyOverrides(raw []byte, overrides map[string]any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("fakegithub: payload is not JSON: %w", err)
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		if doc, err = SetPath(doc, k, overrides[k]); err != nil {
			return nil, fmt.Errorf("fakegithub: override %q: %w", k, err)
		}
	}
	return json.Marshal(doc)
}

// SetPath sets the value at a dot path ("issue.number", "issue.labels.0.name") in a decoded JSON
// document and returns the document. Missing objects are created; an array index equal to the
// length appends; the value Delete removes the field.
func SetPath(doc any, dotPath string, value any) (any, error) {
	if dotPath == "" {
		return value, nil
	}
	head, rest, more := strings.Cut(dotPath, ".")
	switch node := doc.(type) {
	case map[string]any:
		if !more {
			if value == Delete {
				delete(node, head)
			} else {
				node[head] = value
			}
			return node, nil
		}
		child, err := SetPath(node[head], rest, value)
		if err != nil {
			return nil, err
		}
		node[head] = child
		return node, nil
	case []any:
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i > len(node) {
			return nil, fmt.Errorf("segment %q is not an index of an array of %d", head, len(node))
		}
		if i == len(node) {
			node = append(node, nil)
		}
		if !more {
			if value == Delete {
				return append(node[:i], node[i+1:]...), nil
			}
			node[i] = value
			return node, nil
		}
		child, err := SetPath(node[i], rest, value)
		if err != nil {
			return nil, err
		}
		node[i] = child
		return node, nil
	case nil:
		return SetPath(map[string]any{}, dotPath, value)
	default:
		return nil, fmt.Errorf("segment %q: cannot descend into a %T", head, doc)
	}
}

// Sign returns the X-Hub-Signature-256 value of body for secret: "sha256=" + hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// NewDeliveryID returns a random UUID (version 4), like GitHub's X-GitHub-Delivery.
func NewDeliveryID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Webhook describes one delivery.
type Webhook struct {
	// Fixture is a fixture name or path (see Fixture); ignored when Payload is set.
	Fixture string
	// Payload is a raw JSON body to send instead of a fixture (overrides still apply).
	Payload []byte
	// Overrides are dot-path -> value replacements (see SetPath).
	Overrides map[string]any
	// Event is X-GitHub-Event; default EventOf(Fixture).
	Event string
	// DeliveryID is X-GitHub-Delivery; default a new UUID.
	DeliveryID string
	// Secret signs the body; empty sends no signature header.
	Secret string
	// Header adds or replaces request headers (e.g. a forged X-Hub-Signature-256).
	Header http.Header
	// Client sends the request; default a client with a 30 s timeout.
	Client *http.Client
}

// DeliveryResult is the receiver's answer to a delivery.
type DeliveryResult struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	DeliveryID string
	Event      string
	Payload    []byte // the body that was sent
}

// Build returns the body and headers of the delivery without sending it.
func (wh Webhook) Build() (body []byte, header http.Header, err error) {
	if wh.Payload != nil {
		body, err = applyOverrides(wh.Payload, wh.Overrides)
	} else {
		body, err = Payload(wh.Fixture, wh.Overrides)
	}
	if err != nil {
		return nil, nil, err
	}
	event := wh.Event
	if event == "" {
		event = EventOf(wh.Fixture)
	}
	if event == "" {
		return nil, nil, fmt.Errorf("fakegithub: webhook needs an Event or a Fixture")
	}
	id := wh.DeliveryID
	if id == "" {
		id = NewDeliveryID()
	}
	header = http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "GitHub-Hookshot/fakegithub")
	header.Set("X-GitHub-Event", event)
	header.Set("X-GitHub-Delivery", id)
	header.Set("X-GitHub-Hook-ID", "1")
	header.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	if wh.Secret != "" {
		header.Set("X-Hub-Signature-256", Sign(wh.Secret, body))
	}
	for k, v := range wh.Header {
		header[http.CanonicalHeaderKey(k)] = v
	}
	return body, header, nil
}

// Deliver builds the webhook and POSTs it to target, returning the receiver's answer.
func Deliver(ctx context.Context, target string, wh Webhook) (*DeliveryResult, error) {
	body, header, err := wh.Build()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("fakegithub: deliver to %s: %w", target, err)
	}
	req.Header = header
	client := wh.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fakegithub: deliver %s to %s: %w", header.Get("X-GitHub-Event"), target, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fakegithub: read response of %s: %w", target, err)
	}
	return &DeliveryResult{
		StatusCode: resp.StatusCode, Header: resp.Header, Body: respBody,
		DeliveryID: header.Get("X-GitHub-Delivery"), Event: header.Get("X-GitHub-Event"), Payload: body,
	}, nil
}

// RepositoryOverrides returns overrides that make a payload's "repository" object describe repo
// of this fake (names, owner, ids, html/clone/api URLs, default branch, visibility).
func (s *Server) RepositoryOverrides(repo string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	owner := s.ensureUser(r.owner)
	html := s.URL + "/" + r.fullName()
	return map[string]any{
		"repository.id":             r.id,
		"repository.name":           r.name,
		"repository.full_name":      r.fullName(),
		"repository.private":        r.private,
		"repository.default_branch": r.defaultBranch,
		"repository.master_branch":  r.defaultBranch,
		"repository.html_url":       html,
		"repository.clone_url":      html + ".git",
		"repository.git_url":        html + ".git",
		"repository.ssh_url":        html + ".git",
		"repository.url":            s.apiBase() + "/repos/" + r.fullName(),
		"repository.owner.login":    owner.login,
		"repository.owner.name":     owner.login,
		"repository.owner.id":       owner.id,
		"repository.owner.html_url": s.URL + "/" + owner.login,
	}
}

// Deliver is the package Deliver with the "repository" of the payload pointed at repo of this
// fake first (explicit wh.Overrides still win); repo "" sends the payload unchanged.
func (s *Server) Deliver(ctx context.Context, target, repo string, wh Webhook) (*DeliveryResult, error) {
	if repo != "" {
		merged := s.RepositoryOverrides(repo)
		for k, v := range wh.Overrides {
			merged[k] = v
		}
		wh.Overrides = merged
	}
	return Deliver(ctx, target, wh)
}

// MustPayload is Payload for tests: a nil override value deletes the field (like Delete), and
// any error fails the test.
func MustPayload(t testing.TB, fixture string, overrides map[string]any) []byte {
	t.Helper()
	over := make(map[string]any, len(overrides))
	for k, v := range overrides {
		if v == nil {
			v = Delete
		}
		over[k] = v
	}
	b, err := Payload(strings.TrimSuffix(fixture, ".json"), over)
	if err != nil {
		t.Fatalf("webhook fixture %s: %v", fixture, err)
	}
	return b
}
