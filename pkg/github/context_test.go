package github_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentline/agentline/pkg/github"
)

// threadsFake serves the REST review comments of acme/shop#7 (two per page, with Link headers)
// and the GraphQL reviewThreads connection (one thread per page), checking the token on both.
type threadsFake struct {
	mu          sync.Mutex
	graphQLSeen []string // cursors asked for
}

func (f *threadsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" && r.Header.Get("Authorization") != "token tok" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	comments := []map[string]any{
		{"id": 10, "body": "Validate input", "user": map[string]any{"login": "alice"}, "path": "api/a.go", "line": 3, "created_at": "2026-11-20T10:00:00Z"},
		{"id": 11, "body": "Rename this", "user": map[string]any{"login": "bob"}, "path": "web/b.js", "line": 9, "created_at": "2026-11-20T10:05:00Z"},
		{"id": 12, "body": "Done?", "user": map[string]any{"login": "alice"}, "path": "api/a.go", "line": 3, "in_reply_to_id": 10, "created_at": "2026-11-20T11:00:00Z"},
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/acme/shop/pulls/7/comments":
		page := r.URL.Query().Get("page")
		w.Header().Set("Content-Type", "application/json")
		if page == "" || page == "1" {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/api/v3/repos/acme/shop/pulls/7/comments?page=2&per_page=2>; rel="next"`, r.Host))
			json.NewEncoder(w).Encode(comments[:2])
			return
		}
		json.NewEncoder(w).Encode(comments[2:])
	case r.Method == http.MethodPost && r.URL.Path == "/api/graphql":
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &req); err != nil || !strings.Contains(req.Query, "reviewThreads") ||
			req.Variables["owner"] != "acme" || req.Variables["name"] != "shop" || req.Variables["number"] != float64(7) {
			http.Error(w, "bad query: "+string(b), http.StatusBadRequest)
			return
		}
		cursor, _ := req.Variables["cursor"].(string)
		f.mu.Lock()
		f.graphQLSeen = append(f.graphQLSeen, cursor)
		f.mu.Unlock()
		node := map[string]any{"id": "PRRT_a", "isResolved": false, "isOutdated": false, "line": 4,
			"comments": map[string]any{"nodes": []any{map[string]any{"databaseId": 10}}}}
		info := map[string]any{"hasNextPage": true, "endCursor": "c1"}
		if cursor == "c1" {
			node = map[string]any{"id": "PRRT_b", "isResolved": true, "isOutdated": true, "line": 9,
				"comments": map[string]any{"nodes": []any{map[string]any{"databaseId": 11}}}}
			info = map[string]any{"hasNextPage": false, "endCursor": "c2"}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"repository": map[string]any{"pullRequest": map[string]any{
			"reviewThreads": map[string]any{"pageInfo": info, "nodes": []any{node}}}}}})
	default:
		http.NotFound(w, r)
	}
}

func TestReviewThreads(t *testing.T) {
	fake := &threadsFake{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := github.New(github.Options{BaseURL: srv.URL + "/api/v3/", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.GraphQLURL(); got != srv.URL+"/api/graphql" {
		t.Errorf("GraphQLURL = %s", got)
	}
	threads, err := c.ReviewThreads(context.Background(), github.Repo{Owner: "acme", Name: "shop"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) != 2 {
		t.Fatalf("got %d threads, want 2", len(threads))
	}
	a, b := threads[0], threads[1]
	if a.ID != "PRRT_a" || a.Resolved || a.Path != "api/a.go" || a.Line != 4 || len(a.Comments) != 2 ||
		a.Comments[0].Body != "Validate input" || a.Comments[1].Body != "Done?" {
		t.Errorf("thread a = %+v", a)
	}
	if b.ID != "PRRT_b" || !b.Resolved || !b.Outdated || len(b.Comments) != 1 || b.Comments[0].User != "bob" {
		t.Errorf("thread b = %+v", b)
	}
	if strings.Join(fake.graphQLSeen, ",") != ",c1" {
		t.Errorf("GraphQL pages asked: %q", fake.graphQLSeen)
	}

	bad, _ := github.New(github.Options{BaseURL: srv.URL + "/api/v3/", Token: "wrong"})
	if _, err := bad.ReviewThreads(context.Background(), github.Repo{Owner: "acme", Name: "shop"}, 7); err == nil ||
		!strings.Contains(err.Error(), "acme/shop#7") {
		t.Errorf("bad token: want an error naming the PR, got %v", err)
	}
}

func TestGraphQLURLGitHubCom(t *testing.T) {
	c, err := github.New(github.Options{Token: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.GraphQLURL(); got != "https://api.github.com/graphql" {
		t.Errorf("GraphQLURL = %s", got)
	}
}
