package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentline/agentline/test/fakegithub"
)

// The github.comment hook's client comes from --repo/--github-token-file and posts through
// pkg/github; the token stays in its file.
func TestGitHubCommenterFromFlags(t *testing.T) {
	gh := fakegithub.New(t)
	gh.CreateRepo("acme/shop", fakegithub.RepoOptions{})
	token := gh.AddUser("acme")
	gh.AddIssue("acme/shop", fakegithub.Issue{Number: 7, Title: "Add /version"})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCLI([]string{"apply", "--env", "ai", "--repo", "acme/shop", "--github-url", gh.APIURL()},
		func(k string) string {
			if k == "AGENTLINE_GITHUB_TOKEN_FILE" {
				return tokenFile
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.connectGitHub(); err != nil {
		t.Fatal(err)
	}
	if c.GitHub == nil {
		t.Fatal("no GitHub commenter configured from the flags")
	}
	if err := c.GitHub.Comment(context.Background(), 7, "environment ready"); err != nil {
		t.Fatal(err)
	}
	cs := gh.Comments("acme/shop", 7)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "environment ready") {
		t.Fatalf("comments = %+v", cs)
	}

	bad, err := ParseCLI([]string{"apply", "--env", "ai", "--repo", "not-a-repo", "--github-token-file", tokenFile}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.connectGitHub(); err == nil || !strings.Contains(err.Error(), "--repo") {
		t.Fatalf("want an error naming --repo, got %v", err)
	}
}
