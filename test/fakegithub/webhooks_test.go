package fakegithub_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/agentline/agentline/test/fakegithub"
)

// receiver validates deliveries like agentline's endpoint will and records the parsed events.
type receiver struct {
	secret string
	events []any
	ids    []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	payload, err := github.ValidatePayload(r, []byte(rc.secret))
	if err != nil {
		http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	ev, err := github.ParseWebHook(github.WebHookType(r), payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.events = append(rc.events, ev)
	rc.ids = append(rc.ids, github.DeliveryID(r))
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "created")
}

func TestWebhookSignedDeliveryWithOverrides(t *testing.T) {
	rc := &receiver{secret: "s3cret"}
	target := httptest.NewServer(rc)
	defer target.Close()
	ctx := context.Background()

	res, err := fakegithub.Deliver(ctx, target.URL, fakegithub.Webhook{
		Fixture: "issues.labeled", Secret: "s3cret",
		Overrides: map[string]any{"issue.number": 7, "label.name": "[ai-dev]", "sender.login": "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusAccepted || string(res.Body) != "created" {
		t.Fatalf("delivery: %d %s", res.StatusCode, res.Body)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(res.DeliveryID) || rc.ids[0] != res.DeliveryID {
		t.Fatalf("delivery id %q / received %q", res.DeliveryID, rc.ids)
	}
	ev, ok := rc.events[0].(*github.IssuesEvent)
	if !ok {
		t.Fatalf("parsed %T, want *github.IssuesEvent", rc.events[0])
	}
	if ev.GetAction() != "labeled" || ev.GetIssue().GetNumber() != 7 || ev.GetLabel().GetName() != "[ai-dev]" || ev.GetSender().GetLogin() != "alice" {
		t.Fatalf("overrides not applied: action=%s number=%d label=%s sender=%s", ev.GetAction(), ev.GetIssue().GetNumber(), ev.GetLabel().GetName(), ev.GetSender().GetLogin())
	}
	if ev.GetIssue().GetTitle() == "" || ev.GetRepo().GetFullName() != "Codertocat/Hello-World" {
		t.Fatalf("fixture fields lost: %+v", ev.GetRepo())
	}

	// A wrong secret and a missing signature are rejected by go-github's validation.
	for _, secret := range []string{"wrong", ""} {
		res, err := fakegithub.Deliver(ctx, target.URL, fakegithub.Webhook{Fixture: "ping", Secret: secret})
		if err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("secret %q: %v %+v", secret, err, res)
		}
	}
	if len(rc.events) != 1 {
		t.Fatalf("receiver accepted %d events, want 1", len(rc.events))
	}
}

func TestWebhookRepositoryOverridesAndIDs(t *testing.T) {
	requireGit(t)
	s := fakegithub.New(t)
	s.CreateRepo("acme/shop", fakegithub.RepoOptions{})
	rc := &receiver{secret: "k"}
	target := httptest.NewServer(rc)
	defer target.Close()

	res, err := s.Deliver(context.Background(), target.URL, "acme/shop", fakegithub.Webhook{
		Fixture: "pull_request_review.submitted.with-organization", Secret: "k", DeliveryID: "d-1",
		Overrides: map[string]any{"review.state": "changes_requested", "pull_request.head.ref": "codex/issue-7"},
	})
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("deliver: %v %+v", err, res)
	}
	ev := rc.events[0].(*github.PullRequestReviewEvent)
	if res.Event != "pull_request_review" || rc.ids[0] != "d-1" {
		t.Fatalf("event %q id %q", res.Event, rc.ids[0])
	}
	repo := ev.GetRepo()
	if repo.GetFullName() != "acme/shop" || repo.GetCloneURL() != s.CloneURL("acme/shop") || repo.GetOwner().GetLogin() != "acme" || repo.GetHTMLURL() != s.URL+"/acme/shop" {
		t.Fatalf("repository not pointed at the fake: %s %s %s", repo.GetFullName(), repo.GetCloneURL(), repo.GetOwner().GetLogin())
	}
	if ev.GetReview().GetState() != "changes_requested" || ev.GetPullRequest().GetHead().GetRef() != "codex/issue-7" {
		t.Fatalf("overrides lost: %s %s", ev.GetReview().GetState(), ev.GetPullRequest().GetHead().GetRef())
	}
}

func TestSetPathAndSign(t *testing.T) {
	body, err := fakegithub.Payload("issues.opened", map[string]any{
		"action": "closed", "issue.state": "closed", "issue.labels.0": map[string]any{"name": "[ai-dev]"},
		"issue.body": fakegithub.Delete, "extra.nested.value": 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Action string `json:"action"`
		Issue  struct {
			State  string            `json:"state"`
			Labels []json.RawMessage `json:"labels"`
			Body   *string           `json:"body"`
		} `json:"issue"`
		Extra struct {
			Nested struct{ Value int } `json:"nested"`
		} `json:"extra"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Action != "closed" || doc.Issue.State != "closed" || len(doc.Issue.Labels) != 1 || doc.Issue.Body != nil || doc.Extra.Nested.Value != 3 {
		t.Fatalf("overrides: %s", body)
	}
	if _, err := fakegithub.Payload("issues.opened", map[string]any{"issue.labels.5.name": "x"}); err == nil {
		t.Fatal("an out-of-range index should fail")
	}
	if _, err := fakegithub.Payload("no-such", nil); err == nil {
		t.Fatal("an unknown fixture should fail")
	}
	sig := fakegithub.Sign("secret", []byte("{}"))
	if err := github.ValidateSignature(sig, []byte("{}"), []byte("secret")); err != nil {
		t.Fatalf("Sign does not verify: %v", err)
	}
	if err := github.ValidateSignature(sig, []byte("{} "), []byte("secret")); err == nil {
		t.Fatal("signature verified for a different body")
	}
	if len(fakegithub.FixtureNames()) < 15 {
		t.Fatalf("fixtures not embedded: %v", fakegithub.FixtureNames())
	}
}
