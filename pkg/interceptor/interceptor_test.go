package interceptor

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/webhook"
	"github.com/agentline/agentline/test/fakegithub"
	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	"google.golang.org/grpc/codes"
)

type perms struct {
	mu    sync.Mutex
	perm  map[string]string
	calls int
	block bool
}

func (p *perms) Permission(ctx context.Context, repo, user string) (string, error) {
	p.mu.Lock()
	p.calls++
	block := p.block
	p.mu.Unlock()
	if block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return p.perm[user], nil
}

type canceller struct{ keys []string }

func (c *canceller) Cancel(_ context.Context, r *router.Route) ([]string, error) {
	c.keys = append(c.keys, r.Key)
	return []string{"ai-dev-old"}, nil
}

func request(t *testing.T, fixture, delivery string, over map[string]any) *triggersv1.InterceptorRequest {
	t.Helper()
	body, err := fakegithub.Payload(fixture, over)
	if err != nil {
		t.Fatal(err)
	}
	return &triggersv1.InterceptorRequest{Body: string(body), Header: map[string][]string{
		"X-Github-Event": {fakegithub.EventOf(fixture)}, "X-Github-Delivery": {delivery}, "Content-Type": {"application/json"}}}
}

func newInterceptor(p *perms, c *canceller) *Interceptor {
	cfg := router.DefaultConfig()
	cfg.AllowedUsers = []string{"alice", "bob"}
	return &Interceptor{Config: func() router.Config { return cfg }, Trust: &webhook.Trust{Checker: p}, Canceller: c}
}

const delivery = "9a1c2b3d-0000-4000-8000-000000000007"

func labeled(user string) map[string]any {
	return map[string]any{"issue.number": 7, "label.name": "[ai-dev]", "sender.login": user, "sender.type": "User"}
}

func TestRoutesThroughTriggersServer(t *testing.T) {
	p := &perms{perm: map[string]string{"alice": "write"}}
	i := newInterceptor(p, &canceller{})
	srv := httptest.NewServer(Handler(i))
	defer srv.Close()
	b, _ := json.Marshal(request(t, "issues.labeled", delivery, labeled("alice")))
	resp, err := http.Post(srv.URL+"/"+Path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out triggersv1.InterceptorResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if !out.Continue {
		t.Fatalf("continue=false: %+v", out.Status)
	}
	ext := out.Extensions[ExtensionKey].(map[string]any)
	if ext["pipeline"] != "ai-dev" || ext["run-name"] != "ai-dev-"+delivery || !strings.HasSuffix(ext["key"].(string), "#7") {
		t.Fatalf("extension %v", ext)
	}
	// The same event through the router and pkg/runs (the direct endpoint's path) gives the
	// same labels and params: the TriggerTemplate then builds the same PipelineRun.
	raw, _ := fakegithub.Payload("issues.labeled", labeled("alice"))
	d, err := router.Decide("issues", delivery, raw, i.Config())
	if err != nil || d.Route == nil {
		t.Fatalf("router: %v %+v", err, d)
	}
	pr, err := runs.Build(d.Route, runs.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	labels := ext["labels"].(map[string]any)
	for short, full := range map[string]string{"repo": runs.LabelRepo, "issue": runs.LabelIssue, "kind": runs.LabelKind, "delivery": runs.LabelDelivery} {
		if labels[short] != pr.Labels[full] {
			t.Errorf("label %s: extension %v, direct %q", short, labels[short], pr.Labels[full])
		}
	}
	params := ext["params"].(map[string]any)
	if len(params) != len(pr.Spec.Params) {
		t.Errorf("%d params, direct run has %d", len(params), len(pr.Spec.Params))
	}
	for _, prm := range pr.Spec.Params {
		if params[prm.Name] != prm.Value.StringVal {
			t.Errorf("param %s: extension %v, direct %q", prm.Name, params[prm.Name], prm.Value.StringVal)
		}
	}
}

func TestStops(t *testing.T) {
	p := &perms{perm: map[string]string{"alice": "write", "bob": "read"}}
	c := &canceller{}
	i := newInterceptor(p, c)
	ctx := context.Background()

	if r := i.Process(ctx, request(t, "issues.labeled", delivery, map[string]any{"label.name": "bug", "sender.login": "alice"})); r.Continue || r.Status.Code != codes.FailedPrecondition || !strings.Contains(r.Status.Message, "label-not-trigger") {
		t.Errorf("non-trigger label: %+v", r)
	}
	if r := i.Process(ctx, request(t, "issues.labeled", delivery, labeled("bob"))); r.Continue || r.Status.Code != codes.PermissionDenied || !strings.Contains(r.Status.Message, webhook.ReasonSenderNoWrite) {
		t.Errorf("reader: %+v", r)
	}
	if r := i.Process(ctx, request(t, "issues.labeled", delivery, labeled("mallory"))); r.Continue || !strings.Contains(r.Status.Message, webhook.ReasonSenderNotAllowed) {
		t.Errorf("not allowed: %+v", r)
	}
	// Closing: the key's runs are cancelled here, and the cleanup route continues.
	r := i.Process(ctx, request(t, "issues.opened", delivery, map[string]any{"action": "closed", "issue.state": "closed", "issue.number": 7, "sender.login": "alice", "issue.labels": []any{map[string]any{"name": "[ai-dev]"}}}))
	if !r.Continue || len(c.keys) != 1 || !strings.HasSuffix(c.keys[0], "#7") {
		t.Fatalf("close: %+v, cancelled %v", r, c.keys)
	}
	if ext := r.Extensions[ExtensionKey].(map[string]any); ext["pipeline"] != "cleanup" {
		t.Errorf("close continues with %v", ext["pipeline"])
	}
	// Permissions are cached: alice and bob were looked up once each.
	if p.calls != 2 {
		t.Errorf("%d permission lookups, want 2 (cached)", p.calls)
	}
	if r := i.Process(ctx, &triggersv1.InterceptorRequest{Body: "{}"}); r.Continue || r.Status.Code != codes.InvalidArgument {
		t.Errorf("no headers: %+v", r)
	}
}

func TestStaysWithinBudget(t *testing.T) {
	p := &perms{block: true}
	i := newInterceptor(p, &canceller{})
	i.Budget = 100 * time.Millisecond
	// The checker blocks until its context ends: only the budget makes Process return.
	r := i.Process(context.Background(), request(t, "issues.labeled", delivery, labeled("alice")))
	if r.Continue || r.Status.Code != codes.Unavailable {
		t.Fatalf("blocked lookup: %+v", r)
	}
}
