package webhook

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentline/agentline/pkg/router"
)

// PermissionChecker looks up a user's permission on a repository (GitHub's collaborator
// permission API).
type PermissionChecker interface {
	// Permission returns the permission of user on repo (`owner/name`): "admin", "maintain",
	// "write", "triage", "read" or "none".
	Permission(ctx context.Context, repo, user string) (string, error)
}

// Commenter posts an issue or pull request comment.
type Commenter interface {
	// Comment posts body on issue or PR number of repo (`owner/name`).
	Comment(ctx context.Context, repo string, number int, body string) error
}

// Reasons a routed event is dropped because of its sender.
const (
	ReasonSenderNotAllowed = "sender-not-allowed"
	ReasonSenderNoWrite    = "sender-lacks-write-permission"
)

// Verdict is the outcome of a trust check.
type Verdict struct {
	Allowed bool
	// Reason is ReasonSenderNotAllowed or ReasonSenderNoWrite when not allowed.
	Reason string
	// Permission is the sender's permission as looked up (empty when not looked up).
	Permission string
}

// DefaultPermissionTTL is how long a looked-up permission is trusted.
const DefaultPermissionTTL = 5 * time.Minute

// Trust decides whether a routed event's sender may start or stop runs: the sender must be in
// the configured allowed users and have write, maintain or admin permission on the repository.
// Bots reach Trust only when the router let them through (listed in allowed-bots); they are
// trusted without a permission lookup, since GitHub Apps are not collaborators. Permissions are
// cached per (repo, user) for TTL. Trust is safe for concurrent use; the zero value is not
// usable: set Checker.
type Trust struct {
	Checker PermissionChecker
	// TTL of cached permissions; 0 means DefaultPermissionTTL.
	TTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]permEntry
}

type permEntry struct {
	perm    string
	expires time.Time
}

func (t *Trust) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Check returns the verdict for the sender of d (which must carry a route) under cfg. An error
// means the permission could not be looked up.
func (t *Trust) Check(ctx context.Context, cfg router.Config, d router.Decision) (Verdict, error) {
	login := d.Sender.Login
	if d.Sender.IsBot() {
		if cfg.BotAllowed(login) {
			return Verdict{Allowed: true}, nil
		}
		return Verdict{Reason: ReasonSenderNotAllowed}, nil
	}
	if !cfg.UserAllowed(login) {
		return Verdict{Reason: ReasonSenderNotAllowed}, nil
	}
	perm, err := t.permission(ctx, d.Repo, login)
	if err != nil {
		return Verdict{}, err
	}
	switch perm {
	case "admin", "maintain", "write":
		return Verdict{Allowed: true, Permission: perm}, nil
	}
	return Verdict{Reason: ReasonSenderNoWrite, Permission: perm}, nil
}

func (t *Trust) permission(ctx context.Context, repo, user string) (string, error) {
	key := strings.ToLower(repo + "\x00" + user)
	now := t.now()
	t.mu.Lock()
	if e, ok := t.cache[key]; ok && now.Before(e.expires) {
		t.mu.Unlock()
		return e.perm, nil
	}
	t.mu.Unlock()

	if t.Checker == nil {
		return "", fmt.Errorf("permission of %s on %s: no permission checker configured", user, repo)
	}
	perm, err := t.Checker.Permission(ctx, repo, user)
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", user, repo, err)
	}
	perm = strings.ToLower(perm)
	ttl := t.TTL
	if ttl <= 0 {
		ttl = DefaultPermissionTTL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cache == nil {
		t.cache = map[string]permEntry{}
	}
	if len(t.cache) >= maxCacheEntries {
		for k, e := range t.cache {
			if !now.Before(e.expires) {
				delete(t.cache, k)
			}
		}
	}
	if len(t.cache) < maxCacheEntries {
		t.cache[key] = permEntry{perm: perm, expires: now.Add(ttl)}
	}
	return perm, nil
}

// maxCacheEntries bounds the permission cache and the notice set.
const maxCacheEntries = 10000

// DefaultNoticeTTL is how long a rejected sender is not told again on the same issue.
const DefaultNoticeTTL = 24 * time.Hour

// Notifier tells a rejected sender why nothing happened: one comment per (issue, user) within
// TTL, however many events they send. Safe for concurrent use.
type Notifier struct {
	Commenter Commenter
	// TTL of the "already told" memory; 0 means DefaultNoticeTTL.
	TTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu   sync.Mutex
	sent map[string]time.Time // key → expiry; a zero time marks a comment in flight
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Notify comments on d's issue or PR explaining verdict v, unless this sender was already told
// there within TTL (or a comment is being posted). It reports whether a comment was posted.
func (n *Notifier) Notify(ctx context.Context, d router.Decision, v Verdict, lang string) (bool, error) {
	if n == nil || n.Commenter == nil || d.Number <= 0 || d.Repo == "" {
		return false, nil
	}
	key := strings.ToLower(fmt.Sprintf("%s#%d\x00%s", d.Repo, d.Number, d.Sender.Login))
	now := n.now()
	n.mu.Lock()
	if n.sent == nil {
		n.sent = map[string]time.Time{}
	}
	if exp, ok := n.sent[key]; ok && (exp.IsZero() || now.Before(exp)) {
		n.mu.Unlock()
		return false, nil
	}
	if len(n.sent) >= maxCacheEntries {
		for k, exp := range n.sent {
			if !exp.IsZero() && !now.Before(exp) {
				delete(n.sent, k)
			}
		}
		if len(n.sent) >= maxCacheEntries {
			n.mu.Unlock()
			return false, fmt.Errorf("notice set full (%d entries); not commenting on %s#%d", maxCacheEntries, d.Repo, d.Number)
		}
	}
	n.sent[key] = time.Time{}
	n.mu.Unlock()

	err := n.Commenter.Comment(ctx, d.Repo, d.Number, rejectionText(lang, d, v))
	ttl := n.TTL
	if ttl <= 0 {
		ttl = DefaultNoticeTTL
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		delete(n.sent, key) // let a later event try again
		return false, fmt.Errorf("comment on %s#%d for rejected sender %s: %w", d.Repo, d.Number, d.Sender.Login, err)
	}
	n.sent[key] = n.now().Add(ttl)
	return true, nil
}

func rejectionText(lang string, d router.Decision, v Verdict) string {
	login := d.Sender.Login
	if lang == "ru" {
		why := "вас нет в списке пользователей, которым разрешено запускать агентов (`allowed-users` в ConfigMap `agentline-config`)."
		if v.Reason == ReasonSenderNoWrite {
			why = fmt.Sprintf("для этого нужны права на запись (write) в репозиторий %s.", d.Repo)
		}
		return fmt.Sprintf("@%s, agentline ничего не запустил по этому событию: %s Попросите сопровождающего репозитория, если вам нужен доступ. Это сообщение больше не будет повторяться здесь.", login, why)
	}
	why := "you are not in the list of users allowed to run agents (`allowed-users` in the `agentline-config` ConfigMap)."
	if v.Reason == ReasonSenderNoWrite {
		why = fmt.Sprintf("this needs write permission on %s.", d.Repo)
	}
	return fmt.Sprintf("@%s, agentline did not start anything for this event: %s Ask a maintainer of this repository if you need access. This note is not repeated here.", login, why)
}
