package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const dlv = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

func devLabel(t testing.TB, over map[string]any) []byte {
	o := map[string]any{"label.name": "[ai-dev]"}
	for k, v := range over {
		o[k] = v
	}
	return payload(t, "issues.labeled.json", o)
}

func TestSignature(t *testing.T) {
	body := devLabel(t, nil)
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		status int
		detail string
	}{
		{"missing", func(r *http.Request) { r.Header.Del("X-Hub-Signature-256") }, 401, "missing X-Hub-Signature-256"},
		{"sha1 only", func(r *http.Request) {
			r.Header.Del("X-Hub-Signature-256")
			r.Header.Set("X-Hub-Signature", "sha1=0000000000000000000000000000000000000000")
		}, 401, "missing X-Hub-Signature-256"},
		{"wrong secret", func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", sign(body, "other")) }, 401, "signature check failed"},
		{"not sha256", func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", "sha512=00") }, 401, "not an HMAC SHA-256"},
		{"garbage", func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", "sha256=zz") }, 401, "signature check failed"},
		{"body changed", func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(devLabel(t, map[string]any{"label.name": "[ai-plan]"})))
		}, 401, "signature check failed"},
		{"valid", func(*http.Request) {}, 202, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := request("issues", dlv, body)
			tc.mutate(r)
			status, resp := e.do(t, r)
			if status != tc.status || !strings.Contains(resp.Detail, tc.detail) {
				t.Fatalf("status %d %+v, want %d with %q", status, resp, tc.status, tc.detail)
			}
			wantRuns := 0
			if tc.status == 202 {
				wantRuns = 1
			}
			if n := e.runCount(t); n != wantRuns {
				t.Fatalf("%d runs, want %d", n, wantRuns)
			}
			if e.logs.FilterField(zap.String("delivery", dlv)).Len() != 1 {
				t.Fatalf("want one log line for the delivery, got %v", e.logs.All())
			}
			for _, entry := range e.logs.All() {
				line := fmt.Sprint(entry.Message, entry.ContextMap())
				if strings.Contains(line, testSecret) || strings.Contains(line, "sha256=") {
					t.Fatalf("log leaks secret or signature: %s", line)
				}
			}
		})
	}
}

func TestNoSecretConfigured(t *testing.T) {
	e := newEnv(t, func(o *Options, _ *router.Config) { o.Secret = func() []byte { return nil } })
	if status, _ := e.do(t, request("issues", dlv, devLabel(t, nil))); status != 500 {
		t.Fatalf("status %d, want 500", status)
	}
}

func TestOversize(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
	t.Run("content-length", func(t *testing.T) {
		e := newEnv(t, nil)
		status, resp := e.do(t, request("issues", dlv, big))
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d %+v", status, resp)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		e := newEnv(t, nil)
		r := request("issues", dlv, big)
		r.ContentLength = -1
		status, resp := e.do(t, r)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d %+v", status, resp)
		}
	})
	t.Run("boundary", func(t *testing.T) {
		body := devLabel(t, nil)
		e := newEnv(t, func(o *Options, _ *router.Config) { o.MaxBodyBytes = int64(len(body)) })
		r := request("issues", dlv, body)
		r.ContentLength = -1
		if status, resp := e.do(t, r); status != http.StatusAccepted {
			t.Fatalf("at the limit: %d %+v", status, resp)
		}
		e = newEnv(t, func(o *Options, _ *router.Config) { o.MaxBodyBytes = int64(len(body)) - 1 })
		r = request("issues", dlv, body)
		r.ContentLength = -1
		if status, resp := e.do(t, r); status != http.StatusRequestEntityTooLarge || e.runCount(t) != 0 {
			t.Fatalf("one byte over: %d %+v", status, resp)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if status, _ := e.do(t, r); status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", status)
	}
	r = request("issues", dlv, devLabel(t, nil))
	r.Header.Set("Content-Type", "text/plain")
	if status, _ := e.do(t, r); status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", status)
	}
	r = request("issues", dlv, devLabel(t, nil))
	r.Header.Del("X-GitHub-Event")
	if status, resp := e.do(t, r); status != 400 || !strings.Contains(resp.Detail, "X-GitHub-Event") {
		t.Fatalf("no event: %d %+v", status, resp)
	}
	r = request("issues", "", devLabel(t, nil))
	if status, resp := e.do(t, r); status != 400 || !strings.Contains(resp.Detail, "X-GitHub-Delivery") {
		t.Fatalf("no delivery: %d %+v", status, resp)
	}
	if status, resp := e.do(t, request("issues", dlv, []byte(`{"action": 5}`))); status != 400 || !strings.Contains(resp.Detail, "issues") {
		t.Fatalf("bad payload: %d %+v", status, resp)
	}
	if e.runCount(t) != 0 || e.checker.count() != 0 {
		t.Fatal("bad requests reached the cluster or GitHub")
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, nil)
	status, resp := e.do(t, request("ping", dlv, payload(t, "ping.json", nil)))
	if status != 200 || resp.Outcome != OutcomeIgnored || resp.Reason != string(router.ReasonPing) || resp.Event != "ping" || resp.Delivery != dlv {
		t.Fatalf("ping: %d %+v", status, resp)
	}
	if e.runCount(t) != 0 || e.checker.count() != 0 {
		t.Fatal("ping created a run or looked up permissions")
	}
}

func TestIgnoredEventAndBot(t *testing.T) {
	e := newEnv(t, nil)
	status, resp := e.do(t, request("issues", dlv, payload(t, "issues.labeled.json", nil)))
	if status != 200 || resp.Reason != string(router.ReasonLabelNotTrigger) {
		t.Fatalf("bug label: %d %+v", status, resp)
	}
	status, resp = e.do(t, request("issues", dlv, devLabel(t, map[string]any{"sender.login": "dependabot[bot]", "sender.type": "Bot"})))
	if status != 200 || resp.Reason != string(router.ReasonBot) {
		t.Fatalf("bot: %d %+v", status, resp)
	}
	if e.runCount(t) != 0 || e.checker.count() != 0 || len(e.commenter.all()) != 0 {
		t.Fatal("ignored events had effects")
	}
}

func TestAllowedBotSkipsPermission(t *testing.T) {
	e := newEnv(t, func(_ *Options, c *router.Config) { c.AllowedBots = []string{"renovate[bot]"} })
	status, resp := e.do(t, request("issues", dlv, devLabel(t, map[string]any{"sender.login": "renovate[bot]", "sender.type": "Bot"})))
	if status != 202 || resp.Outcome != OutcomeCreated || e.checker.count() != 0 {
		t.Fatalf("allowed bot: %d %+v, %d lookups", status, resp, e.checker.count())
	}
}

func TestNonAllowedSender(t *testing.T) {
	e := newEnv(t, nil)
	stranger := map[string]any{"sender.login": "mallory"}
	for i, d := range []string{"d1", "d2", "d3"} {
		status, resp := e.do(t, request("issues", d, devLabel(t, stranger)))
		if status != 200 || resp.Outcome != OutcomeIgnored || resp.Reason != ReasonSenderNotAllowed {
			t.Fatalf("event %d: %d %+v", i, status, resp)
		}
	}
	// Another issue: one more note there.
	e.do(t, request("issue_comment", "d4", payload(t, "issue_comment.created.json", map[string]any{
		"sender.login": "mallory", "comment.body": "/retry", "issue.number": 5})))
	got := e.commenter.all()
	if len(got) != 2 {
		t.Fatalf("%d comments, want one per issue: %+v", len(got), got)
	}
	if got[0].repo != "Codertocat/Hello-World" || got[0].number != 1 || got[1].number != 5 ||
		!strings.Contains(got[0].body, "@mallory") || !strings.Contains(got[0].body, "allowed-users") {
		t.Fatalf("comments %+v", got)
	}
	if e.runCount(t) != 0 || e.checker.count() != 0 {
		t.Fatalf("runs %d, lookups %d", e.runCount(t), e.checker.count())
	}
	// After the notice TTL the sender is told again.
	e.clock.Advance(DefaultNoticeTTL + time.Second)
	e.do(t, request("issues", "d5", devLabel(t, stranger)))
	if n := len(e.commenter.all()); n != 3 {
		t.Fatalf("%d comments after TTL, want 3", n)
	}
}

func TestAllowedSenderWithoutWrite(t *testing.T) {
	e := newEnv(t, func(_ *Options, c *router.Config) {
		c.AllowedUsers = append(c.AllowedUsers, "reader")
		c.Language = "ru"
	})
	e.checker.perms["reader"] = "read"
	for _, d := range []string{"d1", "d2"} {
		status, resp := e.do(t, request("issues", d, devLabel(t, map[string]any{"sender.login": "reader"})))
		if status != 200 || resp.Reason != ReasonSenderNoWrite {
			t.Fatalf("%d %+v", status, resp)
		}
	}
	got := e.commenter.all()
	if len(got) != 1 || !strings.Contains(got[0].body, "@reader") || !strings.Contains(got[0].body, "права на запись") {
		t.Fatalf("comments %+v", got)
	}
	if e.runCount(t) != 0 {
		t.Fatal("run created for a reader")
	}
}

func TestClosedByStrangerIsNotAnswered(t *testing.T) {
	e := newEnv(t, nil)
	status, resp := e.do(t, request("issues", dlv, payload(t, "issues.opened.json", map[string]any{
		"action": "closed", "issue.state": "closed", "issue.labels": []any{map[string]any{"name": "[ai-dev]"}}, "sender.login": "author"})))
	if status != 200 || resp.Reason != ReasonSenderNotAllowed || len(e.commenter.all()) != 0 {
		t.Fatalf("%d %+v comments %v", status, resp, e.commenter.all())
	}
}

func TestCommentFailureIsRetriedLater(t *testing.T) {
	e := newEnv(t, nil)
	e.commenter.err = errors.New("github down")
	stranger := map[string]any{"sender.login": "mallory"}
	if status, _ := e.do(t, request("issues", "d1", devLabel(t, stranger))); status != 200 {
		t.Fatalf("status %d", status)
	}
	e.commenter.mu.Lock()
	e.commenter.err = nil
	e.commenter.mu.Unlock()
	e.do(t, request("issues", "d2", devLabel(t, stranger)))
	if n := len(e.commenter.all()); n != 1 {
		t.Fatalf("%d comments, want 1 after the failed attempt", n)
	}
}

func TestPermissionCache(t *testing.T) {
	e := newEnv(t, nil)
	for _, d := range []string{"d1", "d2", "d3"} {
		if status, resp := e.do(t, request("issues", d, devLabel(t, nil))); status != 202 {
			t.Fatalf("%s: %d %+v", d, status, resp)
		}
		e.clock.Advance(time.Minute)
	}
	if n := e.checker.count(); n != 1 {
		t.Fatalf("checker called %d times within the TTL, want 1", n)
	}
	e.clock.Advance(DefaultPermissionTTL)
	e.checker.perms["Codertocat"] = "read" // revoked meanwhile
	status, resp := e.do(t, request("issues", "d4", devLabel(t, nil)))
	if e.checker.count() != 2 || status != 200 || resp.Reason != ReasonSenderNoWrite {
		t.Fatalf("after TTL: %d lookups, %d %+v", e.checker.count(), status, resp)
	}
}

func TestPermissionLookupError(t *testing.T) {
	e := newEnv(t, nil)
	e.checker.err = errors.New("rate limited")
	status, resp := e.do(t, request("issues", dlv, devLabel(t, nil)))
	if status != http.StatusBadGateway || !strings.Contains(resp.Detail, "rate limited") || e.runCount(t) != 0 {
		t.Fatalf("%d %+v", status, resp)
	}
	e.checker.err = nil
	if status, _ := e.do(t, request("issues", dlv, devLabel(t, nil))); status != 202 {
		t.Fatalf("errors must not be cached: %d", status)
	}
}

func TestDuplicateDelivery(t *testing.T) {
	e := newEnv(t, nil)
	body := devLabel(t, nil)
	status, resp := e.do(t, request("issues", dlv, body))
	if status != 202 || resp.Outcome != OutcomeCreated || resp.Run != "ai-dev-"+dlv || resp.Key != "Codertocat/Hello-World#1" {
		t.Fatalf("first: %d %+v", status, resp)
	}
	status, resp = e.do(t, request("issues", dlv, body))
	if status != 200 || resp.Outcome != OutcomeDuplicate || resp.Run != "ai-dev-"+dlv {
		t.Fatalf("redelivery: %d %+v", status, resp)
	}
	if n := e.runCount(t); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	pr, err := e.tekton.TektonV1().PipelineRuns("agentline-system").Get(context.Background(), "ai-dev-"+dlv, metav1.GetOptions{})
	if err != nil || pr.Spec.Status != v1.PipelineRunSpecStatusPending || pr.Labels["agentline.dev/issue"] != "1" {
		t.Fatalf("run %+v %v", pr, err)
	}
}

func TestCreateError(t *testing.T) {
	e := newEnv(t, func(o *Options, _ *router.Config) { o.Runs = failingRuns{} })
	status, resp := e.do(t, request("issues", dlv, devLabel(t, nil)))
	if status != 500 || resp.Outcome != OutcomeError || !strings.Contains(resp.Detail, "apiserver unavailable") {
		t.Fatalf("%d %+v", status, resp)
	}
}

func TestCancelAndCleanup(t *testing.T) {
	e := newEnv(t, nil)
	if status, _ := e.do(t, request("issues", "d-dev", devLabel(t, nil))); status != 202 {
		t.Fatal("ai-dev not created")
	}
	cancel := payload(t, "issue_comment.created.json", map[string]any{"comment.body": "/cancel"})
	status, resp := e.do(t, request("issue_comment", "d-cancel", cancel))
	if status != 200 || resp.Outcome != OutcomeCancelled || len(resp.Cancelled) != 1 || resp.Cancelled[0] != "ai-dev-d-dev" {
		t.Fatalf("cancel: %d %+v", status, resp)
	}
	status, resp = e.do(t, request("issue_comment", "d-cancel2", cancel))
	if status != 200 || resp.Reason != ReasonNoActiveRun {
		t.Fatalf("second cancel: %d %+v", status, resp)
	}
	if status, _ := e.do(t, request("issues", "d-dev2", devLabel(t, nil))); status != 202 {
		t.Fatal("second ai-dev not created")
	}
	closed := payload(t, "issues.opened.json", map[string]any{
		"action": "closed", "issue.state": "closed", "issue.labels": []any{map[string]any{"name": "[ai-dev]"}}})
	status, resp = e.do(t, request("issues", "d-close", closed))
	if status != 202 || resp.Run != "cleanup-d-close" || len(resp.Cancelled) != 1 || resp.Cancelled[0] != "ai-dev-d-dev2" {
		t.Fatalf("close: %d %+v", status, resp)
	}
	pr, err := e.tekton.TektonV1().PipelineRuns("agentline-system").Get(context.Background(), "ai-dev-d-dev2", metav1.GetOptions{})
	if err != nil || pr.Spec.Status != v1.PipelineRunSpecStatusCancelled {
		t.Fatalf("ai-dev run not cancelled: %v %v", pr.Spec.Status, err)
	}
}

func TestRetryWithoutFailedRun(t *testing.T) {
	e := newEnv(t, nil)
	status, resp := e.do(t, request("issue_comment", dlv, payload(t, "issue_comment.created.json", map[string]any{"comment.body": "/retry"})))
	if status != 200 || resp.Reason != ReasonNoFailedRun {
		t.Fatalf("%d %+v", status, resp)
	}
}

func TestMissingActionImplementations(t *testing.T) {
	e := newEnv(t, func(o *Options, _ *router.Config) { o.Canceller, o.Retrier = nil, nil })
	for _, body := range []string{"/cancel", "/retry"} {
		status, _ := e.do(t, request("issue_comment", dlv, payload(t, "issue_comment.created.json", map[string]any{"comment.body": body})))
		if status != http.StatusNotImplemented {
			t.Fatalf("%s: %d", body, status)
		}
	}
}

func TestNewRequiresOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Secret") {
		t.Fatalf("err = %v", err)
	}
}
