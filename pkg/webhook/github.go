package webhook

import (
	"context"
	"errors"
	"fmt"

	ghapi "github.com/agentline/agentline/pkg/github"
)

// GitHub adapts pkg/github's Client to PermissionChecker and Commenter.
type GitHub struct {
	Client *ghapi.Client
}

// Permission returns user's permission on repo; a user GitHub does not know (404) has "none".
func (g GitHub) Permission(ctx context.Context, repo, user string) (string, error) {
	r, err := ghapi.ParseRepo(repo)
	if err != nil {
		return "", fmt.Errorf("permission of %s: %w", user, err)
	}
	p, err := g.Client.CollaboratorPermission(ctx, r, user)
	if errors.Is(err, ghapi.ErrNotFound) {
		return string(ghapi.PermissionNone), nil
	}
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// Comment posts body as a new comment on issue or PR number of repo.
func (g GitHub) Comment(ctx context.Context, repo string, number int, body string) error {
	r, err := ghapi.ParseRepo(repo)
	if err != nil {
		return fmt.Errorf("comment on #%d: %w", number, err)
	}
	_, err = g.Client.CreateIssueComment(ctx, r, number, body)
	return err
}
