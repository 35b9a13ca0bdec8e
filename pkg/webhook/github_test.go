package webhook

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	ghapi "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/test/fakegithub"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSignedDeliveriesFromFakeGitHub sends signed deliveries from the GitHub fake to the
// handler wired to pkg/github (permission lookups, comments) and a Tekton fake clientset.
func TestSignedDeliveriesFromFakeGitHub(t *testing.T) {
	gh := fakegithub.New(t)
	const repo = "acme/shop"
	gh.CreateRepo(repo, fakegithub.RepoOptions{})
	gh.AddUser("alice")
	gh.SetPermission(repo, "alice", "write")
	gh.AddUser("bob")
	gh.SetPermission(repo, "bob", "read")
	gh.AddIssue(repo, fakegithub.Issue{Title: "seven", User: "alice", Labels: []string{"[ai-dev]"}})
	client, err := ghapi.New(ghapi.Options{BaseURL: gh.APIURL(), Token: gh.AddUser("agentline-bot")})
	if err != nil {
		t.Fatal(err)
	}
	tekton := fake.NewSimpleClientset()
	creator := &runs.Creator{Tekton: tekton}
	cfg := router.DefaultConfig()
	cfg.AllowedUsers = []string{"alice", "bob"}
	h, err := New(Options{
		Secret: func() []byte { return []byte(testSecret) }, Config: func() router.Config { return cfg },
		Permissions: GitHub{client}, Commenter: GitHub{client}, Runs: creator, Canceller: creator, Retrier: creator,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	deliver := func(sender, delivery string) (int, Response) {
		res, err := gh.Deliver(context.Background(), srv.URL, repo, fakegithub.Webhook{
			Fixture: "issues.labeled", DeliveryID: delivery, Secret: testSecret,
			Overrides: map[string]any{"label.name": "[ai-dev]", "sender.login": sender, "issue.number": 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		var resp Response
		if err := json.Unmarshal(res.Body, &resp); err != nil {
			t.Fatalf("body %s: %v", res.Body, err)
		}
		return res.StatusCode, resp
	}
	if status, resp := deliver("alice", "d-1"); status != 202 || resp.Run != "ai-dev-d-1" || resp.Key != repo+"#1" {
		t.Fatalf("alice: %d %+v", status, resp)
	}
	if status, resp := deliver("alice", "d-1"); status != 200 || resp.Outcome != OutcomeDuplicate {
		t.Fatalf("redelivery: %d %+v", status, resp)
	}
	for _, d := range []string{"d-2", "d-3"} {
		if status, resp := deliver("bob", d); status != 200 || resp.Reason != ReasonSenderNoWrite {
			t.Fatalf("bob: %d %+v", status, resp)
		}
	}
	if status, resp := deliver("carol", "d-4"); status != 200 || resp.Reason != ReasonSenderNotAllowed {
		t.Fatalf("carol: %d %+v", status, resp)
	}
	var notes []string
	for _, c := range gh.Comments(repo, 1) {
		if c.User == "agentline-bot" {
			notes = append(notes, c.Body)
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "@bob") || !strings.Contains(notes[1], "@carol") {
		t.Fatalf("notes on #1: %q", notes)
	}
	list, _ := tekton.TektonV1().PipelineRuns("").List(context.Background(), metav1.ListOptions{})
	if len(list.Items) != 1 {
		t.Fatalf("%d runs, want 1", len(list.Items))
	}
}
