package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentline/agentline/test/fakegithub"
)

const testSecret = "s3cr3t-webhook-value"

// payload loads a shared webhook fixture and applies dotted-path overrides (nil deletes).
func payload(t testing.TB, file string, over map[string]any) []byte {
	t.Helper()
	return fakegithub.MustPayload(t, file, over)
}

func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func request(event, delivery string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", delivery)
	r.Header.Set("X-Hub-Signature-256", sign(body, testSecret))
	return r
}

type fakeChecker struct {
	mu    sync.Mutex
	perms map[string]string
	calls int
	err   error
}

func (f *fakeChecker) Permission(_ context.Context, repo, user string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	if p, ok := f.perms[user]; ok {
		return p, nil
	}
	return "none", nil
}

func (f *fakeChecker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type comment struct {
	repo   string
	number int
	body   string
}

type fakeCommenter struct {
	mu       sync.Mutex
	comments []comment
	err      error
}

func (f *fakeCommenter) Comment(_ context.Context, repo string, number int, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.comments = append(f.comments, comment{repo, number, body})
	return nil
}

func (f *fakeCommenter) all() []comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]comment(nil), f.comments...)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type failingRuns struct{}

func (failingRuns) Create(context.Context, *router.Route) (string, bool, error) {
	return "", false, errors.New("apiserver unavailable")
}

// env is a Handler wired to fakes and a Tekton fake clientset.
type env struct {
	h         *Handler
	tekton    *fake.Clientset
	checker   *fakeChecker
	commenter *fakeCommenter
	clock     *fakeClock
	cfg       router.Config
	logs      *observer.ObservedLogs
}

func newEnv(t testing.TB, mutate func(*Options, *router.Config)) *env {
	t.Helper()
	e := &env{
		tekton:    fake.NewSimpleClientset(),
		checker:   &fakeChecker{perms: map[string]string{"Codertocat": "write"}},
		commenter: &fakeCommenter{},
		clock:     &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		cfg:       router.DefaultConfig(),
	}
	e.cfg.AllowedUsers = []string{"codertocat"}
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	creator := &runs.Creator{Tekton: e.tekton}
	o := Options{
		Secret:      func() []byte { return []byte(testSecret) },
		Permissions: e.checker,
		Commenter:   e.commenter,
		Now:         e.clock.Now,
		Runs:        creator,
		Canceller:   creator,
		Retrier:     creator,
		Logger:      zap.New(core).Sugar(),
	}
	if mutate != nil {
		mutate(&o, &e.cfg)
	}
	cfg := e.cfg
	o.Config = func() router.Config { return cfg }
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

func (e *env) do(t *testing.T, r *http.Request) (int, Response) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return rec.Code, resp
}

func (e *env) runCount(t *testing.T) int {
	t.Helper()
	list, err := e.tekton.TektonV1().PipelineRuns("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}
