package prapply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentline/agentline/pkg/github"
)

// EnvironmentMarker names the hidden marker of the environment comment
// (<!-- agentline:environment -->).
const EnvironmentMarker = "environment"

// Link is a link shown in the environment comment (codex.links in services.yaml).
type Link struct {
	Title string
	// Path is appended to https://<host>; an absolute http(s) URL is used as is.
	Path string
}

// Environment is what the environment comment shows.
type Environment struct {
	Slot      int
	Namespace string
	// Host is the environment's host name (dev-<slot>.<baseDomain.ai>), with or without scheme.
	Host   string
	Links  []Link
	Branch string
	Commit string
	// Lang is en (default) or ru.
	Lang string
}

// SlotHost is the host of slot: dev-<slot>.<aiDomain>.
func SlotHost(slot int, aiDomain string) string {
	if slot <= 0 || aiDomain == "" {
		return ""
	}
	return fmt.Sprintf("dev-%d.%s", slot, strings.TrimPrefix(aiDomain, "."))
}

var commentText = map[string]map[string]string{
	"en": {
		"title": "### 🧪 Environment", "slot": "Slot", "staging": "staging", "namespace": "Namespace",
		"host": "Host", "branch": "Branch", "commit": "Commit", "links": "Links", "none": "—",
		"note": "_Updated by agentline on every run; this comment is edited in place._",
	},
	"ru": {
		"title": "### 🧪 Окружение", "slot": "Слот", "staging": "staging", "namespace": "Namespace",
		"host": "Хост", "branch": "Ветка", "commit": "Коммит", "links": "Ссылки", "none": "—",
		"note": "_agentline обновляет этот комментарий при каждом запуске._",
	},
}

// ParseLang accepts en and ru ("" is en).
func ParseLang(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "", "en":
		return "en", nil
	case "ru":
		return "ru", nil
	}
	return "", fmt.Errorf("language %q: allowed values are en, ru", s)
}

// EnvironmentComment renders the environment comment body (without the marker).
func EnvironmentComment(env Environment) string {
	lang, err := ParseLang(env.Lang)
	if err != nil {
		lang = "en"
	}
	t := commentText[lang]
	orDash := func(s string) string {
		if strings.TrimSpace(s) == "" {
			return t["none"]
		}
		return s
	}
	code := func(s string) string {
		if s == "" {
			return t["none"]
		}
		return "`" + strings.ReplaceAll(s, "`", "") + "`"
	}
	base := hostURL(env.Host)
	var b strings.Builder
	b.WriteString(t["title"] + "\n\n")
	b.WriteString("| | |\n|---|---|\n")
	slot := t["staging"]
	if env.Slot > 0 {
		slot = fmt.Sprint(env.Slot)
	}
	fmt.Fprintf(&b, "| %s | %s |\n", t["slot"], slot)
	fmt.Fprintf(&b, "| %s | %s |\n", t["namespace"], code(env.Namespace))
	fmt.Fprintf(&b, "| %s | %s |\n", t["host"], orDash(base))
	fmt.Fprintf(&b, "| %s | %s |\n", t["branch"], code(env.Branch))
	fmt.Fprintf(&b, "| %s | %s |\n", t["commit"], code(short(env.Commit)))
	if len(env.Links) > 0 {
		fmt.Fprintf(&b, "\n**%s**\n\n", t["links"])
		for _, l := range env.Links {
			u := l.Path
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				if base == "" {
					continue
				}
				u = base + "/" + strings.TrimPrefix(u, "/")
			}
			title := strings.TrimSpace(l.Title)
			if title == "" {
				title = u
			}
			fmt.Fprintf(&b, "- [%s](%s)\n", strings.NewReplacer("[", "", "]", "").Replace(title), u)
		}
	}
	b.WriteString("\n" + t["note"] + "\n")
	return b.String()
}

func hostURL(h string) string {
	h = strings.TrimRight(strings.TrimSpace(h), "/")
	if h == "" || strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "http://") {
		return h
	}
	return "https://" + h
}

// CommentTargets are the issue and pull request that carry the environment comment.
type CommentTargets struct {
	Issue int
	PR    int
	// Branch finds the open pull request when PR is 0.
	Branch string
}

// Comment creates or updates, in place, the environment comment on the issue and on the pull
// request; it returns the numbers it commented on.
func Comment(ctx context.Context, gh *github.Client, repo github.Repo, to CommentTargets, env Environment) ([]int, error) {
	if gh == nil {
		return nil, errors.New("comment: no GitHub client")
	}
	if _, err := ParseLang(env.Lang); err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	if to.PR == 0 && to.Branch != "" {
		pr, err := gh.FindPullRequestForBranch(ctx, repo, to.Branch, "open")
		if err != nil {
			return nil, fmt.Errorf("comment: %w", err)
		}
		if pr != nil {
			to.PR = pr.Number
		}
	}
	var targets []int
	for _, n := range []int{to.Issue, to.PR} {
		if n > 0 && (len(targets) == 0 || targets[0] != n) {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("comment: no issue or pull request to comment on (--issue, --pr)")
	}
	body := EnvironmentComment(env)
	for _, n := range targets {
		if _, err := gh.UpsertMarkedComment(ctx, repo, n, EnvironmentMarker, body); err != nil {
			return nil, fmt.Errorf("comment: %w", err)
		}
	}
	return targets, nil
}
