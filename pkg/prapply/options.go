// Package prapply owns everything git and pull-request related for an agent run, so the agent
// only edits code: check out the work branch into the workspace, commit and push what the agent
// changed, find or open the draft pull request, keep the environment comment up to date, and
// clean up agent branches after the pull request is closed.
//
// Git runs through the git CLI (argv arrays, a clean environment without user or system config).
// The token is read from a file by an askpass helper that lives outside the workspace; it never
// reaches argv, .git/config, the remote URL or any file under the workspace.
package prapply

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agentline/agentline/pkg/github"
)

// Kind is the kind of run.
type Kind string

// The kinds of run: an issue run works on <prefix>issue-N, a repair run on <prefix>ai-repair-N,
// a review run on the head branch of the pull request; a staging run (staging-deploy) checks out
// the base branch, at --sha when given, and never pushes.
const (
	KindIssue   Kind = "issue"
	KindReview  Kind = "review"
	KindRepair  Kind = "repair"
	KindStaging Kind = "staging"
)

// ParseKind parses issue, review, repair or staging.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case KindIssue, KindReview, KindRepair, KindStaging:
		return k, nil
	}
	return "", fmt.Errorf("kind %q: allowed values are issue, review, repair, staging", s)
}

// DefaultBranchPrefix is the prefix of the branches the agent owns.
const DefaultBranchPrefix = "codex/"

// StagingDir is the workspace folder of runs without a slot (staging and repair).
const StagingDir = "ai-staging"

// Identity is the git author and committer.
type Identity struct {
	Name  string
	Email string
}

// DefaultIdentity is used when no identity is configured.
var DefaultIdentity = Identity{Name: "agentline", Email: "agentline@users.noreply.github.com"}

// Options configures one pr-apply step.
type Options struct {
	// Repo is the repository.
	Repo github.Repo
	// Kind of run (default issue).
	Kind Kind
	// Issue is the issue number (issue and repair runs; optional for review runs).
	Issue int
	// PR is the pull request number (review runs; optional otherwise).
	PR int
	// Base is the base branch (default: the pull request's base for review runs, else main).
	Base string
	// SHA is the commit a staging run checks out (detached); empty means the base branch's tip.
	SHA string
	// Workspace is the git work tree. Empty: WorkspacePath(CodeRoot, Slot).
	Workspace string
	// CodeRoot is <codeRootBase>, the folder of all work trees on the workspace volume.
	CodeRoot string
	// Slot is the slot number; 0 means staging.
	Slot int
	// CloneURL is the https URL of the repository, without credentials.
	CloneURL string
	// TokenFile holds the GitHub token (a mounted Secret).
	TokenFile string
	// BranchPrefix is the prefix of agent branches (default DefaultBranchPrefix).
	BranchPrefix string
	// Identity is the git author and committer (default DefaultIdentity).
	Identity Identity
	// Sender is the user who triggered the run; asked to review a new pull request.
	Sender string
	// Summary is the agent's summary: the commit message and the pull request body.
	Summary string
	// GitHub is the API client (review runs, push, comment and cleanup need it).
	GitHub *github.Client
	// Git is the git executable (default "git").
	Git string
	// Environ is the caller's environment; only PATH, proxy and CA variables reach git.
	Environ []string
	// Log receives progress messages (default io.Discard).
	Log io.Writer
}

func (o *Options) defaults() {
	if o.Kind == "" {
		o.Kind = KindIssue
	}
	if o.BranchPrefix == "" {
		o.BranchPrefix = DefaultBranchPrefix
	}
	if o.Identity.Name == "" {
		o.Identity.Name = DefaultIdentity.Name
	}
	if o.Identity.Email == "" {
		o.Identity.Email = DefaultIdentity.Email
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Workspace == "" && o.CodeRoot != "" {
		o.Workspace = WorkspacePath(o.CodeRoot, o.Slot)
	}
}

func (o *Options) logf(format string, args ...any) {
	fmt.Fprintf(o.Log, "pr-apply: "+format+"\n", args...)
}

// validate checks what every git step needs.
func (o *Options) validateGit() error {
	var errs []error
	if o.Repo.Owner == "" {
		errs = append(errs, errors.New("no repository (--repo owner/name)"))
	}
	if o.Workspace == "" {
		errs = append(errs, errors.New("no workspace (--workspace, or --code-root with --slot)"))
	}
	if o.CloneURL == "" {
		errs = append(errs, errors.New("no clone URL (--clone-url or --github-url)"))
	} else if err := CheckCloneURL(o.CloneURL); err != nil {
		errs = append(errs, err)
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("no token file (--token-file)"))
	}
	switch o.Kind {
	case KindIssue, KindRepair:
		if o.Issue <= 0 {
			errs = append(errs, fmt.Errorf("a %s run needs --issue", o.Kind))
		}
	case KindReview:
		if o.PR <= 0 {
			errs = append(errs, errors.New("a review run needs --pr"))
		}
	case KindStaging:
		if o.SHA != "" && !validSHA(o.SHA) {
			errs = append(errs, fmt.Errorf("--sha %q is not a commit id", o.SHA))
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q: allowed values are issue, review, repair, staging", o.Kind))
	}
	if o.Base != "" && !validBranch(o.Base) {
		errs = append(errs, fmt.Errorf("base branch %q is not a valid branch name", o.Base))
	}
	return errors.Join(errs...)
}

// WorkspacePath is the work tree of a slot (<codeRoot>/<slot>/src) or, for slot 0, of staging
// (<codeRoot>/ai-staging/src).
func WorkspacePath(codeRoot string, slot int) string {
	if slot > 0 {
		return filepath.Join(codeRoot, strconv.Itoa(slot), "src")
	}
	return filepath.Join(codeRoot, StagingDir, "src")
}

// IssueBranch is the branch of an issue run (<prefix>issue-N) or a repair run
// (<prefix>ai-repair-N); "" for review runs, whose branch is the pull request's head.
func IssueBranch(prefix string, kind Kind, issue int) string {
	if prefix == "" {
		prefix = DefaultBranchPrefix
	}
	switch kind {
	case KindIssue:
		return fmt.Sprintf("%sissue-%d", prefix, issue)
	case KindRepair:
		return fmt.Sprintf("%sai-repair-%d", prefix, issue)
	}
	return ""
}

// CloneURLFor derives the https clone URL of repo from the REST API base: github.com for an
// empty or api.github.com base, else the Enterprise host (the base without /api/v3).
func CloneURLFor(apiBase string, repo github.Repo) (string, error) {
	apiBase = strings.TrimSpace(apiBase)
	if apiBase == "" || strings.TrimSuffix(apiBase, "/")+"/" == github.DefaultBaseURL {
		return "https://github.com/" + repo.String() + ".git", nil
	}
	u, err := url.Parse(apiBase)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("github URL %q is not an absolute URL", apiBase)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return strings.TrimSuffix(u.String(), "/") + "/" + repo.String() + ".git", nil
}

// CheckCloneURL refuses URLs that carry credentials or are not http(s).
func CheckCloneURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("clone URL %q is not an absolute URL", s)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("clone URL %s: only https (or http) is supported", u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("clone URL %s must not contain credentials: the token comes from --token-file", u.Redacted())
	}
	return nil
}

// validBranch is a conservative check of a branch name given on the command line.
func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, ".") || strings.Contains(b, "..") ||
		strings.Contains(b, "//") || strings.Contains(b, "@{") || strings.HasPrefix(b, "refs/") {
		return false
	}
	for _, r := range b {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) {
			return false
		}
	}
	return true
}

// validSHA reports whether s is a full or abbreviated hexadecimal commit id.
func validSHA(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
